"""Queue notification emails in the caller's transaction (delivery is the notification job's)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.bulk import insert_columns
from connector.store.notifications import Notification

KINDS = ("assignment", "reminder", "pullback", "claim_won", "status_change", "rejection", "manual_review", "high_score")


def queue(
    session: Session, *, kind: str, recipients: Iterable[str], subject: str, body: str, event_key: str,
    now: datetime, record_module: str | None = None, record_id: int | None = None, new_event: bool = False,
) -> int:
    """Add one pending email per recipient, once per (event_key, recipient): queuing the same event
    again adds nothing. `new_event`: the event was created in this very transaction, so nothing can
    be queued for it yet and the lookup is skipped (the unique key still refuses a double). Returns
    how many were added. Written at the driver level in one statement (`insert_columns`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind '{kind}' (known: {', '.join(KINDS)})")
    keys = {recipient: f"{kind}:{event_key}:{recipient}"[:300]
            for recipient in dict.fromkeys(r.strip().lower() for r in recipients if r and r.strip())}
    if not keys:
        return 0
    queued = set() if new_event else set(session.scalars(
        select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys.values()))))
    fresh = [(recipient, key) for recipient, key in keys.items() if key not in queued]
    batch = uuid.uuid4().hex  # one random part for the batch: unique with each message's number
    insert_columns(session.connection(), Notification.__table__, len(fresh),
                   {"recipient": [recipient for recipient, _ in fresh], "dedupe_key": [key for _, key in fresh],
                    "message_id": [f"<{batch}.{n}@upm-connector>" for n in range(len(fresh))]},
                   {"kind": kind, "subject": subject, "body": body, "record_module": record_module,
                    "record_id": record_id, "next_attempt_at": now, "created_at": now})
    return len(fresh)
