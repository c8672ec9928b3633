"""The scheduler: APScheduler 3 triggers the lanes; a replica runs only its share of them
(`daemon.replicas`), and each run first takes the lane's lease."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from connector.config.settings import ScheduleSettings
from connector.jobs.context import JobContext
from connector.daemon.lease import LeaseStore
from connector.daemon.replicas import Replicas
from connector.jobs import JobSpec, sync_lane
from connector.logs import log_context
from connector.mapping.loader import ProfileError
from connector.runtime import Runtime
from connector.store.lane_runs import LaneRun, record_run

log = logging.getLogger(__name__)

HEARTBEAT = "daemon:heartbeat"
WATCH = "daemon:connections"
REPLICAS = "daemon:replicas"


def trigger_for(schedule: ScheduleSettings) -> BaseTrigger:
    jitter = int(schedule.jitter_seconds) or None
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone="UTC")
    return IntervalTrigger(seconds=schedule.every, jitter=jitter, timezone="UTC")


class LaneScheduler:
    """Runs each lane on its schedule, never twice at once here, and only while holding its lease."""

    def __init__(self, runtime: Runtime, leases: LeaseStore, workers: int = 4):
        self.runtime = runtime
        self.leases = leases
        self.clock = runtime.clock
        self.shutdown_requested = threading.Event()
        self.replicas = Replicas(leases, runtime.settings.daemon.lease_seconds)
        self._mine: frozenset[str] | None = None
        """This replica's share of the lanes; None: all of them (not watching the replicas)."""
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(runtime.settings.daemon.misfire_grace_seconds) or None,
            },
            timezone="UTC",
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def add(self, spec: JobSpec, run_now: bool = True) -> None:
        """Register a lane; by default its first run is right away, then on its schedule."""
        trigger = trigger_for(spec.schedule)
        kwargs = {"next_run_time": self.clock.now()} if run_now else {}
        self._scheduler.add_job(self.run_lane, trigger, args=[spec], id=spec.lane, name=spec.lane, **kwargs)

    def remove(self, lane: str) -> None:
        """Stop scheduling a lane (a run in progress finishes its batch and releases the lease)."""
        self._scheduler.remove_job(lane)

    def start(self) -> None:
        self._scheduler.start()

    def lanes(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs() if job.id not in (HEARTBEAT, WATCH, REPLICAS)]

    def watch_replicas(self) -> None:
        """Share the lanes with the other live replicas: beat now (so the first runs are already
        shared), then every sixth of `daemon.lease_seconds` on an executor of its own (never queued
        behind lanes), recomputing this replica's share each time."""
        self._mine = frozenset()
        self.replicas.beat()
        self._rebalance(self.lanes())
        self._scheduler.add_executor(ThreadPoolExecutor(max_workers=1), REPLICAS)

        def beat() -> None:
            self.replicas.beat()
            self._rebalance(self.lanes())

        self._scheduler.add_job(beat, IntervalTrigger(seconds=self.replicas.interval, timezone="UTC"), id=REPLICAS,
                                name=REPLICAS, executor=REPLICAS)

    def _rebalance(self, lanes: list[str]) -> None:
        """Recompute this replica's share of `lanes` (when it watches the replicas)."""
        if self._mine is None:
            return
        share = frozenset(self.replicas.share(lanes))
        gained, changed, self._mine = share - self._mine, share != self._mine, share
        if changed:
            log.info("lanes shared with the replicas", extra={"replicas": list(self.replicas.members),
                                                              "mine": len(share), "lanes": len(set(lanes))})
        if gained:
            self._catch_up(gained)

    def _last_starts(self, lanes: list[str]) -> dict[str, datetime] | None:
        """When each lane's last run (on any replica) started; None when the datastore cannot say."""
        try:
            with self.runtime.db.session() as session:
                return dict(session.execute(select(LaneRun.lane, LaneRun.started_at).where(LaneRun.lane.in_(lanes))).all())
        except Exception:
            log.warning("could not read the lanes' last runs", exc_info=True)
            return None

    def _catch_up(self, lanes: frozenset[str], retry_after: float = 0.0) -> None:
        """Bring the next run of `lanes` (interval schedules) forward to when each is due by its last
        run anywhere (its start plus the interval, at the earliest now + `retry_after`): a lane taken
        over from another replica keeps its rhythm instead of waiting for this replica's trigger."""
        if not self._scheduler.running:
            return  # not started: every lane's first run is right away anyway
        last = self._last_starts(sorted(lanes))
        if last is None:
            return
        now = self.clock.now()
        for lane in lanes:
            job = self._scheduler.get_job(lane)
            every = job.args[0].schedule.every if job else None
            if every is None or job.next_run_time is None:
                continue
            due = max(last[lane] + timedelta(seconds=every) if lane in last else now, now + timedelta(seconds=retry_after))
            if due < job.next_run_time:
                job.modify(next_run_time=due)

    def watch_connections(self, seconds: float) -> None:
        """Every `seconds`, start a lane for each stored partner connection added (or enabled) and
        stop the lanes of those removed (or disabled); leases keep each lane to one replica at a time.
        Runs on every replica, outside the leases (each keeps its own scheduler's lanes)."""
        self._scheduler.add_job(self.sync_connection_lanes, IntervalTrigger(seconds=seconds, timezone="UTC"), id=WATCH,
                                name=WATCH, next_run_time=self.clock.now())

    def sync_connection_lanes(self) -> None:
        """Make the stored connections' lanes match the table (one read; see `watch_connections`)."""
        try:
            self.runtime.refresh_connections()
        except Exception:
            log.exception("could not read the stored partner connections")
            return
        connections = self.runtime.settings.connections
        wanted = {f"sync:{name}": name for name in connections if name not in self.runtime.configured}
        current = {job.id: job for job in self._scheduler.get_jobs() if job.id.startswith("sync:")
                   and job.id.removeprefix("sync:") not in self.runtime.configured}
        for lane, job in current.items():
            spec: JobSpec = job.args[0]
            if lane not in wanted or spec.schedule != connections[spec.connection or ""].schedule:
                self.remove(lane)
                log.info("lane %s stopped: its partner connection was removed or changed", lane)
        lanes = self.lanes()
        added = {lane: name for lane, name in wanted.items() if lane not in lanes}
        self._rebalance(lanes + list(added))  # before the first runs, which are right away
        for lane, name in added.items():
            try:
                self.runtime.profile(name)
            except ProfileError as exc:
                log.error("lane %s not started: mapping profile problem: %s", lane, exc.problems[0])
                continue
            self.add(JobSpec(lane=lane, schedule=connections[name].schedule, run=sync_lane.run, connection=name))
            log.info("lane %s started for a stored partner connection", lane)

    def run_lane(self, spec: JobSpec) -> bool:
        """One run of a lane. Returns False when the lease is held elsewhere (nothing ran)."""
        if self.shutdown_requested.is_set():
            return False
        if self._mine is not None and (spec.lane not in self._mine or self._ran_lately(spec)):
            return False  # another replica's share, or it ran this period on one that had it until now
        with log_context(spec.lane, spec.connection):
            if not self.leases.acquire(spec.lane):
                log.debug("lane %s is held by another daemon; skipping this run", spec.lane)
                if self._mine is not None:  # ours now: try again once the holder is done or its lease lapsed
                    self._catch_up(frozenset([spec.lane]), retry_after=self.leases.ttl.total_seconds() / 3)
                return False
            lost = threading.Event()
            context = JobContext(
                lane=spec.lane,
                runtime=self.runtime,
                log=logging.getLogger(f"connector.lane.{spec.lane}"),
                shutdown=self.shutdown_requested,
                lease_lost=lost,
                connection=spec.connection,
            )
            started = self.clock.now()
            with self.leases.held(spec.lane, lost):
                log.log(spec.log_level, "lane run started")
                try:
                    spec.run(context)
                except Exception as exc:
                    log.exception("lane run failed")
                    context.outcome = "failed"
                    context.report["error"] = f"{type(exc).__name__}: {exc}"[:2000]
                self._record(context, started)
                if context.outcome == "failed":
                    return True
            log.log(spec.log_level, "lane run finished",
                    extra={"seconds": round((self.clock.now() - started).total_seconds(), 3)})
            return True

    def _ran_lately(self, spec: JobSpec) -> bool:
        """True when the lane's last run, on any replica, started less than half its interval ago."""
        if spec.schedule.every is None:
            return False
        last = (self._last_starts([spec.lane]) or {}).get(spec.lane)
        return last is not None and last > self.clock.now() - timedelta(seconds=spec.schedule.every / 2)

    def _record(self, context: JobContext, started: datetime) -> None:
        """Keep the run's outcome in `lane_runs` (what lane state and metrics read); never fail the lane."""
        try:
            with self.runtime.db.session() as session:
                record_run(session, context.lane, context.connection, context.outcome, started, self.clock.now(),
                           **context.report)
        except Exception:
            log.exception("could not record the lane run")

    def add_heartbeat(self, beat: Callable[[], object], seconds: float) -> None:
        """Call `beat` every `seconds` while the scheduler's own thread runs jobs (systemd's watchdog)."""
        self._scheduler.add_executor(ThreadPoolExecutor(max_workers=1), HEARTBEAT)  # never queued behind lanes
        self._scheduler.add_job(beat, IntervalTrigger(seconds=seconds, timezone="UTC"), id=HEARTBEAT, name=HEARTBEAT,
                                executor=HEARTBEAT, next_run_time=self.clock.now())

    def stop(self) -> None:
        """Take no new runs; wait for running lanes to finish their current batch (they release leases)."""
        self.shutdown_requested.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._mine is not None:
            self.replicas.leave()
