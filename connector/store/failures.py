"""Failed records: what a CRM rejected or what could not be mapped, kept with its payload for retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, utcnow


class FailedRecord(Base):
    """One failure. `direction` is `to_crm` (a push the CRM refused) or `to_upm` (a pulled record
    that failed mapping). `status`: open -> retried | discarded | resolved."""

    __tablename__ = "failed_records"
    __table_args__ = (Index("ix_failed_records_open", "connection", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(10))
    module: Mapped[str] = mapped_column(String(40))
    crm_object: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[int | None]
    crm_id: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(120))
    error_code: Mapped[str | None] = mapped_column(String(80))
    error_message: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
