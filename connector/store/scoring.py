"""Lead scoring: the scoring rules (points for activity events and for lead fields) and the
high-score threshold. What each prospect earned is in `lead_score_history` (assignments.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, Timestamped

EVENTS = ("call", "email", "meeting", "form", "campaign_response")
FIELDS = ("title", "industry", "size", "source")


class ScoringRule(Timestamped, Base):
    """Points for a lead: an activity `event` (optionally only for one campaign), or a `field` rule
    (title contains one of `values`, industry or source is one of `values`, size (company
    employees) within `min_value`..`max_value`), which counts once while the lead matches it."""

    __tablename__ = "scoring_rules"
    __table_args__ = (
        CheckConstraint("(event IS NULL) <> (field IS NULL)", name="event_or_field"),
        CheckConstraint("event IS NULL OR event IN ('call', 'email', 'meeting', 'form', 'campaign_response')",
                        name="event"),
        CheckConstraint("field IS NULL OR field IN ('title', 'industry', 'size', 'source')", name="field"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    event: Mapped[str | None] = mapped_column(String(20))
    field: Mapped[str | None] = mapped_column(String(20))
    values: Mapped[list[Any]] = mapped_column(JSON, default=list)
    min_value: Mapped[int | None]
    max_value: Mapped[int | None]
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    points: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)


class ScoringSetting(Base):
    """The scoring settings: one row (id 1), the high-score threshold (null: no alerts)."""

    __tablename__ = "scoring_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    high_score_threshold: Mapped[int | None]
