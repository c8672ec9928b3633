"""Lead aging: Lead Configuration Rules (age colours for a group and country, over a validity
period) and their Lead Revoke Rules (when a held lead is pulled back automatically)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.store.base import Base, Timestamped

class LeadConfigurationRule(Timestamped, Base):
    """Age colours of the leads held by members of `group` (null: any group) in `country` (ISO
    alpha-3, null: any), while active and today is within valid_from..valid_until (inclusive, null:
    open-ended). A lead is green up to `green_days` old, yellow up to `yellow_days`, red beyond."""

    __tablename__ = "lead_configuration_rules"
    __table_args__ = (
        CheckConstraint("green_days >= 0 AND yellow_days >= green_days", name="thresholds"),
        CheckConstraint("valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from", name="validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("partner_groups.id", ondelete="CASCADE"), index=True)
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    country: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(default=True)
    green_days: Mapped[int]
    yellow_days: Mapped[int]

    revoke_rules: Mapped[list[LeadRevokeRule]] = relationship(
        back_populates="configuration_rule", cascade="all, delete-orphan", order_by="LeadRevokeRule.id"
    )


class LeadRevokeRule(Timestamped, Base):
    """When a lead under a configuration rule is pulled back from its holder.

    `no_activity`: no activity for (operator) `days` since the last activity or the assignment,
    whichever is later. `not_accepted`: still not accepted (operator) `hours` after the assignment.
    `greater_than` revokes once the time is past the threshold, `greater_or_equal` once it is reached."""

    __tablename__ = "lead_revoke_rules"
    __table_args__ = (
        CheckConstraint("condition IN ('no_activity', 'not_accepted')", name="condition"),
        CheckConstraint("operator IN ('greater_than', 'greater_or_equal')", name="operator"),
        CheckConstraint(
            "(condition = 'no_activity' AND days > 0 AND hours IS NULL) OR "
            "(condition = 'not_accepted' AND hours > 0 AND days IS NULL)",
            name="threshold",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    configuration_rule_id: Mapped[int] = mapped_column(
        ForeignKey("lead_configuration_rules.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    condition: Mapped[str] = mapped_column(String(20))
    operator: Mapped[str] = mapped_column(String(20), default="greater_than")
    days: Mapped[int | None]
    hours: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    configuration_rule: Mapped[LeadConfigurationRule] = relationship(back_populates="revoke_rules")
