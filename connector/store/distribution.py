"""Lead distribution: assignment rules, round-robin cursors, lead activities and the ZiftONE
auto-registration rule groups.

Per-lead distribution state (state, holder, windows, previous holders) lives on `prospects`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.store.base import Base, Timestamped, utcnow
from connector.store.records import Prospect

TARGET_TYPES = ("user", "account", "group")
MODELS = ("direct", "round_robin", "shark_tank")
RULE_FALLBACKS = ("open_pool", "manual_review", "round_robin")


class AssignmentRule(Timestamped, Base):
    """A lead assignment rule: conditions on the lead and on the partner, and where a match goes.

    An empty list or a null bound is "any". Lower `priority` is tried first; the first active rule
    that matches (and leaves at least one eligible partner) wins. `fallback` says what happens to a
    shark-tank lead nobody claimed within the window (null: the configured fallback).
    """

    __tablename__ = "assignment_rules"
    __table_args__ = (
        CheckConstraint("target_type IN ('user', 'account', 'group')", name="target_type"),
        CheckConstraint("model IN ('direct', 'round_robin', 'shark_tank')", name="model"),
        CheckConstraint("access_type IS NULL OR access_type IN ('Read-Only', 'Read-Write')", name="access_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    priority: Mapped[int] = mapped_column(default=100, index=True)
    active: Mapped[bool] = mapped_column(default=True)
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    states: Mapped[list[str]] = mapped_column(JSON, default=list)
    lead_sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    segments: Mapped[list[str]] = mapped_column(JSON, default=list)
    product_interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    campaign_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    min_employees: Mapped[int | None]
    max_employees: Mapped[int | None]
    min_revenue: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    max_revenue: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    partner_tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    partner_competencies: Mapped[list[str]] = mapped_column(JSON, default=list)
    partner_certifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    partner_territory: Mapped[bool] = mapped_column(default=False)  # the partner must cover the lead's territory
    access_type: Mapped[str | None] = mapped_column(String(10))  # null: the configured default
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int]
    model: Mapped[str] = mapped_column(String(20), default="direct")
    fallback: Mapped[str | None] = mapped_column(String(20))


class RoundRobinCursor(Base):
    """Where a group's rotation stands: the member that got the last lead. Locked while advancing."""

    __tablename__ = "round_robin_cursors"

    group_id: Mapped[int] = mapped_column(ForeignKey("partner_groups.id", ondelete="CASCADE"), primary_key=True)
    last_position: Mapped[int | None]
    last_member_id: Mapped[int | None]
    turns: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadActivity(Base):
    """Something done on a lead: a partner's call, email, meeting or note, or its auto-registration."""

    __tablename__ = "lead_activities"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'email', 'meeting', 'note', 'registration')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id"))
    actor: Mapped[str | None] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    prospect: Mapped[Prospect] = relationship()


class AutoRegistrationGroup(Timestamped, Base):
    """A group of auto-registration conditions: all must hold (AND); any one group suffices (OR).

    `partner_account_id` null: a supplier-managed group, used by partners whose
    `settings["auto_registration"]` is "supplier"; otherwise the partner's own ("own").
    """

    __tablename__ = "auto_registration_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    conditions: Mapped[list[AutoRegistrationCondition]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="AutoRegistrationCondition.id"
    )


class AutoRegistrationCondition(Base):
    """One condition of a group: `field` of the lead, `operator`, `value` (a scalar or a list)."""

    __tablename__ = "auto_registration_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("auto_registration_groups.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(20))
    value: Mapped[Any] = mapped_column(JSON)

    group: Mapped[AutoRegistrationGroup] = relationship(back_populates="conditions")
