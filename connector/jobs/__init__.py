"""The scheduled jobs the daemon runs, installed as the package `connector.jobs`.

`scheduled_jobs(settings)` turns the configuration into the list of lanes the scheduler registers.
Each job is a function `run(context: JobContext) -> None` that works in batches and returns early
when `context.should_stop()` says the daemon is shutting down or the lane's lease was lost.
"""

from connector.jobs.registry import JobSpec, scheduled_jobs

__all__ = ["JobSpec", "scheduled_jobs"]
