"""The conflict log: a field changed on both sides since the last sync, and which value won."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, utcnow


class Conflict(Base):
    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_record", "connection", "module", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    field: Mapped[str] = mapped_column(String(80))
    upm_value: Mapped[Any] = mapped_column(JSON)
    crm_value: Mapped[Any] = mapped_column(JSON)
    upm_modified_at: Mapped[datetime | None]
    crm_modified_at: Mapped[datetime | None]
    winner: Mapped[str] = mapped_column(String(4))  # upm | crm
    at: Mapped[datetime] = mapped_column(default=utcnow)
