"""Prometheus `/metrics`: lane facts read from the datastore at scrape time, and this process's HTTP.

The lane, outbox, failure and notification gauges come from a custom collector that queries the
datastore on every scrape, so any replica answers the same. HTTP request counts and latencies are
this process's own (a counter and a histogram fed by a middleware).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from connector.clock import Clock
from connector.config.settings import Settings
from connector.store.cursors import SyncCursor
from connector.store.database import Database
from connector.store.failures import FailedRecord
from connector.store.notifications import Notification
from connector.store.outbox import OutboxEntry
from connector.sync.lane_state import LaneState, LaneStatus, lane_states

PREFIX = "upm_connector"


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value else None


class DatastoreCollector(Collector):
    """Every gauge a scrape reads from the datastore (lanes, cursors, outbox, failures, notifications)."""

    def __init__(self, settings: Settings, db: Database, clock: Clock):
        self.settings, self.db, self.clock = settings, db, clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        lanes = lane_states(self.settings, self.db, now)
        yield from self._lanes(lanes)
        yield from self._lag(now)
        yield from self._queues(now)

    def _lanes(self, lanes: list[LaneStatus]) -> Iterator[Metric]:
        state = GaugeMetricFamily(f"{PREFIX}_lane_state", "1 for the lane's current state, 0 for the others",
                                  labels=["lane", "state"])
        holder = GaugeMetricFamily(f"{PREFIX}_lane_lease_held", "1 while a daemon holds the lane's lease",
                                   labels=["lane", "holder"])
        per_run = {
            "last_success_timestamp_seconds": ("When the lane's last successful run finished", "last_success_at"),
            "last_run_timestamp_seconds": ("When the lane's last run finished", "finished_at"),
            "consecutive_failures": ("Failed runs in a row", "consecutive_failures"),
            "records_read": ("Records the last run read", "records_read"),
            "records_written": ("Records the last run wrote (created, updated, archived, pushed)", "records_written"),
            "records_failed": ("Records the last run failed", "records_failed"),
            "api_calls": ("CRM API calls the last run made", "api_calls"),
        }
        families = {key: GaugeMetricFamily(f"{PREFIX}_lane_{key}", text, labels=["lane"])
                    for key, (text, _) in per_run.items()}
        quota = GaugeMetricFamily(f"{PREFIX}_crm_quota_remaining",
                                  "CRM API calls left in the window, as the CRM last reported", labels=["connection", "window"])
        limit = GaugeMetricFamily(f"{PREFIX}_crm_quota_limit", "The CRM's API allocation for the window",
                                  labels=["connection", "window"])
        for lane in lanes:
            for candidate in LaneState:
                state.add_metric([lane.lane, candidate.value], 1.0 if lane.state is candidate else 0.0)
            if lane.holder:
                holder.add_metric([lane.lane, lane.holder], 1.0)
            for key, (_, column) in per_run.items():
                value = lane.run.get(column)
                value = _epoch(value) if isinstance(value, datetime) else value
                if value is not None:
                    families[key].add_metric([lane.lane], float(value))
            if lane.connection is None:
                continue
            for window, used, cap, remaining in (
                ("day", lane.run.get("quota_used"), lane.run.get("quota_limit"), None),
                ("10s", None, lane.run.get("rate_limit"), lane.run.get("rate_remaining")),
            ):
                if cap is None:
                    continue
                limit.add_metric([lane.connection, window], float(cap))
                left = remaining if remaining is not None else (cap - used if used is not None else None)
                if left is not None:
                    quota.add_metric([lane.connection, window], float(left))
        yield from (state, holder, *families.values(), quota, limit)

    def _lag(self, now: datetime) -> Iterator[Metric]:
        lag = GaugeMetricFamily(f"{PREFIX}_cursor_lag_seconds", "Now minus the change cursor, per synced object",
                                labels=["connection", "object", "module"])
        with self.db.session() as session:
            for cursor in session.scalars(select(SyncCursor).where(SyncCursor.changes_at.is_not(None))):
                assert cursor.changes_at is not None
                lag.add_metric([cursor.connection, cursor.crm_object, cursor.module],
                               (now - cursor.changes_at).total_seconds())
        yield lag

    def _queues(self, now: datetime) -> Iterator[Metric]:
        depth = GaugeMetricFamily(f"{PREFIX}_outbox_pending", "Outbox rows waiting to be sent", labels=["connection"])
        oldest = GaugeMetricFamily(f"{PREFIX}_outbox_oldest_age_seconds", "Age of the oldest pending outbox row",
                                   labels=["connection"])
        failed = GaugeMetricFamily(f"{PREFIX}_failed_records_open", "Failed records waiting for a person",
                                   labels=["connection"])
        waiting = GaugeMetricFamily(f"{PREFIX}_notifications_pending", "Notifications waiting to be sent")
        with self.db.session() as session:
            pending = (select(OutboxEntry.connection, func.count(), func.min(OutboxEntry.created_at))
                       .where(OutboxEntry.status == "pending").group_by(OutboxEntry.connection))
            for connection, count, first in session.execute(pending):
                depth.add_metric([connection], float(count))
                oldest.add_metric([connection], max(0.0, (now - first).total_seconds()))
            open_failures = (select(FailedRecord.connection, func.count())
                             .where(FailedRecord.status == "open").group_by(FailedRecord.connection))
            for connection, count in session.execute(open_failures):
                failed.add_metric([connection], float(count))
            waiting.add_metric([], float(session.scalar(
                select(func.count()).select_from(Notification).where(Notification.status == "pending")) or 0))
        yield from (depth, oldest, failed, waiting)


def install_metrics(app: FastAPI, settings: Settings, db: Database, clock: Clock) -> CollectorRegistry:
    """Serve `/metrics` on `app` and count its HTTP requests; returns the app's own registry."""
    registry = CollectorRegistry()
    registry.register(DatastoreCollector(settings, db, clock))
    requests = Counter(f"{PREFIX}_http_requests", "HTTP requests served", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram(f"{PREFIX}_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        latency.labels(request.method, route).observe(time.perf_counter() - started)
        requests.labels(request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """The Prometheus text exposition of every metric above."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry
