"""The reports by name, and running one on a datastore in one read-only transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from connector.reports.acceptance import lead_acceptance
from connector.reports.adoption import partner_adoption
from connector.reports.base import Env, Filters, Report, ReportError
from connector.reports.conversion import conversion_by_stage
from connector.reports.dashboard import partner_dashboard
from connector.reports.pipeline import pipeline_by_segment, pipeline_by_stage
from connector.reports.ranking import partner_ranking, rep_ranking
from connector.store.database import Database

PLANNER_SETTINGS = (
    "SET LOCAL random_page_cost = 1.1",
)
"""PostgreSQL, for the report's transaction only: the datastore is on SSD (or in memory), so a
random page costs about what a sequential one does, which lets the planner take the reports'
covering indexes (migration 0020, index-only scans) over a scan of the whole prospects table."""

REPORTS: dict[str, Callable[[Session, Filters, Env], Report]] = {
    "partner-dashboard": partner_dashboard,
    "pipeline-by-stage": pipeline_by_stage,
    "pipeline-by-segment": pipeline_by_segment,
    "lead-acceptance": lead_acceptance,
    "conversion-by-stage": conversion_by_stage,
    "rep-ranking": rep_ranking,
    "partner-ranking": partner_ranking,
    "partner-adoption": partner_adoption,
}


def run_report(db: Database, name: str, filters: Filters, env: Env) -> Report:
    """Compute report `name`; ReportError for an unknown name or filter."""
    if name not in REPORTS:
        raise ReportError(f"report {name!r} is not one of {', '.join(REPORTS)}")
    with db.session() as session:
        if db.backend == "postgresql":
            for statement in PLANNER_SETTINGS:
                session.execute(text(statement))
        return REPORTS[name](session, filters, env)
