"""The partner directory as lead distribution reads it: assignment rules, partner accounts with their
approved users, and groups with their members, decoded once and shared while the database's
directory version (connector.store.directory_version) stays the same.

Deciding a lead reads every rule and up to every partner; reading and decoding those rows for each
lead would cost more than the whole decision. `of(session)` instead reads the one version row in
the caller's transaction and returns the snapshot made for that version, loading a new one when it
changed. A snapshot is immutable, so threads share it safely.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.directory_version import SNAPSHOT_KEY, current_token
from connector.store.distribution import AssignmentRule
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember, PartnerUser


@dataclass(frozen=True)
class Partner:
    """A partner account as the rules and the partner list see it."""

    id: int
    name: str
    tier: str | None
    active: bool
    auto_accept: bool
    countries: tuple[str, ...]
    states: tuple[str, ...]
    competencies: tuple[str, ...]
    certifications: tuple[str, ...]
    notification_recipients: tuple[str, ...]
    approved_users: tuple[str, ...]
    """The emails of its active, approved users, oldest user first."""


@dataclass(frozen=True)
class User:
    id: int
    account_id: int
    email: str
    active: bool
    approved: bool

    @property
    def usable(self) -> bool:
        """May receive leads."""
        return self.active and self.approved


@dataclass(frozen=True)
class Member:
    """A partner account's place in a group's rotation (with its named rep, if any)."""

    id: int
    group_id: int
    account_id: int
    user_id: int | None
    position: int


@dataclass(frozen=True)
class Rule:
    """An assignment rule (the columns of AssignmentRule; see there)."""

    id: int
    name: str
    priority: int
    active: bool
    countries: tuple[str, ...]
    states: tuple[str, ...]
    lead_sources: tuple[str, ...]
    industries: tuple[str, ...]
    segments: tuple[str, ...]
    product_interests: tuple[str, ...]
    campaign_ids: tuple[int, ...]
    min_employees: int | None
    max_employees: int | None
    min_revenue: Decimal | None
    max_revenue: Decimal | None
    partner_tiers: tuple[str, ...]
    partner_competencies: tuple[str, ...]
    partner_certifications: tuple[str, ...]
    partner_territory: bool
    access_type: str | None
    target_type: str
    target_id: int
    model: str
    fallback: str | None

    @classmethod
    def of(cls, row: AssignmentRule) -> Rule:
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = getattr(row, f.name)
            values[f.name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)


@dataclass(frozen=True)
class Directory:
    """One version of the directory: rules in the order they are tried, partners, users and each
    group's members in rotation order."""

    token: str | None
    rules: tuple[Rule, ...]
    partners: dict[int, Partner]
    users: dict[int, User]
    members: dict[int, tuple[Member, ...]]

    def usable_user(self, user_id: int | None) -> int | None:
        """The user's id when they may receive leads, else None."""
        user = self.users.get(user_id) if user_id is not None else None
        return user.id if user is not None and user.usable else None

    def recipients(self, account_id: int | None, user_id: int | None) -> list[str]:
        """Who hears about a lead given to a partner: its default lead notification recipients and the
        assigned rep; when it has named no recipient and no rep is assigned, its approved active users."""
        partner = self.partners.get(account_id) if account_id is not None else None
        user = self.users.get(user_id) if user_id is not None else None
        found = [*(partner.notification_recipients if partner else ()), *((user.email,) if user else ())]
        return found or list(partner.approved_users if partner else ())


def load(session: Session, token: str | None) -> Directory:
    """Read the whole directory in the caller's transaction."""
    users = {u.id: User(u.id, u.account_id, u.email, u.active, u.approved)
             for u in session.scalars(select(PartnerUser).order_by(PartnerUser.id))}
    approved: dict[int, list[str]] = defaultdict(list)
    for user in users.values():
        if user.usable:
            approved[user.account_id].append(user.email)
    partners = {a.id: Partner(a.id, a.name, a.tier, a.active, a.auto_accept, tuple(a.countries), tuple(a.states),
                              tuple(a.competencies), tuple(a.certifications), tuple(a.notification_recipients),
                              tuple(approved[a.id]))
                for a in session.scalars(select(PartnerAccount).order_by(PartnerAccount.id))}
    members: dict[int, list[Member]] = {g: [] for g in session.scalars(select(PartnerGroup.id))}
    for m in session.scalars(select(PartnerGroupMember).order_by(PartnerGroupMember.position, PartnerGroupMember.id)):
        members[m.group_id].append(Member(m.id, m.group_id, m.account_id, m.user_id, m.position))
    rules = tuple(Rule.of(r) for r in session.scalars(
        select(AssignmentRule).order_by(AssignmentRule.priority, AssignmentRule.id)))
    return Directory(token, rules, partners, users, {g: tuple(ms) for g, ms in members.items()})


_latest: Directory | None = None
_loading = threading.Lock()


def of(session: Session) -> Directory:
    """The directory as the caller's transaction sees it: the shared snapshot when its version is
    still current, else a fresh load (shared from then on). Read once per transaction."""
    transaction = session.get_transaction()
    held = session.info.get(SNAPSHOT_KEY)
    if held is not None and held[0] is transaction:
        return held[1]
    found = _current(session)
    session.info[SNAPSHOT_KEY] = (transaction, found)
    return found


def _current(session: Session) -> Directory:
    global _latest
    token = current_token(session)
    latest = _latest
    if token is not None and latest is not None and latest.token == token:
        return latest
    with _loading:
        fresh = load(session, token)
        if token is not None:
            _latest = fresh
    return fresh
