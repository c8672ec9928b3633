"""From settings to the lanes the scheduler runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.config.settings import ScheduleSettings, Settings
from connector.daemon.context import JobContext
from connector.jobs.custom import resolve_callable


@dataclass(frozen=True)
class JobSpec:
    """One lane: a name unique across the daemons sharing a database, when it runs, what it does."""

    lane: str
    schedule: ScheduleSettings
    run: Callable[[JobContext], None]
    connection: str | None = None


def scheduled_jobs(settings: Settings) -> list[JobSpec]:
    """Every enabled lane the configuration asks for."""
    specs: list[JobSpec] = []
    for name, job in settings.jobs.items():
        if job.enabled:
            specs.append(JobSpec(lane=f"job:{name}", schedule=job.schedule, run=resolve_callable(job.callable)))
    return specs
