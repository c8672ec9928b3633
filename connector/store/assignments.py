"""Who sees what: record assignments, and the histories the portal shows (assignment, lead status,
lead score)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.store.base import Base, utcnow
from connector.store.records import Prospect

ASSIGNEE_TYPES = ("user", "group", "account")
ACCESS_TYPES = ("Read-Only", "Read-Write")


class RecordAssignment(Base):
    """Visibility of one record for a user, a group or an account. Active while `revoked_at` is null.

    A shark-tank offer is an account's grant with `offered_until` set (the pool window's end; the
    lead's `pool_until` is what a claim is checked against). Offers are left out of the assignee
    index: a lead is offered to dozens of partners at once, and one index entry per partner put
    each on another page (a shark-tank lead took twice as long). An offer is found through its lead
    instead: the pooled leads, then their grants by record (`visibility`). A query by assignee
    says `offered_until IS NULL` to use that partial index."""

    __tablename__ = "record_assignments"
    __table_args__ = (
        Index("ix_record_assignments_record", "record_module", "record_id"),
        Index("ix_record_assignments_assignee", "assignee_type", "assignee_id",
              sqlite_where=text("offered_until IS NULL"), postgresql_where=text("offered_until IS NULL")),
        CheckConstraint("assignee_type IN ('user', 'group', 'account')", name="assignee_type"),
        CheckConstraint("access_type IN ('Read-Only', 'Read-Write')", name="access_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    assignee_type: Mapped[str] = mapped_column(String(10))
    assignee_id: Mapped[int]
    access_type: Mapped[str] = mapped_column(String(10), default="Read-Write")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(500))
    revoked_at: Mapped[datetime | None]
    offered_until: Mapped[datetime | None]


class AssignmentHistory(Base):
    """Every grant and revocation of visibility, in order."""

    __tablename__ = "assignment_history"
    __table_args__ = (Index("ix_assignment_history_record", "record_module", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))  # assigned, revoked, claimed, pulled_back
    assignee_type: Mapped[str] = mapped_column(String(10))
    assignee_id: Mapped[int]
    access_type: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadStatusHistory(Base):
    """Each change of a prospect's status: which, who, when, why."""

    __tablename__ = "lead_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"), index=True)
    previous_status: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadScoreHistory(Base):
    """Points a prospect earned: from which campaign, by which scoring rule."""

    __tablename__ = "lead_score_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    rule: Mapped[str | None] = mapped_column(String(120))
    score: Mapped[int]
    """The points this change added (negative: taken away)."""
    at: Mapped[datetime] = mapped_column(default=utcnow)

    prospect: Mapped[Prospect] = relationship()
