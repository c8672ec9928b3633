"""What every report shares: the filters, the result shape, the partner scope and the SQL pieces
(hours between two timestamps, a lead's segment) that behave alike on SQLite and PostgreSQL.

Filters: `period_from` (inclusive) and `period_to` (exclusive) bound the timestamp each report
names; `group` (a partner group's name or id), `tier` and `region` (a country the partner covers)
select partners; `partner` (an id) selects one partner and its children. A partner user's report
(`viewer`) only ever covers that user's account and its children, whatever the filters say.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from connector.leads.rules import ENTERPRISE, SEGMENT_BANDS
from connector.leads.visibility import scope_of
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember
from connector.store.records import CURRENCIES, Prospect

NO_SEGMENT = "(none)"


class ReportError(ValueError):
    """A report or filter that cannot be right (unknown name, group, bad value); names it."""


@dataclass(frozen=True)
class Filters:
    """Which records a report covers (see the module docstring)."""

    period_from: datetime | None = None
    period_to: datetime | None = None
    group: str | None = None
    tier: str | None = None
    region: str | None = None
    partner: int | None = None
    currency: str = "USD"
    viewer: int | None = None
    """A partner user's id: the report covers that user's account and its children only."""

    def __post_init__(self) -> None:
        if self.currency not in CURRENCIES:
            raise ReportError(f"currency {self.currency!r} is not one of {', '.join(CURRENCIES)}")
        for name in ("period_from", "period_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ReportError(f"{name} {value.isoformat()} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
        if self.period_from and self.period_to and self.period_from >= self.period_to:
            raise ReportError(f"period_from {self.period_from.isoformat()} is not before period_to "
                              f"{self.period_to.isoformat()}")


@dataclass(frozen=True)
class Env:
    """What reports take from outside the database: the segment SLAs (`leads.segment_sla_days`) and
    the time they are computed at."""

    sla_days: Mapping[str, int]
    now: datetime


@dataclass
class Report:
    """A computed report: rows under `columns`, a summary, and what its chart plots."""

    name: str
    title: str
    columns: Sequence[str]
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    chart: tuple[str, str, str] | None = None
    """(kind, label column, value column): kind "bar" or "pie"."""


@dataclass(frozen=True)
class Scope:
    """The partners a report covers: None is every partner (and records held by none)."""

    ids: frozenset[int] | None
    names: dict[int, tuple[str, str | None]]
    """id -> (name, tier) of every partner in scope (all partners when ids is None)."""

    def clause(self, column: InstrumentedAttribute[int | None] | ColumnElement[Any]) -> ColumnElement[bool]:
        """Rows whose partner column is in scope."""
        return true() if self.ids is None else column.in_(sorted(self.ids))


def _with_children(accounts: Sequence[PartnerAccount], roots: Collection[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for account in accounts:
        if account.parent_id is not None:
            children.setdefault(account.parent_id, []).append(account.id)
    found, frontier = set(roots), list(roots)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def partner_scope(session: Session, filters: Filters) -> Scope:
    """The partners `filters` select, within what the viewer may see (the partners table is small;
    the records are never loaded)."""
    accounts = list(session.scalars(select(PartnerAccount).order_by(PartnerAccount.id)))
    ids: set[int] | None = None
    if filters.viewer is not None:
        scope = scope_of(session, filters.viewer)
        ids = set(scope.account_ids) if scope else set()
    if filters.partner is not None:
        if filters.partner not in {a.id for a in accounts}:
            raise ReportError(f"partner {filters.partner} does not exist")
        chosen = _with_children(accounts, [filters.partner])
        ids = chosen if ids is None else ids & chosen
    if filters.group:
        group = session.scalars(select(PartnerGroup).where(
            PartnerGroup.id == int(filters.group) if filters.group.isdigit() else PartnerGroup.name == filters.group
        )).first()
        if group is None:
            raise ReportError(f"group {filters.group!r} does not exist")
        members = set(session.scalars(select(PartnerGroupMember.account_id).where(PartnerGroupMember.group_id == group.id)))
        ids = members if ids is None else ids & members
    if filters.tier:
        tiered = {a.id for a in accounts if (a.tier or "").casefold() == filters.tier.casefold()}
        ids = tiered if ids is None else ids & tiered
    if filters.region:
        region = filters.region.casefold()
        covering = {a.id for a in accounts if region in {c.casefold() for c in a.countries or []}}
        ids = covering if ids is None else ids & covering
    names = {a.id: (a.name, a.tier) for a in accounts if ids is None or a.id in ids}
    return Scope(None if ids is None else frozenset(ids), names)


def in_period(column: InstrumentedAttribute[Any], filters: Filters) -> ColumnElement[bool]:
    """`column` within the filters' period (from inclusive, to exclusive)."""
    clause: ColumnElement[bool] = true()
    if filters.period_from is not None:
        clause = clause & (column >= filters.period_from)
    if filters.period_to is not None:
        clause = clause & (column < filters.period_to)
    return clause


def hours_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """(end - start) in hours, in SQL."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 24.0
    return func.date_part("epoch", end - start) / 3600.0  # double precision (EXTRACT gives numeric)


def segment_expr() -> ColumnElement[str]:
    """A lead's segment as connector.leads.rules.segment_of gives it, in SQL."""
    bands = [(Prospect.company_employees < limit, literal(name)) for limit, name in SEGMENT_BANDS]
    return case(
        (func.coalesce(Prospect.segment, "") != "", Prospect.segment),
        (Prospect.company_employees.is_(None), literal(NO_SEGMENT)),
        *bands,
        else_=literal(ENTERPRISE),
    )


def ratio(part: float | int, whole: float | int) -> float | None:
    """part/whole as a percentage rounded to 0.1, None for an empty whole."""
    return round(100.0 * part / whole, 1) if whole else None
