"""The aging sweep on a datastore with an injected clock: reminders once per deadline, pullback and
redistribution past it, manual review when every partner had the lead, dry run, CLI and job."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from leads.conftest import CAM, Make
from sqlalchemy import func, select

from connector.cli.leads import sweep_command
from connector.clock import ManualClock
from connector.config.settings import LeadSettings, Settings
from connector.jobs.context import JobContext
from connector.jobs import aging_sweep
from connector.leads import lifecycle
from connector.leads.aging import NO_ACTIVITY, NOT_ACCEPTED, SweepReport, sweep
from connector.leads.service import LeadService
from connector.runtime import Runtime
from connector.store import Database
from connector.store.assignments import AssignmentHistory
from connector.store.notifications import Notification
from connector.store.records import Prospect

from .support_delivery import aging_rule

ACME_REP, BETA_REP = "rep0@acme.example", "rep0@beta.example"


@pytest.fixture
def world(db: Database, make: Make, service: LeadService) -> dict[str, int]:
    """Acme and Beta (USA) in the round-robin group "US Resellers"; an aging rule for the group in
    the USA: accept within 24 hours (greater than), and no more than 3 days without activity."""
    ids = {"acme": make.partner("Acme", countries=("USA",)), "beta": make.partner("Beta", countries=("USA",))}
    ids["group"] = make.group("US Resellers", [ids["acme"], ids["beta"]])
    service.save_rules([{"name": "us", "countries": ["USA"], "target": "group:US Resellers", "model": "round_robin"}])
    aging_rule(db, "US resellers", green_days=1, yellow_days=3, group_id=ids["group"], country="USA", revoke=[
        {"name": "accept within 24h", "condition": NOT_ACCEPTED, "operator": "greater_than", "hours": 24},
        {"name": "3 days idle", "condition": NO_ACTIVITY, "operator": "greater_than", "days": 3}])
    return ids


def _lead(make: Make, service: LeadService) -> int:
    return service.distribute(make.lead(country="USA", segment="Enterprise")).prospect_id


def _sweep(db: Database, settings: LeadSettings, clock: ManualClock, dry_run: bool = False) -> SweepReport:
    return sweep(db, settings.model_copy(update={"review_recipients": [CAM]}), clock, dry_run)


def test_a_reminder_comes_once_per_deadline_before_it(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, service: LeadService, world: dict[str, int],
) -> None:
    lead = _lead(make, service)
    assert make.prospect(lead).partner_account_id == world["acme"]
    clock.advance(hours=11)
    assert _sweep(db, settings, clock).reminders == []
    clock.advance(hours=1)  # half-way through the 24 hours to accept
    first = _sweep(db, settings, clock)
    assert [(a.deadline.name, a.recipients) for a in first.reminders] == [("accept within 24h", (ACME_REP,))]
    clock.advance(hours=2)
    assert _sweep(db, settings, clock).reminders == [], "the same deadline is reminded once"
    assert make.emails("reminder") == [("reminder", ACME_REP)]

    acme_rep = make.users_of(world["acme"])[0]
    service.accept(lead, acme_rep)
    clock.advance(days=2, hours=1)  # 1 day before "3 days idle" from the acceptance
    idle = _sweep(db, settings, clock)
    assert [a.deadline.name for a in idle.reminders] == ["3 days idle"]
    service.log_activity(lead, acme_rep, "call", "first call")
    clock.advance(hours=1)
    assert _sweep(db, settings, clock).reminders == [], "the activity moved the deadline away"
    assert make.emails("reminder") == [("reminder", ACME_REP)] * 2
    with db.session() as s:
        subjects = list(s.scalars(select(Notification.subject).where(Notification.kind == "reminder")))
    assert subjects[0].startswith("Reminder: Lee Ead (Customer Inc) - accept it by 2026-03-03 09:00 UTC")


def test_past_the_deadline_the_lead_is_pulled_back_and_redistributed_then_reviewed(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, service: LeadService, world: dict[str, int],
) -> None:
    lead = _lead(make, service)
    clock.advance(hours=24)
    assert _sweep(db, settings, clock).pullbacks == [], "greater than 24 hours: not at exactly 24"
    clock.advance(seconds=1)
    report = _sweep(db, settings, clock)
    assert [(a.prospect_id, a.outcome.state if a.outcome else None, a.outcome.account_id if a.outcome else None)
            for a in report.pullbacks] == [(lead, lifecycle.ASSIGNED, world["beta"])]
    prospect = make.prospect(lead)
    assert (prospect.partner_account_id, prospect.previous_holder_ids) == (world["beta"], [world["acme"]])
    assert ("pulled_back", "account", world["acme"]) in make.assignment_actions(lead)
    assert make.emails() == [("assignment", ACME_REP), ("reminder", ACME_REP), ("pullback", ACME_REP),
                             ("assignment", BETA_REP)]

    clock.advance(hours=24, seconds=1)
    last = _sweep(db, settings, clock)
    assert [a.outcome.state if a.outcome else None for a in last.pullbacks] == [lifecycle.MANUAL_REVIEW]
    assert make.prospect(lead).previous_holder_ids == [world["acme"], world["beta"]]
    assert make.emails()[-2:] == [("pullback", BETA_REP), ("manual_review", CAM)]
    clock.advance(days=30)
    assert _sweep(db, settings, clock).checked == 0, "a lead in manual review is nobody's to lose"


def test_the_segment_sla_pulls_back_a_lead_not_converted_in_time(
    db: Database, clock: ManualClock, make: Make, service: LeadService, world: dict[str, int],
) -> None:
    settings = LeadSettings(segment_sla_days={"SMB": 7})
    lead = service.distribute(make.lead(country="GBR", segment="SMB")).prospect_id  # no aging rule for GBR
    make.update(Prospect, lead, distribution_state=lifecycle.ACCEPTED, partner_account_id=world["acme"],
                assigned_at=clock.now(), accepted_at=clock.now())
    clock.advance(days=6, hours=12)
    assert [a.deadline.name for a in sweep(db, settings, clock).reminders] == ["segment SLA SMB (7 days)"]
    clock.advance(hours=12, seconds=1)
    report = sweep(db, settings, clock)
    assert [a.deadline.name for a in report.pullbacks] == ["segment SLA SMB (7 days)"]
    assert make.prospect(lead).previous_holder_ids == [world["acme"]]


def test_dry_run_reports_and_writes_nothing(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, service: LeadService, world: dict[str, int],
) -> None:
    due = _lead(make, service)
    clock.advance(hours=13)
    reminded = _lead(make, service)
    clock.advance(hours=12)

    def snapshot() -> tuple[int, int, list[int | None]]:
        with db.session() as s:
            return (int(s.scalar(select(func.count()).select_from(Notification)) or 0),
                    int(s.scalar(select(func.count()).select_from(AssignmentHistory)) or 0),
                    [p.partner_account_id for p in s.scalars(select(Prospect).order_by(Prospect.id))])

    before = snapshot()
    report = _sweep(db, settings, clock, dry_run=True)
    assert snapshot() == before
    assert [a.prospect_id for a in report.pullbacks] == [due] and [a.prospect_id for a in report.reminders] == [reminded]
    lines = report.lines()
    assert lines[-1] == "2 held lead(s) checked; would send 1 reminder(s) and pull back 1 lead(s)"
    assert lines[0].startswith(f"remind   lead {reminded} Lee Ead (Customer Inc): accept within 24h: accept it by")
    assert lines[1].startswith(f"pullback lead {due} Lee Ead (Customer Inc): accept within 24h passed 2026-03-03 09:00")


def test_cli_sweep_dry_run_then_for_real(db: Database, make: Make, service: LeadService, world: dict[str, int],
                                         tmp_path: Path) -> None:
    lead = _lead(make, service)
    make.update(Prospect, lead, assigned_at=datetime.now(timezone.utc) - timedelta(days=2))
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: \"{db.url}\"\nlogging:\n  format: text\n", encoding="utf-8")
    root = click.Group("upm-connector", commands=[click.Group("leads", commands=[sweep_command])])

    dry = CliRunner().invoke(root, ["leads", "sweep", "--dry-run"], obj={"config_path": config})
    assert dry.exit_code == 0, dry.output
    assert f"pullback lead {lead} " in dry.output and "would send 0 reminder(s) and pull back 1 lead(s)" in dry.output
    assert make.prospect(lead).partner_account_id == world["acme"]

    real = CliRunner().invoke(root, ["leads", "sweep"], obj={"config_path": config})
    assert real.exit_code == 0, real.output
    assert "did send 0 reminder(s) and pull back 1 lead(s)" in real.output and "-> assigned to partner" in real.output
    assert make.prospect(lead).partner_account_id == world["beta"]


def test_the_job_sweeps_with_the_daemon_clock(
    db: Database, clock: ManualClock, make: Make, service: LeadService, world: dict[str, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    lead = _lead(make, service)
    clock.advance(days=2)
    context = JobContext(lane=aging_sweep.LANE, runtime=Runtime(Settings(), clock=clock, db=db),
                         log=logging.getLogger("test.sweep"), shutdown=threading.Event(), lease_lost=threading.Event())
    with caplog.at_level(logging.INFO, logger="test.sweep"):
        aging_sweep.run(context)
    assert make.prospect(lead).partner_account_id == world["beta"]
    assert "pull back 1 lead(s)" in caplog.text
