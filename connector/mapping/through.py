"""Fields read through a relation: `contact.email` is the email of the record that the module's
`contact_id` points at (the foreign key names the related module). Such fields are read-only:
their values are looked up when a record is pushed and never written back to UPM."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.modules import MODULES, Module


@dataclass(frozen=True)
class Through:
    """One dotted field: the link column on this module, the related module, its field."""

    name: str
    column: str
    target: Module
    field: str


def through(module: Module, name: str) -> Through:
    """The Through for `name` ("contact.email") on `module`; ValueError says what is wrong."""
    link, _, field = name.partition(".")
    column = module.model.__table__.columns.get(f"{link}_id")
    keys = list(column.foreign_keys) if column is not None else []
    if not keys:
        raise ValueError(f"'{link}' is not a relation of {module.key} (no {link}_id pointing at another module)")
    table = keys[0].column.table.name
    target = next((m for m in MODULES.values() if m.model.__tablename__ == table), None)
    if target is None or field not in target.model.__table__.columns:
        known = f"{target.key} has no field '{field}'" if target else f"{link}_id points at {table}, not a UPM module"
        raise ValueError(known)
    return Through(name, f"{link}_id", target, field)


def read_through(session: Session, fields: Iterable[Through], records: Iterable[Any]) -> dict[int, dict[str, Any]]:
    """Per record id, the values of `fields` read from the related records (None when unlinked)."""
    records = list(records)
    values: dict[int, dict[str, Any]] = {r.id: {} for r in records}
    by_link: dict[tuple[str, type], list[Through]] = {}
    for f in fields:
        by_link.setdefault((f.column, f.target.model), []).append(f)
    for (column, model), group in by_link.items():
        ids = {getattr(r, column) for r in records} - {None}
        related = {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}
        for record in records:
            row = related.get(getattr(record, column))
            for f in group:
                values[record.id][f.name] = None if row is None else getattr(row, f.field)
    return values
