"""`/metrics` and `/readyz` answer from the datastore: lane states, quotas, queues, HTTP counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from connector.api.app import create_app
from connector.clock import ManualClock
from connector.config.settings import Settings
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.cursors import SyncCursor
from connector.store.failures import FailedRecord
from connector.store.lane_runs import record_run
from connector.store.leases import Lease
from connector.store.notifications import Notification
from connector.store.outbox import OutboxEntry
from crm_emulators.runner import BackgroundServer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def settings(**daemon: object) -> Settings:
    return Settings.model_validate({"daemon": daemon, "connections": {
        "sf": {"adapter": "salesforce", "mapping": "sf.yaml", "auth": {"type": "emulator"}},
        "hs": {"adapter": "hubspot", "mapping": "hs.yaml", "auth": {"type": "emulator"}}}})


class Api:
    def __init__(self, base_url: str):
        self.base_url = base_url

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base_url + path, timeout=10)


@contextmanager
def serving(db: Database, config: Settings, scheduler: bool = True) -> Iterator[Api]:
    """The daemon's app on a loopback port, its clock stopped at NOW."""
    clock = ManualClock(NOW)
    app = create_app(db, lambda: scheduler, LeadService(db, config.leads, clock), config.http, config, clock)
    with BackgroundServer(app) as server:
        yield Api(server.base_url)


def get(db: Database, config: Settings, path: str, scheduler: bool = True) -> requests.Response:
    with serving(db, config, scheduler) as api:
        return api.get(path)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def seed(db: Database) -> None:
    with db.session() as s:
        record_run(s, "sync:sf", "sf", "quota", NOW - timedelta(minutes=2), NOW - timedelta(minutes=1),
                   resumes_at=NOW + timedelta(hours=3), quota_used=15000, quota_limit=15000, api_calls=12)
        record_run(s, "sync:hs", "hs", "ok", NOW - timedelta(minutes=5), NOW - timedelta(minutes=4),
                   records_read=250, records_written=40, records_failed=2, api_calls=9,
                   quota_used=1000, quota_limit=250000, rate_remaining=180, rate_limit=190)
        s.add(Lease(lane="sync:hs", owner="pod-b:1", acquired_at=NOW, expires_at=NOW + timedelta(seconds=60)))
        s.add(SyncCursor(connection="hs", crm_object="contacts", module="prospects", changes_at=NOW - timedelta(seconds=90)))
        s.add_all([OutboxEntry(connection="hs", module="prospects", record_id=i, created_at=NOW - timedelta(seconds=30 * i))
                   for i in (1, 2, 3)])
        s.add(OutboxEntry(connection="hs", module="prospects", record_id=9, status="sent", created_at=NOW - timedelta(days=1)))
        s.add(FailedRecord(connection="hs", direction="to_crm", module="prospects", crm_object="contacts",
                           error_message="INVALID_EMAIL"))
        s.add(Notification(kind="assignment", recipient="a@example.com", subject="s", body="b", dedupe_key="k1",
                           message_id="<1@x>"))


def test_metrics_report_lanes_quotas_queues_and_http(db: Database) -> None:
    seed(db)
    with serving(db, settings()) as api:
        assert api.get("/healthz").status_code == 200
        response = api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    lane = "upm_connector_lane_state"
    assert got[(lane, (("lane", "sync:sf"), ("state", "PAUSED_QUOTA")))] == 1.0
    assert got[(lane, (("lane", "sync:sf"), ("state", "OK")))] == 0.0
    assert got[(lane, (("lane", "sync:hs"), ("state", "SYNCING")))] == 1.0
    assert got[("upm_connector_lane_lease_held", (("holder", "pod-b:1"), ("lane", "sync:hs")))] == 1.0
    assert got[("upm_connector_lane_records_read", (("lane", "sync:hs"),))] == 250
    assert got[("upm_connector_lane_records_failed", (("lane", "sync:hs"),))] == 2
    assert got[("upm_connector_lane_api_calls", (("lane", "sync:sf"),))] == 12
    assert got[("upm_connector_lane_last_success_timestamp_seconds", (("lane", "sync:hs"),))] == (
        NOW - timedelta(minutes=4)).timestamp()
    assert ("upm_connector_lane_last_success_timestamp_seconds", (("lane", "sync:sf"),)) not in got
    assert got[("upm_connector_crm_quota_remaining", (("connection", "sf"), ("window", "day")))] == 0
    assert got[("upm_connector_crm_quota_remaining", (("connection", "hs"), ("window", "day")))] == 249000
    assert got[("upm_connector_crm_quota_remaining", (("connection", "hs"), ("window", "10s")))] == 180
    assert got[("upm_connector_crm_quota_limit", (("connection", "hs"), ("window", "10s")))] == 190
    assert got[("upm_connector_cursor_lag_seconds",
                (("connection", "hs"), ("module", "prospects"), ("object", "contacts")))] == 90
    assert got[("upm_connector_outbox_pending", (("connection", "hs"),))] == 3
    assert got[("upm_connector_outbox_oldest_age_seconds", (("connection", "hs"),))] == 90
    assert got[("upm_connector_failed_records_open", (("connection", "hs"),))] == 1
    assert got[("upm_connector_notifications_pending", ())] == 1
    assert got[("upm_connector_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))] == 1
    assert got[("upm_connector_http_request_duration_seconds_count", (("method", "GET"), ("route", "/healthz")))] == 1
    # Another replica on the same database answers the same lane facts.
    again = samples(get(db, settings(), "/metrics").text)
    assert {k: v for k, v in again.items() if k[0].startswith("upm_connector_lane")} == {
        k: v for k, v in got.items() if k[0].startswith("upm_connector_lane")}


def test_readyz_fails_for_the_states_the_policy_names(db: Database) -> None:
    seed(db)
    with db.session() as s:
        record_run(s, "notifications:delivery", None, "failed", NOW, NOW, error="SMTPServerDisconnected: gone")
    answer = get(db, settings(), "/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready" and body["lanes"]["sync:sf"] == "PAUSED_QUOTA"
    assert body["reasons"] == ["lane notifications:delivery is FAILING: 1 failed run(s) in a row: SMTPServerDisconnected: gone"]
    paused = get(db, settings(ready_unless=["PAUSED_QUOTA"]), "/readyz")
    assert paused.status_code == 503 and paused.json()["reasons"][0].startswith("lane sync:sf is PAUSED_QUOTA")
    assert get(db, settings(ready_unless=[]), "/readyz").status_code == 200


def test_readyz_names_a_stopped_scheduler_and_a_dead_database(db: Database, tmp_path: Path) -> None:
    assert get(db, settings(), "/readyz", scheduler=False).json()["reasons"] == ["the scheduler is not running"]
    gone = Database(f"sqlite:///{tmp_path}/missing/dir/x.db")
    body = get(gone, settings(), "/readyz")
    assert body.status_code == 503 and body.json()["reasons"][0].startswith("the database does not answer")
    gone.dispose()


def test_an_unknown_state_in_the_policy_is_refused() -> None:
    with pytest.raises(ValidationError, match="ready_unless"):
        settings(ready_unless=["BROKEN"])
