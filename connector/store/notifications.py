"""The notification outbox: emails written in the same transaction as the action they announce,
delivered later by the notification job over SMTP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, utcnow


class Notification(Base):
    """One email to one recipient. `dedupe_key` is unique: the same event never queues twice.

    `status`: pending -> sent | failed (gave up after the retry limit). `message_id` is fixed when
    queued, so a re-delivery after a crash carries the same Message-ID and can be de-duplicated."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # assignment, reminder, pullback, claim_won, status_change, ...
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    record_module: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[int | None]
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
