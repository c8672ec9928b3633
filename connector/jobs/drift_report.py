"""The scheduled drift report: every enabled connection compared with its CRM (nothing written but
the result, which `status` shows). Schedule it in the config:
`jobs: {drift: {callable: "connector.jobs.drift_report:run", schedule: {every: 1d}}}`."""

from __future__ import annotations

from connector.jobs.context import JobContext
from connector.sync.drift import drift_report, save_result


def run(ctx: JobContext) -> None:
    """One drift report per enabled connection; a connection that fails is logged and the rest go
    on, then the run fails naming them (so the lane's last run shows it)."""
    failed: list[str] = []
    for name, connection in ctx.settings.connections.items():
        if not connection.enabled or ctx.should_stop():
            continue
        started = ctx.clock.now()
        try:
            engine = ctx.runtime.engine(name)
            report = drift_report(engine)
        except Exception as exc:  # one connection's CRM being down must not stop the others
            failed.append(name)
            ctx.log.warning("drift report for %s failed: %s: %s", name, type(exc).__name__, exc)
            continue
        save_result(engine, report, started, ctx.clock.now())
        ctx.log.info("drift report for %s: %s", name, "in sync" if report["in_sync"] else "drifted")
    if failed:
        raise RuntimeError(f"drift report failed for {', '.join(failed)}")
