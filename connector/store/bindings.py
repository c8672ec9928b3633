"""Bindings: which CRM record a UPM record is, per connection (the OCA/connector *Binder*'s table).

Every datastore write from a CRM is keyed by (connection, CRM object, CRM id); the sync engine keeps
here what it last exchanged so it can recognise its own writes coming back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Index, String, UniqueConstraint, bindparam, func, update
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, Timestamped, utcnow


class Binding(Timestamped, Base):
    """One UPM record <-> one CRM record over one connection."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("connection", "crm_object", "crm_id", name="crm_record"),
        Index("ix_bindings_local", "connection", "module", "record_id", unique=True),
        Index("ix_bindings_crm", "crm_id", "connection", "module"),  # pages are looked up by crm_id IN (...)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    crm_object: Mapped[str] = mapped_column(String(80))
    crm_id: Mapped[str] = mapped_column(String(64))
    module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    synced_hash: Mapped[str | None] = mapped_column(String(64))
    synced_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The mapped fields' values both sides held after the last sync (UPM form): the base of the
    three-way merge, and how our own writes are recognised when they come back."""
    synced_at: Mapped[datetime | None]
    crm_modified_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    """Not indexed, unlike the other tables' (nothing reads bindings by it, and a sync writes a
    binding for every record it creates or changes)."""


def rebase(connection: Connection, rows: Sequence[tuple[int, dict[str, Any], datetime | None]], now: datetime) -> None:
    """Give bindings that keep their CRM record new echo values, synced `now`: rows of (binding id,
    values, the CRM's stamp or None to keep the stored one), in one executemany UPDATE (Core: no
    unit of work for a batch's bindings). Binding objects loaded in the caller's session keep the
    old values: use it after the last read of them."""
    if rows:
        connection.execute(_REBASE, [{"b_id": i, "b_values": v, "b_modified": m, "b_at": now} for i, v, m in rows])


_table = Binding.__table__
_REBASE = (update(_table).where(_table.c.id == bindparam("b_id"))
           .values(synced_values=bindparam("b_values"), synced_at=bindparam("b_at"),
                   crm_modified_at=func.coalesce(bindparam("b_modified", type_=_table.c.crm_modified_at.type),
                                                 _table.c.crm_modified_at)))
