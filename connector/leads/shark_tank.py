"""The shark tank: publish a lead to a pool of eligible partners for a window; the first claim wins.

Publishing gives each pool partner a Read-Only grant marked as an offer (`offered_until`: they
see the lead to decide) and sets the lead's state to `pool` until `pool_until`. A claim is ONE
conditional UPDATE of the prospect (`... WHERE id = :id AND distribution_state = 'pool' AND
pool_until > :now AND <offered to the claimant>`): the database lets exactly one claimant change
the row; every other finds rowcount 0 and gets AlreadyClaimed.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from connector.leads import assign, directory, lifecycle
from connector.leads.errors import AlreadyClaimed, InvalidTransition, NotAllowed, NotFound, WindowClosed
from connector.store.assignments import AssignmentHistory, RecordAssignment
from connector.store.partners import PartnerAccount
from connector.store.records import Prospect

OFFER_ACCESS = "Read-Only"


def publish(session: Session, prospect: Prospect, account_ids: Collection[int], *, window: timedelta, actor: str,
            reason: str, now: datetime, rule_id: int | None) -> None:
    """Offer the lead to these partners until now + window, and tell each of them."""
    prospect.partner_account_id, prospect.assigned_user_id = None, None
    prospect.assigned_at, prospect.accepted_at = None, None
    prospect.pool_until = now + window
    prospect.assignment_rule_id = rule_id
    prospect.distribution_state = lifecycle.POOL
    until = f"{prospect.pool_until:%Y-%m-%d %H:%M} UTC"
    entry = lifecycle.change_status(session, prospect, lifecycle.STATUS_OPEN, actor=actor, now=now,
                                    reason=f"shark tank for {len(account_ids)} partner(s) until {until}: {reason}")
    assign.grant(session, prospect.id, [("account", a) for a in account_ids], OFFER_ACCESS, actor=actor, now=now,
                 reason=f"shark tank: {reason}", action="offered", offered_until=prospect.pool_until)
    found = directory.of(session)
    assign.tell(session, prospect, "assignment", [r for a in account_ids for r in found.recipients(a, None)],
                f"New lead to claim: {assign.lead_label(prospect)}",
                f"The lead {assign.lead_label(prospect)} is open to claim until {until}; the first partner to claim it "
                "gets it.", entry, now)


def _offers(prospect_id: int) -> tuple[ColumnElement[bool], ...]:
    """The terms that find a lead's active offers."""
    return (RecordAssignment.record_module == assign.MODULE, RecordAssignment.record_id == prospect_id,
            RecordAssignment.assignee_type == "account", RecordAssignment.revoked_at.is_(None),
            RecordAssignment.offered_until.is_not(None))


def offered_to(session: Session, prospect_id: int) -> set[int]:
    """The partner accounts a pooled lead is offered to (its active offers)."""
    return set(session.scalars(select(RecordAssignment.assignee_id).where(*_offers(prospect_id))))


def was_offered(session: Session, prospect_id: int, account_id: int) -> bool:
    """Whether the lead was ever offered to this partner account in a shark tank (the offer may
    since have been withdrawn because someone else claimed it)."""
    return session.scalar(select(AssignmentHistory.id).where(
        AssignmentHistory.record_module == assign.MODULE, AssignmentHistory.record_id == prospect_id,
        AssignmentHistory.action == "offered", AssignmentHistory.assignee_type == "account",
        AssignmentHistory.assignee_id == account_id).limit(1)) is not None


def take(session: Session, prospect_id: int, account_id: int, user_id: int, now: datetime) -> Prospect:
    """Claim a pooled lead for this partner and user: the one conditional UPDATE that decides (the
    lead still in the pool, the window open, the lead offered to this partner). When it changes no
    row, says why: AlreadyClaimed (someone was first), InvalidTransition (not in a shark tank),
    NotAllowed (not offered to this partner) or WindowClosed. The winner's grants and history are
    the caller's (`award`)."""
    offered = select(RecordAssignment.id).where(*_offers(prospect_id), RecordAssignment.assignee_id == account_id)
    won = session.connection().execute(
        update(Prospect)
        .where(Prospect.id == prospect_id, Prospect.distribution_state == lifecycle.POOL, Prospect.pool_until > now,
               offered.exists())
        .values(distribution_state=lifecycle.ACCEPTED, partner_account_id=account_id, assigned_user_id=user_id)
    ).rowcount == 1
    prospect = session.get(Prospect, prospect_id, populate_existing=True)
    if prospect is None:
        raise NotFound(f"prospect {prospect_id} does not exist")
    if won:
        return prospect
    if prospect.distribution_state in lifecycle.HELD:
        raise AlreadyClaimed(f"lead {prospect_id} is already taken by another partner")
    if prospect.distribution_state != lifecycle.POOL:
        raise InvalidTransition(f"lead {prospect_id} is not in a shark tank (state {prospect.distribution_state})")
    if account_id not in offered_to(session, prospect_id):
        raise NotAllowed(f"lead {prospect_id} is not offered to partner account {account_id}")
    raise WindowClosed(f"the shark-tank window of lead {prospect_id} closed at {prospect.pool_until:%Y-%m-%d %H:%M} UTC")


def award(session: Session, prospect: Prospect, *, access_type: str, actor: str, now: datetime) -> None:
    """After a won claim: withdraw the offers to the others, give the winner its grants and news."""
    winner = prospect.partner_account_id
    assert winner is not None
    name = session.get(PartnerAccount, winner)
    reason = f"claimed by {name.name if name else winner}"
    for assignment in assign.active_grants(session, prospect.id):
        if not (assignment.assignee_type == "account" and assignment.assignee_id == winner):
            assign.revoke(session, assignment, actor=actor, reason=reason, now=now)
    assign.give(session, prospect, account_id=winner, user_id=prospect.assigned_user_id, access_type=access_type,
                actor=actor, reason=reason, now=now, rule_id=prospect.assignment_rule_id, action="claimed")


def due(session: Session, now: datetime) -> list[int]:
    """Pooled leads whose window has passed, oldest first."""
    return list(session.scalars(select(Prospect.id).where(Prospect.distribution_state == lifecycle.POOL,
                                                          Prospect.pool_until <= now).order_by(Prospect.pool_until)))
