"""The last run of each lane as the datastore keeps it: what lane state, metrics and readiness read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.store.base import Base

OUTCOMES = ("ok", "failed", "quota", "auth")
"""`ok` finished; `failed` raised; `quota` paused for the CRM's allocation; `auth` paused for credentials."""


class LaneRun(Base):
    """One row per lane, rewritten at the end of every run (any daemon, any replica).

    Counts and API usage are the last run's; `quota_*` are the CRM's allocation as it last reported
    it (`quota_window` "day" or "10s" for HubSpot's rolling window beside the daily one).
    """

    __tablename__ = "lane_runs"

    lane: Mapped[str] = mapped_column(String(200), primary_key=True)
    connection: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    last_success_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    resumes_at: Mapped[datetime | None]
    """When a quota pause ends, as the CRM said (None: unknown, the next run tries again)."""
    records_read: Mapped[int] = mapped_column(default=0)
    records_written: Mapped[int] = mapped_column(default=0)
    records_failed: Mapped[int] = mapped_column(default=0)
    api_calls: Mapped[int] = mapped_column(default=0)
    quota_used: Mapped[int | None]
    quota_limit: Mapped[int | None]
    rate_remaining: Mapped[int | None]
    """HubSpot's ten-second window: calls left in it, as the last response said."""
    rate_limit: Mapped[int | None]


def record_run(session: Session, lane: str, connection: str | None, outcome: str, started: datetime,
               finished: datetime, **values: object) -> LaneRun:
    """Write a finished run over the lane's row; `values` are LaneRun columns (counts, quota, error)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"lane outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    row = session.get(LaneRun, lane) or LaneRun(lane=lane, consecutive_failures=0)
    row.connection, row.outcome, row.started_at, row.finished_at = connection, outcome, started, finished
    row.error, row.resumes_at = None, None
    row.records_read = row.records_written = row.records_failed = row.api_calls = 0
    for name, value in values.items():
        setattr(row, name, value)
    if outcome == "ok":
        row.last_success_at, row.consecutive_failures = finished, 0
    else:
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
    session.add(row)
    return row
