"""The sync lane of one connection: one incremental cycle (pull, then push) per run.

A connection that needs re-authorization, or whose CRM quota is spent, is reported in one line
per run and makes no CRM call until a person runs `auth login` or the quota resets: no traceback,
no crash loop (the token vault refuses before any call; the adapter's quota guard likewise).
"""

from __future__ import annotations

from typing import Any

from connector.adapters.base import ApiUsage, AuthError, QuotaError
from connector.jobs.context import JobContext
from connector.sync.summary import Counts


def usage_report(usage: ApiUsage) -> dict[str, Any]:
    """The `LaneRun` quota columns from an adapter's usage (HubSpot adds its ten-second window)."""
    return {"quota_used": usage.used, "quota_limit": usage.limit,
            "rate_remaining": usage.details.get("reported_remaining"), "rate_limit": usage.details.get("reported_max")}


def counts_report(counts: Counts) -> dict[str, Any]:
    """The `LaneRun` count columns from a cycle's counts."""
    return {"records_read": counts.read, "records_written": counts.created + counts.updated + counts.archived + counts.pushed,
            "records_failed": counts.failed, "api_calls": counts.api_calls}


def run(context: JobContext) -> None:
    assert context.connection is not None
    try:
        engine = context.runtime.engine(context.connection)
        try:
            counts = engine.cycle(deletes="due", should_stop=context.should_stop)
        finally:
            context.report.update(usage_report(engine.adapter.api_usage()))
            engine.adapter.close()
    except AuthError as exc:
        context.log.error("lane paused: %s (run `upm-connector auth login %s`)", exc, context.connection)
        context.outcome = "auth"
        context.report["error"] = str(exc)[:2000]
        return
    except QuotaError as exc:
        resets = f" until {exc.resets_at.isoformat()}" if exc.resets_at else ""
        context.log.warning("lane paused%s: CRM API quota spent (%s)", resets, exc)
        context.outcome = "quota"
        context.report.update(error=str(exc)[:2000], resumes_at=exc.resets_at)
        return
    context.report.update(counts_report(counts))
    context.log.info("sync cycle: %s", counts.line(), extra={"read": counts.read, "failed": counts.failed})
