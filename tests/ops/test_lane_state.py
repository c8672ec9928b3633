"""Lane states derived from what the datastore records, and the scheduler recording each run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from connector.api.app import create_app
from connector.clock import ManualClock
from connector.config.settings import ScheduleSettings, Settings
from connector.jobs.context import JobContext
from connector.daemon.lease import LeaseStore
from connector.daemon.scheduler import LaneScheduler
from connector.jobs import JobSpec
from connector.leads.service import LeadService
from connector.runtime import Runtime
from connector.store import Database
from connector.store.cursors import SyncCursor
from connector.store.lane_runs import LaneRun, record_run
from connector.store.leases import Lease
from connector.store.partner_connections import PartnerConnection
from connector.store.tokens import OAuthToken
from connector.sync.lane_state import LaneState, derive_state, lane_states
from support.partners import ensure_partner

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def settings(enabled: bool = True) -> Settings:
    return Settings.model_validate({"connections": {"crm": {
        "adapter": "salesforce", "enabled": enabled, "mapping": "crm.yaml",
        "auth": {"type": "emulator"}}}})


def state(**facts: object) -> LaneState:
    defaults: dict[str, object] = dict(enabled=True, token_status=None, needs_resync=False, run={}, holder=None, now=NOW)
    return derive_state(**{**defaults, **facts})[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(("facts", "expected"), [
    ({}, LaneState.OK),
    ({"run": {"outcome": "ok"}}, LaneState.OK),
    ({"holder": "host:1"}, LaneState.SYNCING),
    ({"run": {"outcome": "failed", "consecutive_failures": 2, "error": "boom"}, "holder": "h"}, LaneState.FAILING),
    ({"run": {"outcome": "quota", "resumes_at": NOW + timedelta(hours=1)}}, LaneState.PAUSED_QUOTA),
    ({"run": {"outcome": "quota", "resumes_at": None}}, LaneState.PAUSED_QUOTA),
    ({"run": {"outcome": "quota", "resumes_at": NOW - timedelta(minutes=1)}}, LaneState.OK),
    ({"needs_resync": True, "run": {"outcome": "failed"}}, LaneState.NEEDS_FULL_RESYNC),
    ({"token_status": "needs_reauth", "needs_resync": True}, LaneState.NEEDS_AUTH),
    ({"run": {"outcome": "auth"}}, LaneState.NEEDS_AUTH),
    ({"enabled": False, "token_status": "needs_reauth"}, LaneState.DISABLED),
])
def test_the_most_pressing_fact_names_the_state(facts: dict[str, object], expected: LaneState) -> None:
    assert state(**facts) is expected


def test_lane_states_read_runs_tokens_cursors_and_leases(db: Database) -> None:
    with db.session() as s:
        record_run(s, "notifications:delivery", None, "failed", NOW, NOW, error="SMTPServerDisconnected: gone")
        record_run(s, "leads:aging-sweep", None, "ok", NOW, NOW)
        s.add(Lease(lane="leads:aging-sweep", owner="other:7", acquired_at=NOW, expires_at=NOW + timedelta(seconds=30)))
        s.add(SyncCursor(connection="crm", crm_object="Account", module="accounts", needs_reconcile=True))
    by_lane = {lane.lane: lane for lane in lane_states(settings(), db, NOW)}
    assert {name: lane.state for name, lane in by_lane.items()} == {
        "sync:crm": LaneState.NEEDS_FULL_RESYNC,
        "notifications:delivery": LaneState.FAILING,
        "leads:aging-sweep": LaneState.SYNCING,
    }
    assert "SMTPServerDisconnected" in by_lane["notifications:delivery"].reason
    assert by_lane["leads:aging-sweep"].holder == "other:7"
    with db.session() as s:
        s.add(OAuthToken(connection="crm", status="needs_reauth"))
    assert lane_states(settings(), db, NOW)[-1].state is LaneState.NEEDS_AUTH
    assert lane_states(settings(enabled=False), db, NOW)[-1].state is LaneState.DISABLED


def test_record_run_rejects_an_unknown_outcome(db: Database) -> None:
    with pytest.raises(ValueError, match="lane outcome must be one of"), db.session() as s:
        record_run(s, "x", None, "meh", NOW, NOW)


def _scheduler(db: Database, clock: ManualClock) -> LaneScheduler:
    return LaneScheduler(Runtime(Settings(), clock=clock, db=db), LeaseStore(db, "me:1", 30, clock))


def test_the_scheduler_records_failures_in_a_row_then_the_success(db: Database) -> None:
    clock = ManualClock(NOW)
    scheduler = _scheduler(db, clock)
    calls: list[int] = []

    def flaky(context: JobContext) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(f"attempt {len(calls)} broke")
        context.report.update(records_read=7)

    spec = JobSpec(lane="job:flaky", schedule=ScheduleSettings(every=60), run=flaky)
    for expected in (1, 2):
        scheduler.run_lane(spec)
        with db.session() as s:
            row = s.get(LaneRun, "job:flaky")
            assert row is not None and (row.outcome, row.consecutive_failures) == ("failed", expected)
            assert row.error == f"RuntimeError: attempt {expected} broke" and row.last_success_at is None
    assert lane_states(Settings(), db, NOW)[0].state is LaneState.FAILING
    clock.advance(seconds=5)
    scheduler.run_lane(spec)
    with db.session() as s:
        row = s.get(LaneRun, "job:flaky")
        assert row is not None and (row.outcome, row.consecutive_failures, row.records_read) == ("ok", 0, 7)
        assert row.last_success_at == NOW + timedelta(seconds=5) and row.error is None
    assert lane_states(Settings(), db, clock.now())[0].state is LaneState.OK


def test_a_paused_lane_is_recorded_with_its_outcome(db: Database) -> None:
    clock = ManualClock(NOW)

    def spent(context: JobContext) -> None:
        context.outcome = "quota"
        context.report.update(error="REQUEST_LIMIT_EXCEEDED", resumes_at=NOW + timedelta(hours=2), quota_used=15000,
                              quota_limit=15000)

    _scheduler(db, clock).run_lane(JobSpec(lane="sync:crm", schedule=ScheduleSettings(every=60), run=spent,
                                           connection="crm"))
    (lane,) = lane_states(settings(), db, NOW)
    assert lane.state is LaneState.PAUSED_QUOTA and "until 2026-12-01T14:00:00" in lane.reason
    assert lane.run["quota_limit"] == 15000


def test_partner_connections_held_in_the_datastore_have_lanes_with_state(db: Database) -> None:
    """/readyz, /metrics and `lane_states` list the stored partner connections, enabled or not,
    read from the datastore (no refresh of the settings needed)."""
    with db.session() as s:
        acme = ensure_partner(s, "Acme Resellers")
        gone = ensure_partner(s, "Gone Resellers")
        gone.active = False
        for name, partner, enabled in (("acme-hs", acme.id, True), ("acme-off", acme.id, False), ("gone-hs", gone.id, True)):
            s.add(PartnerConnection(name=name, partner_account_id=partner, adapter="hubspot", profile="p.yaml",
                                    schedule={"every": 60}, auth={"type": "oauth"}, options={}, enabled=enabled))
        record_run(s, "sync:acme-hs", "acme-hs", "failed", NOW, NOW, error="ConnectionError: refused")
    by_lane = {lane.lane: lane for lane in lane_states(settings(), db, NOW)}
    assert {lane: status.state for lane, status in by_lane.items()} == {
        "sync:crm": LaneState.OK, "sync:acme-hs": LaneState.FAILING,
        "sync:acme-off": LaneState.DISABLED, "sync:gone-hs": LaneState.DISABLED}

    client = TestClient(create_app(db, lambda: True, LeadService(db, Settings().leads, ManualClock(NOW)),
                                   settings=settings(), clock=ManualClock(NOW)))
    ready = client.get("/readyz")
    assert ready.json()["lanes"] == {"sync:acme-hs": "FAILING", "sync:acme-off": "DISABLED", "sync:crm": "OK",
                                     "sync:gone-hs": "DISABLED"}
    metrics = client.get("/metrics").text
    assert 'upm_connector_lane_state{lane="sync:acme-off",state="DISABLED"} 1.0' in metrics
    assert 'upm_connector_lane_state{lane="sync:acme-hs",state="FAILING"} 1.0' in metrics
    assert 'upm_connector_lane_consecutive_failures{lane="sync:acme-hs"} 1.0' in metrics
