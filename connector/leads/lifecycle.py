"""A lead's distribution states and statuses, how its status changes (always with history), and
the outcome every distribution action returns.

`distribution_state` says where the lead is in distribution; `status` is what the portal shows
(and what the CRM syncs). The holder is `partner_account_id` (plus `assigned_user_id` for a rep).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connector.store.assignments import LeadStatusHistory
from connector.store.records import Prospect

NEW = "new"  # not distributed yet
ASSIGNED = "assigned"  # given to a partner (or a group), waiting for acceptance
ACCEPTED = "accepted"  # the partner took it (accepted, auto-accepted or claimed)
POOL = "pool"  # published in a shark tank until pool_until: the first claim wins
OPEN = "open"  # in the open pool: no rule placed it, nobody holds it
MANUAL_REVIEW = "manual_review"  # a person must decide (no partner left, or configured fallback)
CONVERTED = "converted"  # became a contact

DISTRIBUTABLE = (NEW, OPEN, MANUAL_REVIEW)
HELD = (ASSIGNED, ACCEPTED)

STATUS_OPEN = "Open"
STATUS_ASSIGNED = "Assigned"
STATUS_ACCEPTED = "Accepted"
STATUS_REJECTED = "Rejected"
STATUS_MANUAL_REVIEW = "Manual Review"
STATUS_CONVERTED = "Converted"
WORK_STATUSES = ("Contacted", "Interested", "Nurturing", "Qualified", "Unqualified", "Not Interested")
"""The statuses a holder may set while working a lead (the others belong to distribution)."""


@dataclass(frozen=True)
class Outcome:
    """Where a lead stands after an action: its state, holder and why."""

    prospect_id: int
    state: str
    status: str
    account_id: int | None
    user_id: int | None
    group_id: int | None
    rule: str | None
    reason: str

    @classmethod
    def of(cls, prospect: Prospect, reason: str, *, group_id: int | None = None, rule: str | None = None) -> Outcome:
        return cls(prospect.id, prospect.distribution_state, prospect.status, prospect.partner_account_id,
                   prospect.assigned_user_id, group_id, rule, reason)


def change_status(session: Session, prospect: Prospect, status: str, *, actor: str, reason: str | None,
                  now: datetime) -> LeadStatusHistory:
    """Set the status and record the change in LeadStatusHistory (the same status twice is kept as one
    entry per action, so the history shows e.g. a re-assignment). Returns the entry. For a stored
    prospect the row is inserted at once (Core, in the session's transaction: its id is known
    without a flush) and the entry returned is a transient copy of it, in no session; a pending
    prospect's entry is added to the session and flushed with it."""
    values = {"prospect_id": prospect.id, "previous_status": prospect.status, "status": status, "actor": actor,
              "reason": reason[:500] if reason else None, "at": now}
    prospect.status = status
    if prospect.id is None:
        entry = LeadStatusHistory(**values)
        session.add(entry)
        return entry
    inserted = session.connection().execute(_INSERT_HISTORY, values)
    return LeadStatusHistory(id=inserted.inserted_primary_key[0], **values)


_INSERT_HISTORY = insert(LeadStatusHistory)
"""Built once (its cache key with it): every distributed lead writes one entry."""
