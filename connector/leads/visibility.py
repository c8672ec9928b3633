"""Who sees which prospects: the one place that decides it (listings, inbox actions, the API).

A partner user sees a prospect while an active grant (RecordAssignment) names them, a group their
account belongs to, or their account. A parent account's users also see what its children's
accounts, users and groups see, all the way down. An inactive or unapproved user, or a user of an
inactive account, sees nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from connector.store.assignments import RecordAssignment
from connector.store.partners import PartnerAccount, PartnerGroupMember, PartnerUser
from connector.store.records import Prospect

PROSPECT = "prospect"


@dataclass(frozen=True)
class Scope:
    """The assignees whose grants a user sees through."""

    user_ids: frozenset[int]
    account_ids: frozenset[int]
    group_ids: frozenset[int]


def scope_of(session: Session, user_id: int) -> Scope | None:
    """The user's scope; None when the user may see nothing at all."""
    user = session.get(PartnerUser, user_id)
    if user is None or not (user.active and user.approved) or not user.account.active:
        return None
    accounts = {user.account_id}
    frontier = {user.account_id}
    while frontier:
        frontier = set(session.scalars(select(PartnerAccount.id).where(PartnerAccount.parent_id.in_(frontier)))) - accounts
        accounts |= frontier
    children = accounts - {user.account_id}
    users = {user.id} | set(session.scalars(select(PartnerUser.id).where(PartnerUser.account_id.in_(children))))
    groups = set(session.scalars(select(PartnerGroupMember.group_id).where(PartnerGroupMember.account_id.in_(accounts))))
    return Scope(frozenset(users), frozenset(accounts), frozenset(groups))


def grants_clause(scope: Scope | None) -> ColumnElement[bool]:
    """The active grants a scope sees through."""
    if scope is None:
        return false()
    return and_(RecordAssignment.revoked_at.is_(None), or_(
        and_(RecordAssignment.assignee_type == "user", RecordAssignment.assignee_id.in_(scope.user_ids)),
        and_(RecordAssignment.assignee_type == "account", RecordAssignment.assignee_id.in_(scope.account_ids)),
        and_(RecordAssignment.assignee_type == "group", RecordAssignment.assignee_id.in_(scope.group_ids)),
    ))


def visible_prospects(session: Session, user_id: int) -> Select[Prospect]:
    """The prospects this user sees (not archived), newest first; add filters to the query as needed."""
    seen = select(RecordAssignment.record_id).where(RecordAssignment.record_module == PROSPECT,
                                                    grants_clause(scope_of(session, user_id)))
    return (select(Prospect).where(Prospect.id.in_(seen), Prospect.archived_at.is_(None))
            .order_by(Prospect.id.desc()))


def access_of(session: Session, user_id: int, prospect_id: int) -> str | None:
    """The user's access to one prospect: "Read-Write" if any grant they see it through gives it,
    else "Read-Only"; None when they do not see it."""
    types = set(session.scalars(
        select(RecordAssignment.access_type).join(Prospect, Prospect.id == RecordAssignment.record_id)
        .where(RecordAssignment.record_module == PROSPECT, RecordAssignment.record_id == prospect_id,
               Prospect.archived_at.is_(None), grants_clause(scope_of(session, user_id)))))
    if not types:
        return None
    return "Read-Write" if "Read-Write" in types else "Read-Only"
