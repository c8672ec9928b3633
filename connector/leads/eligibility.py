"""The partner list: for a lead, which partner accounts may take it and why each is in or out.

This is the CRM Lead page's "Generate Partner List": the partner validation criteria are
geographical match, product certification match and approved users; a partner that is inactive or
already held the lead (rejected it, or it was pulled back) is out too. The same checks decide who
a rule may give a lead to.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from connector.leads import directory
from connector.leads.directory import Partner
from connector.store.records import Prospect

TIER_RANK = {"platinum": 0, "gold": 1, "silver": 2, "bronze": 3}
"""Medallion tiers best first; any other tier ranks after these, no tier last."""
OTHER_TIER, NO_TIER = len(TIER_RANK), len(TIER_RANK) + 1


@dataclass(frozen=True)
class Check:
    """One criterion: its name, whether it holds, and a sentence saying why."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class PartnerVerdict:
    """A partner account on a lead's partner list, with every check made."""

    account_id: int
    name: str
    tier: str | None
    checks: tuple[Check, ...]

    @property
    def eligible(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


def fold(value: str | None) -> str:
    """A value compared case- and space-insensitively."""
    return (value or "").strip().casefold()


def folded(values: Iterable[str]) -> frozenset[str]:
    """The non-empty values, folded. A tuple (a rule's or a partner's list in the directory
    snapshot, immutable) is folded once and remembered: rules test every lead against them."""
    if isinstance(values, tuple):
        return _folded_tuple(values)
    return frozenset(f for v in values if (f := fold(v)))


@functools.lru_cache(maxsize=16384)
def _folded_tuple(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f for v in values if (f := fold(v)))


def products_of(prospect: Prospect) -> frozenset[str]:
    """The products a lead is interested in (`product_interest` separated by commas or semicolons)."""
    return folded(re.split(r"[,;]", prospect.product_interest or ""))


def territory_check(account: Partner, prospect: Prospect) -> Check:
    """The partner covers the lead's country and, when it lists states, the lead's state."""
    if not prospect.country:
        return Check("territory", True, "the lead has no country: any territory")
    if fold(prospect.country) not in folded(account.countries):
        return Check("territory", False, f"does not cover {prospect.country}")
    if account.states and prospect.state and fold(prospect.state) not in folded(account.states):
        return Check("territory", False, f"covers {prospect.country} but not {prospect.state}")
    where = f"{prospect.state}, {prospect.country}" if account.states and prospect.state else prospect.country
    return Check("territory", True, f"covers {where}")


def certification_check(account: Partner, prospect: Prospect) -> Check:
    """The partner is certified for every product the lead is interested in."""
    wanted = products_of(prospect)
    if not wanted:
        return Check("certification", True, "the lead names no product")
    missing = sorted(wanted - folded(account.certifications))
    if missing:
        return Check("certification", False, f"not certified for {', '.join(missing)}")
    return Check("certification", True, f"certified for {', '.join(sorted(wanted))}")


def users_check(approved_users: int) -> Check:
    if approved_users:
        return Check("users", True, f"{approved_users} approved active user(s)")
    return Check("users", False, "no approved active user")


def active_check(account: Partner) -> Check:
    return Check("active", account.active, "active" if account.active else "the partner account is inactive")


def history_check(account: Partner, excluded: Collection[int]) -> Check:
    if account.id in excluded:
        return Check("not_previous_holder", False, "already held this lead (rejected or pulled back)")
    return Check("not_previous_holder", True, "has not held this lead")


def verdict(account: Partner, prospect: Prospect, excluded: Collection[int]) -> PartnerVerdict:
    """Every validation criterion of one partner for one lead."""
    checks = (active_check(account), territory_check(account, prospect), certification_check(account, prospect),
              users_check(len(account.approved_users)), history_check(account, excluded))
    return PartnerVerdict(account.id, account.name, account.tier, checks)


def rank_key(item: PartnerVerdict) -> tuple[int, int, int, str, int]:
    """Eligible first, then most criteria met, then best tier, then by name."""
    tier = TIER_RANK.get(fold(item.tier), OTHER_TIER if item.tier else NO_TIER)
    return (0 if item.eligible else 1, len(item.failed), tier, fold(item.name), item.account_id)


def partner_list(session: Session, prospect: Prospect, excluded: Collection[int] = ()) -> list[PartnerVerdict]:
    """Every partner account for this lead, ranked, each with the reasons it is in or out."""
    excluded = set(excluded) | set(prospect.previous_holder_ids or ())
    return sorted((verdict(a, prospect, excluded) for a in directory.of(session).partners.values()), key=rank_key)
