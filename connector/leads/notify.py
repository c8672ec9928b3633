"""Queue notification emails in the caller's transaction (delivery is the notification job's)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.notifications import Notification

KINDS = ("assignment", "reminder", "pullback", "claim_won", "status_change", "rejection", "manual_review")


def queue(
    session: Session, *, kind: str, recipients: Iterable[str], subject: str, body: str, event_key: str,
    now: datetime, record_module: str | None = None, record_id: int | None = None,
) -> int:
    """Add one pending email per recipient, once per (event_key, recipient): queuing the same event
    again adds nothing. Returns how many were added."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind '{kind}' (known: {', '.join(KINDS)})")
    added = 0
    for recipient in dict.fromkeys(r.strip().lower() for r in recipients if r and r.strip()):
        key = f"{kind}:{event_key}:{recipient}"[:300]
        if session.scalar(select(Notification.id).where(Notification.dedupe_key == key)) is not None:
            continue
        session.add(Notification(kind=kind, recipient=recipient, subject=subject, body=body, dedupe_key=key,
                                 message_id=f"<{uuid.uuid4().hex}@upm-connector>", record_module=record_module,
                                 record_id=record_id, next_attempt_at=now, created_at=now))
        added += 1
    return added
