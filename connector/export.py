"""`upm-connector export`: a module's records as CSV, XLSX or JSON Lines, every field included.

Besides the table's own columns, each CRM-synced record gets the ids that link it outward:
`crm_id` (its id in each connected CRM, `;`-separated by connection name), `crm_bindings`
(`connection/object/id`), and its active `assignees` (`user:3;group:2`) with their `access_types`.
Rows stream in id order in chunks, so memory stays flat whatever the table's size.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.store import MODULES
from connector.store.assignments import RecordAssignment
from connector.store.bindings import Binding
from connector.store.database import Database
from connector.store.modules import Module

FORMATS = ("csv", "xlsx", "jsonl")
LINK_COLUMNS = ("crm_id", "crm_bindings", "assignees", "access_types")
HIDDEN_COLUMNS = {"partner-users": {"api_key_hash"}}
"""Never exported: credentials, even hashed."""
CHUNK = 1000

RowProgress = Callable[[int, "int | None"], None]
"""Told of the rows written so far (per chunk) and the module's total."""


class ExportError(ValueError):
    """The export request cannot be met (unknown module, column or format)."""


def columns_for(module: Module) -> list[str]:
    hidden = HIDDEN_COLUMNS.get(module.name, set())
    own = [c.name for c in module.model.__table__.columns if c.name not in hidden]
    return own + list(LINK_COLUMNS) if module.crm_synced else own


def _select_columns(module: Module, requested: Sequence[str] | None) -> list[str]:
    available = columns_for(module)
    if not requested:
        return available
    unknown = [c for c in requested if c not in available]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, available, n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ExportError(f"unknown column(s) for {module.name}: {', '.join(hints)}; available: {', '.join(available)}")
    return list(requested)


def iter_rows(session: Session, module: Module, columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Rows as dicts of Python values, in id order."""
    model = module.model
    pk = model.__table__.primary_key.columns.values()[0]
    last: Any = None
    while True:
        query = select(model).order_by(pk).limit(CHUNK)
        if last is not None:
            query = query.where(pk > last)
        records = session.scalars(query).all()
        if not records:
            return
        links = _links(session, module, [r.id for r in records]) if module.crm_synced else {}
        for record in records:
            row = {c.name: getattr(record, c.key) for c in model.__table__.columns}
            row.update(links.get(record.id, dict.fromkeys(LINK_COLUMNS, "")))
            yield {name: row[name] for name in columns}
        last = getattr(records[-1], pk.key)
        session.expunge_all()


def _links(session: Session, module: Module, ids: list[int]) -> dict[int, dict[str, str]]:
    bindings: dict[int, list[Binding]] = defaultdict(list)
    for b in session.scalars(
        select(Binding).where(Binding.module == module.key, Binding.record_id.in_(ids)).order_by(Binding.connection)
    ):
        bindings[b.record_id].append(b)
    assignments: dict[int, list[RecordAssignment]] = defaultdict(list)
    for a in session.scalars(
        select(RecordAssignment)
        .where(
            RecordAssignment.record_module == module.key,
            RecordAssignment.record_id.in_(ids),
            RecordAssignment.revoked_at.is_(None),
        )
        .order_by(RecordAssignment.id)
    ):
        assignments[a.record_id].append(a)
    return {
        record_id: {
            "crm_id": ";".join(b.crm_id for b in bindings[record_id]),
            "crm_bindings": ";".join(f"{b.connection}/{b.crm_object}/{b.crm_id}" for b in bindings[record_id]),
            "assignees": ";".join(f"{a.assignee_type}:{a.assignee_id}" for a in assignments[record_id]),
            "access_types": ";".join(a.access_type for a in assignments[record_id]),
        }
        for record_id in ids
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _excel_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones: the value is UTC
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def export_module(
    db: Database, module_name: str, fmt: str, out: IO[str] | Path, columns: Sequence[str] | None = None,
    progress: RowProgress | None = None,
) -> int:
    """Write a module's records to `out` (a text stream, or a path for xlsx). Returns the row count.
    `progress`: told of the rows written, chunk by chunk, and the table's row count."""
    if module_name not in MODULES:
        close = difflib.get_close_matches(module_name, list(MODULES), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ExportError(f"unknown module '{module_name}'{hint} (modules: {' '.join(MODULES)})")
    if fmt not in FORMATS:
        raise ExportError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
    module = MODULES[module_name]
    chosen = _select_columns(module, columns)
    count = 0
    with db.session() as session:
        rows = iter_rows(session, module, chosen)
        if progress is not None:
            rows = _reported(rows, progress, session.scalar(select(func.count()).select_from(module.model)) or 0)
        if fmt == "csv":
            assert not isinstance(out, Path)
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(chosen)
            for row in rows:
                writer.writerow([_text(row[c]) for c in chosen])
                count += 1
        elif fmt == "jsonl":
            assert not isinstance(out, Path)
            for row in rows:
                out.write(json.dumps({c: _json_value(row[c]) for c in chosen}) + "\n")
                count += 1
        else:
            count = _write_xlsx(module.name, chosen, rows, out)
    return count


def _reported(rows: Iterator[dict[str, Any]], progress: RowProgress, total: int) -> Iterator[dict[str, Any]]:
    """`rows`, telling `progress` after every CHUNK rows and at the end."""
    progress(0, total)
    since = 0
    for row in rows:
        yield row
        since += 1
        if since == CHUNK:
            progress(since, total)
            since = 0
    if since:
        progress(since, total)


def _write_xlsx(title: str, columns: list[str], rows: Iterator[dict[str, Any]], out: IO[str] | Path) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if not isinstance(out, Path):
        raise ExportError("xlsx is a binary format: give --out FILE.xlsx")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    header = []
    for name in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        sheet.append([_excel_value(row[c]) for c in columns])
        count += 1
    workbook.save(out)
    return count
