"""The assignment action: who may see a lead (RecordAssignment), who holds it, the history of both
and the email that tells the partner - all in the caller's transaction.

A partner account is the holder; a named rep (user) gets their own grant too. A partner with
auto-accept takes the lead at once (ZiftONE), and its default notification recipients are told
either way. Giving a lead back (reject, pullback, expiry) revokes every grant and remembers the
holder, so redistribution passes it by.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connector.leads import directory, lifecycle, notify
from connector.store.assignments import AssignmentHistory, LeadStatusHistory, RecordAssignment
from connector.store.bulk import insert_columns
from connector.store.partners import PartnerGroup
from connector.store.records import Prospect

MODULE = "prospect"


def active_grants(session: Session, record_id: int, module: str = MODULE) -> list[RecordAssignment]:
    """Who sees the record now, oldest grant first."""
    return list(session.scalars(_ACTIVE_GRANTS, {"module": module, "record_id": record_id}))


def _active_assignees(session: Session, record_id: int, module: str) -> set[tuple[str, int]]:
    """The (assignee type, assignee id) of the record's active grants, read by Core: no ORM objects
    and no autoflush (the session's own pending grant changes are flushed first, so they count)."""
    if any(isinstance(o, RecordAssignment) for o in (*session.new, *session.dirty, *session.deleted)):
        session.flush()
    rows = session.connection().execute(_ACTIVE_ASSIGNEES, {"module": module, "record_id": record_id})
    return {(t, i) for t, i in rows}


_ACTIVE_GRANTS = (select(RecordAssignment)
                  .where(RecordAssignment.record_module == bindparam("module"),
                         RecordAssignment.record_id == bindparam("record_id"),
                         RecordAssignment.revoked_at.is_(None))
                  .order_by(RecordAssignment.id))
"""Built once: a statement object keeps its cache key, so each lead's query skips SQLAlchemy's
statement construction and keying."""

_ACTIVE_ASSIGNEES = (select(RecordAssignment.assignee_type, RecordAssignment.assignee_id)
                     .where(RecordAssignment.record_module == bindparam("module"),
                            RecordAssignment.record_id == bindparam("record_id"),
                            RecordAssignment.revoked_at.is_(None)))


def grant(session: Session, record_id: int, assignees: Iterable[tuple[str, int]], access_type: str, *, actor: str,
          reason: str, now: datetime, action: str = "assigned", module: str = MODULE,
          offered_until: datetime | None = None) -> None:
    """Give each (assignee type, assignee id) visibility, recorded in the assignment history under
    `action`; an active grant of the same assignee is updated, not doubled (an offer it was becomes
    a plain grant, unless `offered_until` makes these grants shark-tank offers). New rows go in as
    one driver-level insert per table (`insert_columns`: a shark tank offers a lead to dozens of
    partners at once). The active grants are read by Core; only when an assignee already holds one
    are they loaded as objects, to update it."""
    everyone = list(dict.fromkeys(assignees))
    fresh = everyone
    if _active_assignees(session, record_id, module) & set(everyone):
        current = {(g.assignee_type, g.assignee_id): g for g in active_grants(session, record_id, module)}
        fresh = []
        for assignee in everyone:
            held = current.get(assignee)
            if held is not None:
                held.access_type, held.offered_until = access_type, offered_until
            else:
                fresh.append(assignee)
    shared = {"record_module": module, "record_id": record_id, "access_type": access_type, "reason": reason[:500]}
    connection = session.connection()
    insert_columns(connection, RecordAssignment.__table__, len(fresh),
                   {"assignee_type": [t for t, _ in fresh], "assignee_id": [i for _, i in fresh]},
                   {**shared, "assigned_at": now, "assigned_by": actor, "offered_until": offered_until})
    insert_columns(connection, AssignmentHistory.__table__, len(everyone),
                   {"assignee_type": [t for t, _ in everyone], "assignee_id": [i for _, i in everyone]},
                   {**shared, "action": action, "actor": actor, "at": now})


def revoke(session: Session, assignment: RecordAssignment, *, actor: str, reason: str, now: datetime,
           action: str = "revoked") -> None:
    """End one grant, recorded in the assignment history under `action`."""
    assignment.revoked_at = now
    session.add(AssignmentHistory(record_module=assignment.record_module, record_id=assignment.record_id, action=action,
                                  assignee_type=assignment.assignee_type, assignee_id=assignment.assignee_id,
                                  access_type=assignment.access_type, actor=actor, reason=reason[:500], at=now))


QUIET = "leads.quiet"
"""session.info key: this transaction's assignment sends no email."""


def lead_label(prospect: Prospect) -> str:
    name = " ".join(p for p in (prospect.first_name, prospect.last_name) if p) or prospect.email or f"#{prospect.id}"
    return f"{name} ({prospect.company_name})" if prospect.company_name else name


def tell(session: Session, prospect: Prospect, kind: str, to: list[str], subject: str, body: str,
         event: AssignmentHistory | LeadStatusHistory, now: datetime) -> None:
    """Queue an email about this lead; the history entry it announces, written in this transaction,
    makes the event unique and new. Nothing is queued in a transaction marked `quiet` (a person
    placing a lead chose not to notify the partner)."""
    if session.info.get(QUIET):
        return
    if event.id is None:  # an entry still pending in the session (a status entry has its id at once)
        session.flush()
    key = f"prospect-{prospect.id}-{event.__tablename__}-{event.id}"
    notify.queue(session, kind=kind, recipients=to, subject=subject, body=body, event_key=key, now=now,
                 record_module=MODULE, record_id=prospect.id, new_event=True)


def give(session: Session, prospect: Prospect, *, account_id: int, user_id: int | None, access_type: str, actor: str,
         reason: str, now: datetime, rule_id: int | None = None, action: str = "assigned") -> None:
    """Make a partner (and its rep) the lead's holder: state, status history, grants, auto-accept and
    the assignment email (a claim is accepted by the claiming itself)."""
    found = directory.of(session)
    account = found.partners.get(account_id)
    accepted = action == "claimed" or (account is not None and account.auto_accept)
    prospect.partner_account_id, prospect.assigned_user_id = account_id, user_id
    prospect.assigned_at, prospect.accepted_at, prospect.pool_until = now, now if accepted else None, None
    prospect.assignment_rule_id = rule_id
    prospect.distribution_state = lifecycle.ACCEPTED if accepted else lifecycle.ASSIGNED
    if accepted:
        entry = lifecycle.change_status(session, prospect, lifecycle.STATUS_ACCEPTED, actor=actor, now=now,
                                        reason=f"{'claimed' if action == 'claimed' else 'auto-accepted'}: {reason}")
    else:
        entry = lifecycle.change_status(session, prospect, lifecycle.STATUS_ASSIGNED, actor=actor, reason=reason,
                                        now=now)
    assignees = [("account", account_id), *([("user", user_id)] if user_id is not None else [])]
    grant(session, prospect.id, assignees, access_type, actor=actor, reason=reason, now=now, action=action)
    kind = "claim_won" if action == "claimed" else "assignment"
    verb = "is yours" if action == "claimed" else "was assigned and auto-accepted" if accepted else "was assigned to you"
    tell(session, prospect, kind, found.recipients(account_id, user_id), f"Lead {verb}: {lead_label(prospect)}",
         f"The lead {lead_label(prospect)} {verb} ({reason}).", entry, now)


def give_to_group(session: Session, prospect: Prospect, group: PartnerGroup, *, access_type: str, actor: str,
                  reason: str, now: datetime, rule_id: int | None = None) -> None:
    """Assign a lead to a whole group: its members' users see it; the first to accept holds it."""
    grant(session, prospect.id, [("group", group.id)], access_type, actor=actor, reason=reason, now=now)
    prospect.partner_account_id, prospect.assigned_user_id = None, None
    prospect.assigned_at, prospect.accepted_at, prospect.pool_until = now, None, None
    prospect.assignment_rule_id = rule_id
    prospect.distribution_state = lifecycle.ASSIGNED
    entry = lifecycle.change_status(session, prospect, lifecycle.STATUS_ASSIGNED, actor=actor, reason=reason, now=now)
    found = directory.of(session)
    to = [r for m in found.members.get(group.id, ()) for r in found.recipients(m.account_id, m.user_id)]
    tell(session, prospect, "assignment", to, f"Lead assigned to {group.name}: {lead_label(prospect)}",
         f"The lead {lead_label(prospect)} was assigned to the group {group.name} ({reason}).", entry, now)


def release(session: Session, prospect: Prospect, *, action: str, actor: str, reason: str, now: datetime,
            remember: bool = True) -> int | None:
    """Revoke every grant on the lead and clear its holder, remembered among the previous holders
    unless `remember` is false. Returns the holder account it had."""
    for assignment in active_grants(session, prospect.id):
        revoke(session, assignment, actor=actor, reason=reason, now=now, action=action)
    holder = prospect.partner_account_id
    if remember and holder is not None and holder not in prospect.previous_holder_ids:
        prospect.previous_holder_ids = [*prospect.previous_holder_ids, holder]
    prospect.partner_account_id, prospect.assigned_user_id = None, None
    prospect.assigned_at, prospect.accepted_at, prospect.pool_until = None, None, None
    return holder
