"""Partner targets: whom an assignment rule, a person's direct assignment (CLI, API) or an import
row's RecordAssignTo gives a lead to. Every target is resolved here.

Accepted forms (the kind, names and emails are matched case-insensitively, spaces around ignored):

- ``user:EMAIL`` or ``user:ID``: a partner user;
- ``account:NAME`` or ``account:ID``: a partner account;
- ``group:NAME`` or ``group:ID``: a partner group;
- a bare reference, with the kind given apart (an import's AccessType column) or not at all: an
  email is a user, else a group of that name, else an account of that name.

A name matching several rows takes the oldest, except with ``usable=True`` (imports), which also
refuses inactive or unapproved users and inactive accounts. Errors are InvalidRule, worded for the
person who wrote the target: "no such account 'Acme'".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.leads.errors import InvalidRule
from connector.store.distribution import TARGET_TYPES
from connector.store.ids import as_id
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerUser

FORMS = "user:EMAIL, account:NAME or group:NAME (or :ID)"


@dataclass(frozen=True)
class Target:
    """A resolved target: its kind (user, account, group), its id, and the partner account that
    holds the lead (a user's account, the account itself; None for a group)."""

    kind: str
    id: int
    account_id: int | None


def resolve(session: Session, target: str) -> Target:
    """A ``kind:REF`` target (see the module docstring). Raises InvalidRule naming the target."""
    kind, _, ref = target.partition(":")
    kind, ref = kind.strip().lower(), ref.strip()
    if kind not in TARGET_TYPES or not ref:
        raise InvalidRule(f"target {target!r}: expected {FORMS}")
    try:
        return find(session, kind, ref)
    except InvalidRule as exc:
        raise InvalidRule(f"target {target!r}: {exc}") from None


def find(session: Session, kind: str | None, ref: str, *, ids: bool = True, usable: bool = False) -> Target:
    """The target `ref` names as a `kind` (None: guessed as the module docstring says). `ids`: a
    number is an id; `usable`: only partners that may receive leads, and an account name must be
    unique."""
    ref = ref.strip()
    if kind is None:
        kind = _guess(session, ref, usable=usable)
    if kind not in TARGET_TYPES:
        raise InvalidRule(f"unknown target kind {kind!r}: expected {', '.join(TARGET_TYPES)}")
    model: Any = {"user": PartnerUser, "account": PartnerAccount, "group": PartnerGroup}[kind]
    query = select(model)
    if ids and as_id(ref) is not None:
        query = query.where(model.id == as_id(ref))
    else:
        query = query.where(func.lower(model.email if kind == "user" else model.name) == ref.lower())
    if usable and kind == "user":
        query = query.where(PartnerUser.active.is_(True), PartnerUser.approved.is_(True))
    elif usable and kind == "account":
        query = query.where(PartnerAccount.active.is_(True))
    rows = list(session.scalars(query.order_by(model.id)))
    if not rows:
        raise InvalidRule(f"no such {'approved active ' if usable and kind == 'user' else ''}"
                          f"{'active ' if usable and kind == 'account' else ''}{kind} '{ref}'")
    if usable and len(rows) > 1:
        raise InvalidRule(f"'{ref}' names {len(rows)} partner accounts; assign to a user or a group instead")
    row = rows[0]
    account_id = row.account_id if kind == "user" else (row.id if kind == "account" else None)
    return Target(kind, row.id, account_id)


def _guess(session: Session, ref: str, *, usable: bool) -> str:
    """The kind a bare reference means: an email is a user, else a group, else an account."""
    if "@" in ref:
        return "user"
    if session.scalars(select(PartnerGroup.id).where(func.lower(PartnerGroup.name) == ref.lower())).first():
        return "group"
    account = select(PartnerAccount.id).where(func.lower(PartnerAccount.name) == ref.lower())
    if usable:
        account = account.where(PartnerAccount.active.is_(True))
    if session.scalars(account).first() is None:
        raise InvalidRule(f"no partner group, user or account '{ref}'")
    return "account"
