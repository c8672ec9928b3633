"""Where each sync lane has read up to, per connection and CRM object."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, Timestamped


class SyncCursor(Timestamped, Base):
    """Changes are read strictly after `changes_at`; deletes from `deletes_at`.

    Both move only in the transaction that wrote what they cover, and never past the run's start
    minus the lookback: whatever a CRM committed late (stamped before it became visible) is read
    again by the next run, and idempotent writes make the re-read harmless. `needs_reconcile` is set when the CRM's delete log no longer reaches back
    to `deletes_at` (or refuses `deletes_token` as expired): a full resync must find the deletes it lost.
    """

    __tablename__ = "sync_cursors"

    connection: Mapped[str] = mapped_column(String(80), primary_key=True)
    crm_object: Mapped[str] = mapped_column(String(80), primary_key=True)
    module: Mapped[str] = mapped_column(String(40), primary_key=True)
    changes_at: Mapped[datetime | None]
    deletes_at: Mapped[datetime | None]
    deletes_token: Mapped[str | None] = mapped_column(Text)
    """For an adapter that reads deletes by token (`deletes_by_token`): the CRM's opaque token the
    next delete read starts from, moved in the transaction that applied the deletes it covers."""
    needs_reconcile: Mapped[bool] = mapped_column(default=False)
    deletes_checked_at: Mapped[datetime | None]
    """When the delete log was last read (the lane reads it every `deletes_every_seconds`)."""
    last_run_at: Mapped[datetime | None]
    last_summary: Mapped[str | None] = mapped_column(String(500))
