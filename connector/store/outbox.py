"""The outbox: local changes waiting to be sent to a CRM, written with the change itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, utcnow


class OutboxEntry(Base):
    """One record to upsert (or delete) in one connection's CRM.

    `status`: pending -> sent | skipped (nothing changed on the mapped fields) | failed (see
    failed_records). Rows for the same record coalesce: the relay reads the record as it is now.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "connection", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    operation: Mapped[str] = mapped_column(String(10), default="upsert")  # upsert | delete
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
