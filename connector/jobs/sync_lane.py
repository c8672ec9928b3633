"""The sync lane of one connection: one incremental cycle (pull, then push) per run.

A connection that needs re-authorization, or whose CRM quota is spent, is reported in one line
per run and makes no CRM call until a person runs `auth login` or the quota resets: no traceback,
no crash loop (the token vault refuses before any call; the adapter's quota guard likewise).
"""

from __future__ import annotations

from connector.adapters.base import AuthError, QuotaError
from connector.daemon.context import JobContext


def run(context: JobContext) -> None:
    assert context.connection is not None
    try:
        engine = context.runtime.engine(context.connection)
        try:
            counts = engine.cycle(deletes="due", should_stop=context.should_stop)
        finally:
            engine.adapter.close()
    except AuthError as exc:
        context.log.error("lane paused: %s (run `upm-connector auth login %s`)", exc, context.connection)
        return
    except QuotaError as exc:
        resets = f" until {exc.resets_at.isoformat()}" if exc.resets_at else ""
        context.log.warning("lane paused%s: CRM API quota spent (%s)", resets, exc)
        return
    context.log.info("sync cycle: %s", counts.line(), extra={"read": counts.read, "failed": counts.failed})
