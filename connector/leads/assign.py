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

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.leads import lifecycle, notify
from connector.store.assignments import AssignmentHistory, LeadStatusHistory, RecordAssignment
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerUser
from connector.store.records import Prospect

MODULE = "prospect"


def active_grants(session: Session, record_id: int, module: str = MODULE) -> list[RecordAssignment]:
    """Who sees the record now, oldest grant first."""
    return list(session.scalars(
        select(RecordAssignment).where(RecordAssignment.record_module == module,
                                       RecordAssignment.record_id == record_id,
                                       RecordAssignment.revoked_at.is_(None))
        .order_by(RecordAssignment.id)))


def grant(session: Session, record_id: int, assignee_type: str, assignee_id: int, access_type: str, *, actor: str,
          reason: str, now: datetime, action: str = "assigned", module: str = MODULE) -> AssignmentHistory:
    """Give one assignee visibility (an active grant of the same assignee is updated, not doubled)."""
    (entry,) = grant_many(session, record_id, assignee_type, [assignee_id], access_type, actor=actor, reason=reason,
                          now=now, action=action, module=module)
    return entry


def grant_many(session: Session, record_id: int, assignee_type: str, assignee_ids: Iterable[int], access_type: str, *,
               actor: str, reason: str, now: datetime, action: str = "assigned",
               module: str = MODULE) -> list[AssignmentHistory]:
    """`grant` for several assignees of one type, looking the current grants up once."""
    current = {g.assignee_id: g for g in active_grants(session, record_id, module) if g.assignee_type == assignee_type}
    entries = []
    for assignee_id in assignee_ids:
        if assignee_id in current:
            current[assignee_id].access_type = access_type
        else:
            session.add(RecordAssignment(record_module=module, record_id=record_id, assignee_type=assignee_type,
                                         assignee_id=assignee_id, access_type=access_type, assigned_at=now,
                                         assigned_by=actor, reason=reason[:500]))
        entries.append(AssignmentHistory(record_module=module, record_id=record_id, action=action,
                                         assignee_type=assignee_type, assignee_id=assignee_id, access_type=access_type,
                                         actor=actor, reason=reason[:500], at=now))
    session.add_all(entries)
    return entries


def revoke(session: Session, assignment: RecordAssignment, *, actor: str, reason: str, now: datetime,
           action: str = "revoked") -> None:
    """End one grant, recorded in the assignment history under `action`."""
    assignment.revoked_at = now
    session.add(AssignmentHistory(record_module=assignment.record_module, record_id=assignment.record_id, action=action,
                                  assignee_type=assignment.assignee_type, assignee_id=assignment.assignee_id,
                                  access_type=assignment.access_type, actor=actor, reason=reason[:500], at=now))


def recipients(session: Session, account_id: int | None, user_id: int | None) -> list[str]:
    """Who hears about a lead given to a partner: its default lead notification recipients and the
    assigned rep; when it has named no recipient and no rep is assigned, its approved active users."""
    found: list[str] = []
    account = session.get(PartnerAccount, account_id) if account_id is not None else None
    if account is not None:
        found += account.notification_recipients
    user = session.get(PartnerUser, user_id) if user_id is not None else None
    if user is not None:
        found.append(user.email)
    if not found and account is not None:
        found += [u.email for u in account.users if u.active and u.approved]
    return found


def lead_label(prospect: Prospect) -> str:
    name = " ".join(p for p in (prospect.first_name, prospect.last_name) if p) or prospect.email or f"#{prospect.id}"
    return f"{name} ({prospect.company_name})" if prospect.company_name else name


def tell(session: Session, prospect: Prospect, kind: str, to: list[str], subject: str, body: str,
         event: AssignmentHistory | LeadStatusHistory, now: datetime) -> None:
    """Queue an email about this lead; the history entry it announces makes the event unique."""
    session.flush()
    key = f"prospect-{prospect.id}-{event.__tablename__}-{event.id}"
    notify.queue(session, kind=kind, recipients=to, subject=subject, body=body, event_key=key, now=now,
                 record_module=MODULE, record_id=prospect.id)


def give(session: Session, prospect: Prospect, *, account_id: int, user_id: int | None, access_type: str, actor: str,
         reason: str, now: datetime, rule_id: int | None = None, action: str = "assigned") -> None:
    """Make a partner (and its rep) the lead's holder: state, status history, grants, auto-accept and
    the assignment email (a claim is accepted by the claiming itself)."""
    account = session.get(PartnerAccount, account_id)
    accepted = action == "claimed" or (account is not None and account.auto_accept)
    prospect.partner_account_id, prospect.assigned_user_id = account_id, user_id
    prospect.assigned_at, prospect.accepted_at, prospect.pool_until = now, now if accepted else None, None
    prospect.assignment_rule_id = rule_id
    prospect.distribution_state = lifecycle.ACCEPTED if accepted else lifecycle.ASSIGNED
    if accepted:
        lifecycle.change_status(session, prospect, lifecycle.STATUS_ACCEPTED, actor=actor, now=now,
                                reason=f"{'claimed' if action == 'claimed' else 'auto-accepted'}: {reason}")
    else:
        lifecycle.change_status(session, prospect, lifecycle.STATUS_ASSIGNED, actor=actor, reason=reason, now=now)
    entry = grant(session, prospect.id, "account", account_id, access_type, actor=actor, reason=reason, now=now,
                  action=action)
    if user_id is not None:
        grant(session, prospect.id, "user", user_id, access_type, actor=actor, reason=reason, now=now, action=action)
    kind = "claim_won" if action == "claimed" else "assignment"
    verb = "is yours" if action == "claimed" else "was assigned and auto-accepted" if accepted else "was assigned to you"
    tell(session, prospect, kind, recipients(session, account_id, user_id), f"Lead {verb}: {lead_label(prospect)}",
         f"The lead {lead_label(prospect)} {verb} ({reason}).", entry, now)


def give_to_group(session: Session, prospect: Prospect, group: PartnerGroup, *, access_type: str, actor: str,
                  reason: str, now: datetime, rule_id: int | None = None) -> None:
    """Assign a lead to a whole group: its members' users see it; the first to accept holds it."""
    entry = grant(session, prospect.id, "group", group.id, access_type, actor=actor, reason=reason, now=now)
    prospect.partner_account_id, prospect.assigned_user_id = None, None
    prospect.assigned_at, prospect.accepted_at, prospect.pool_until = now, None, None
    prospect.assignment_rule_id = rule_id
    prospect.distribution_state = lifecycle.ASSIGNED
    lifecycle.change_status(session, prospect, lifecycle.STATUS_ASSIGNED, actor=actor, reason=reason, now=now)
    to = [r for m in group.members for r in recipients(session, m.account_id, m.user_id)]
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
