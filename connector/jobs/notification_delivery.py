"""The notification delivery lane: sends the due emails of the notification outbox over SMTP.

Schedule: `notifications.delivery_schedule` (default every 60 s), under the lane name `LANE`.
Does nothing while `notifications.enabled` is false: the outbox keeps filling and is delivered
once it is enabled.
"""

from __future__ import annotations

from connector.jobs.context import JobContext
from connector.leads.delivery import deliver_due

LANE = "notifications:delivery"


def run(context: JobContext) -> None:
    settings = context.settings.notifications
    if not settings.enabled:
        context.log.debug("notifications are disabled: nothing delivered")
        return
    report = deliver_due(context.db, settings, context.clock, should_stop=context.should_stop)
    for error in report.errors:
        context.log.warning("notification not delivered: %s", error)
    if report.stopped_by:
        context.log.error("notification delivery paused until the next run: %s", report.stopped_by)
    if report.sent or report.retrying or report.failed:
        context.log.info("notification delivery: %s", report.line(),
                         extra={"sent": report.sent, "failed": report.failed})
