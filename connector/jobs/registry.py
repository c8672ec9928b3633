"""From settings to the lanes the scheduler runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from connector.config.settings import ScheduleSettings, Settings
from connector.jobs.context import JobContext
from sqlalchemy.engine import make_url

from connector.jobs import aging_sweep, notification_delivery, sqlite_checkpoint, sync_lane
from connector.jobs.custom import resolve_callable
from connector.mapping.loader import ProfileError, load_connection_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """One lane: a name unique across the daemons sharing a database, when it runs, what it does."""

    lane: str
    schedule: ScheduleSettings
    run: Callable[[JobContext], None]
    connection: str | None = None
    log_level: int = logging.INFO
    """The level of the run started/finished lines (DEBUG for housekeeping that runs every few seconds)."""


def scheduled_jobs(settings: Settings) -> list[JobSpec]:
    """Every lane the configuration asks for: one sync lane per enabled connection whose profile is
    valid (an invalid one is logged with every problem and its lane is not started), notification
    delivery (idle while notifications are disabled), the lead aging sweep, the SQLite checkpoint
    (SQLite only), and custom jobs."""
    specs: list[JobSpec] = []
    for name, conn in settings.connections.items():
        if not conn.enabled:
            continue
        try:
            load_connection_profile(settings, name)
        except ProfileError as exc:
            for problem in exc.problems:
                log.error("lane sync:%s not started: mapping profile problem: %s", name, problem)
            continue
        specs.append(JobSpec(lane=f"sync:{name}", schedule=conn.schedule, run=sync_lane.run, connection=name))
    specs.append(JobSpec(lane="notifications:delivery", schedule=settings.notifications.delivery_schedule,
                         run=notification_delivery.run))
    specs.append(JobSpec(lane="leads:aging-sweep", schedule=settings.leads.sweep_schedule, run=aging_sweep.run))
    if make_url(settings.database.url).get_backend_name() == "sqlite":
        specs.append(JobSpec(lane=sqlite_checkpoint.LANE, schedule=settings.database.checkpoint_schedule,
                             run=sqlite_checkpoint.run, log_level=logging.DEBUG))
    for name, job in settings.jobs.items():
        if job.enabled:
            specs.append(JobSpec(lane=f"job:{name}", schedule=job.schedule, run=resolve_callable(job.callable)))
    return specs
