"""Who sees which records: the one place that decides it (listings, inbox actions, the APIs).

A partner user sees a prospect while an active grant (RecordAssignment) names them, a group their
account belongs to, or their account (a shark-tank offer is such a grant, to the account). A
parent account's users also see what its children's accounts, users and groups see, all the way
down. An inactive or unapproved user, or a user of an inactive account, sees nothing.

Every other record kind (`record_clause`, `record_access`): a record whose `partner_account_id` is
one of the scope's accounts (the user's own and its children's) is seen Read-Write; an active grant
on it gives what the grant says (Read-Write wins). Notes and tasks are seen with the record they
are attached to, companies with a prospect seen that names them, and campaigns by every partner
user, read-only (they are the vendor's).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, false, or_, select, true, union_all
from sqlalchemy.orm import Session, aliased

from connector.leads.lifecycle import POOL
from connector.store.assignments import RecordAssignment
from connector.store.partners import PartnerAccount, PartnerGroupMember, PartnerUser
from connector.store.records import Campaign, Company, Note, Prospect, Task

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


def _assignees(scope: Scope) -> tuple[tuple[str, frozenset[int]], ...]:
    """(assignee type, ids) for each kind of assignee the scope sees through."""
    return ("user", scope.user_ids), ("account", scope.account_ids), ("group", scope.group_ids)


def grants_clause(scope: Scope | None) -> ColumnElement[bool]:
    """The active grants a scope sees through (for queries by record: offers included)."""
    if scope is None:
        return false()
    return and_(RecordAssignment.revoked_at.is_(None), or_(*(
        and_(RecordAssignment.assignee_type == kind, RecordAssignment.assignee_id.in_(ids))
        for kind, ids in _assignees(scope))))


def visible_prospects(session: Session, user_id: int) -> Select[Prospect]:
    """The prospects this user sees (not archived), newest first; add filters to the query as needed."""
    return (select(Prospect).where(Prospect.id.in_(_granted(scope_of(session, user_id), PROSPECT)),
                                   Prospect.archived_at.is_(None))
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


READ_ONLY, READ_WRITE = "Read-Only", "Read-Write"
ATTACHED = (Note, Task)
"""Kinds seen through the record they are attached to (`record_module`, `record_id`)."""


def _granted(scope: Scope | None, module: str) -> Select[tuple[int]] | CompoundSelect:
    """The ids of the `module` records a scope's active grants name, as a subquery: one SELECT per
    kind of assignee, each through the assignee index, and for prospects the leads in a shark tank
    offered to one of the scope's accounts (offers are not in that index: found through the pooled
    leads, few at any time, and their grants by record)."""
    if scope is None:
        return select(RecordAssignment.record_id).where(false())
    active = (RecordAssignment.record_module == module, RecordAssignment.revoked_at.is_(None))
    parts: list[Select[tuple[int]]] = [
        select(RecordAssignment.record_id).where(*active, RecordAssignment.offered_until.is_(None),
                                                 RecordAssignment.assignee_type == kind,
                                                 RecordAssignment.assignee_id.in_(ids))
        for kind, ids in _assignees(scope) if ids]
    if module == PROSPECT and scope.account_ids:
        pooled = aliased(Prospect, name="pooled")
        offer = select(RecordAssignment.id).where(
            *active, RecordAssignment.record_id == pooled.id, RecordAssignment.offered_until.is_not(None),
            RecordAssignment.assignee_type == "account", RecordAssignment.assignee_id.in_(scope.account_ids))
        parts.append(select(pooled.id).where(pooled.distribution_state == POOL, offer.exists()))
    return union_all(*parts) if len(parts) > 1 else parts[0]  # a scope always holds its user


def record_clause(scope: Scope | None, module: str, model: type, models: dict[str, type] | None = None
                  ) -> ColumnElement[bool]:
    """The rows of `model` (module key `module`) a scope sees, as a WHERE clause. `models` maps the
    module keys notes and tasks may be attached to onto their models (needed for those two)."""
    if scope is None:
        return false()
    if model is Prospect:
        return Prospect.id.in_(_granted(scope, module))
    if model is Campaign:
        return true()
    if model is Company:
        seen = select(Prospect.company_id).where(record_clause(scope, "prospect", Prospect))
        return Company.id.in_(seen)
    if model in ATTACHED:
        parents = [and_(model.record_module == key, model.record_id.in_(
            select(parent.id).where(record_clause(scope, key, parent))))  # type: ignore[attr-defined]
            for key, parent in (models or {}).items() if parent not in ATTACHED]
        return or_(false(), *parents)
    owned = model.partner_account_id.in_(scope.account_ids)  # type: ignore[attr-defined]
    return or_(owned, model.id.in_(_granted(scope, module)))  # type: ignore[attr-defined]


def record_accesses(session: Session, scope: Scope | None, module: str, records: list[object],
                    models: dict[str, type] | None = None) -> list[str | None]:
    """`record_access` for each of a page of records, with one query for the grants of all of them
    (kinds whose access is not their own grants and owner are asked one by one)."""
    if scope is None or not records or isinstance(records[0], (Campaign, Company, *ATTACHED)):
        return [record_access(session, scope, module, r, models) for r in records]
    granted: dict[int, set[str]] = {}
    for record_id, access_type in session.execute(select(RecordAssignment.record_id, RecordAssignment.access_type).where(
            RecordAssignment.record_module == module,
            RecordAssignment.record_id.in_([r.id for r in records]),  # type: ignore[attr-defined]
            grants_clause(scope))):
        granted.setdefault(record_id, set()).add(access_type)
    return [_access(scope, r, granted.get(r.id, set())) for r in records]  # type: ignore[attr-defined]


def _access(scope: Scope, record: object, types: set[str]) -> str | None:
    """Grants decide when there are any; else an owned (non-prospect) record is Read-Write."""
    if getattr(record, "archived_at", None) is not None:
        return None
    if types:
        return READ_WRITE if READ_WRITE in types else READ_ONLY
    owner = getattr(record, "partner_account_id", None)
    if not isinstance(record, Prospect) and owner is not None and owner in scope.account_ids:
        return READ_WRITE
    return None


def record_access(session: Session, scope: Scope | None, module: str, record: object,
                  models: dict[str, type] | None = None) -> str | None:
    """The scope's access to one record: "Read-Write", "Read-Only", or None when it is not seen.
    An archived record is not seen."""
    if scope is None or getattr(record, "archived_at", None) is not None:
        return None
    if isinstance(record, Campaign):
        return READ_ONLY
    if isinstance(record, ATTACHED):
        parent_model = (models or {}).get(record.record_module)
        parent = session.get(parent_model, record.record_id) if parent_model is not None else None
        return None if parent is None else record_access(session, scope, record.record_module, parent, models)
    if isinstance(record, Company):
        seen = session.scalar(select(Prospect.id).where(Prospect.company_id == record.id,
                                                        record_clause(scope, "prospect", Prospect)).limit(1))
        return None if seen is None else READ_ONLY
    types = set(session.scalars(select(RecordAssignment.access_type).where(
        RecordAssignment.record_module == module, RecordAssignment.record_id == record.id,  # type: ignore[attr-defined]
        grants_clause(scope))))
    return _access(scope, record, types)
