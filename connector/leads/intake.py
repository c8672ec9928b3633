"""Intake of leads arriving from a CRM in complete mode: named accounts or the open pool.

A lead whose company is a *named* (protected) account goes straight to the partner that owns the
account, and to its named rep when there is one; every other lead goes to the open pool, where
the shark tank and the assignment rules pick it up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.store.assignments import AssignmentHistory, LeadStatusHistory, RecordAssignment
from connector.store.records import Account, Prospect

OPEN_POOL = "Open"
ASSIGNED = "Assigned"
ACTOR = "crm-sync"


def named_account_for(session: Session, prospect: Prospect) -> Account | None:
    """The named account the lead's company is, matched on the company name (case-insensitive)."""
    if not prospect.company_name:
        return None
    return session.scalars(
        select(Account).where(Account.named.is_(True), Account.archived_at.is_(None),
                              Account.partner_account_id.is_not(None),
                              func.lower(Account.name) == prospect.company_name.strip().lower())
        .order_by(Account.id).limit(1)
    ).first()


def route_new_lead(session: Session, prospect: Prospect, now: datetime, access_type: str = "Read-Write") -> str:
    """Assign a new lead to its named account's partner, or put it in the open pool. Returns the
    status given. The caller's transaction commits it with the lead itself."""
    account = named_account_for(session, prospect)
    previous = prospect.status
    if account is None:
        prospect.status = OPEN_POOL
        reason = "no named account: open pool"
    else:
        assert account.partner_account_id is not None
        prospect.status = ASSIGNED
        prospect.partner_account_id = account.partner_account_id
        targets = [("account", account.partner_account_id)]
        if account.named_rep_id is not None:
            targets.append(("user", account.named_rep_id))
        reason = f"named account {account.name}"
        for assignee_type, assignee_id in targets:
            session.add(RecordAssignment(record_module="prospect", record_id=prospect.id, assignee_type=assignee_type,
                                         assignee_id=assignee_id, access_type=access_type, assigned_at=now,
                                         assigned_by=ACTOR, reason=reason))
            session.add(AssignmentHistory(record_module="prospect", record_id=prospect.id, action="assigned",
                                          assignee_type=assignee_type, assignee_id=assignee_id,
                                          access_type=access_type, actor=ACTOR, reason=reason, at=now))
    session.add(LeadStatusHistory(prospect_id=prospect.id, previous_status=previous, status=prospect.status,
                                  actor=ACTOR, reason=reason, at=now))
    return prospect.status
