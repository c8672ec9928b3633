"""The lead aging lane: reminds holders before their deadlines and pulls back leads past them
(connector.leads.aging.sweep).

Schedule: `leads.sweep_schedule` (default every 900 s); register it under the lane name `LANE`,
which `upm-connector leads sweep` also takes, so a command and a daemon never sweep at once.
"""

from __future__ import annotations

from connector.jobs.context import JobContext
from connector.leads.aging import sweep

LANE = "leads:aging-sweep"


def run(context: JobContext) -> None:
    report = sweep(context.db, context.settings.leads, context.clock, should_stop=context.should_stop)
    for action in report.pullbacks:
        context.log.info("lead pulled back: %s", action.line())
    if report.reminders or report.pullbacks:
        context.log.info("aging sweep: %s", report.lines()[-1],
                         extra={"reminders": len(report.reminders), "pullbacks": len(report.pullbacks)})
