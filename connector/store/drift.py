"""Drift results: what each drift report (`reconcile CONNECTION --report`, the drift job) found."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base


class DriftResult(Base):
    """One drift report: when, whether UPM and the CRM agreed, and the findings (counts, samples)."""

    __tablename__ = "drift_results"
    __table_args__ = (Index("ix_drift_results_connection", "connection", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    in_sync: Mapped[bool]
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
