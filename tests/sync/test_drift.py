"""The drift report against the HubSpot emulator: differences planted behind UPM's back through
the emulator's control endpoints (a changed field, a deleted record, a record UPM never saw) are
each reported, nothing is written on either side, and the result shows in `status` (also when
the scheduled job made it)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import requests
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.cli import main
from connector.jobs import drift_report
from connector.jobs.context import JobContext
from connector.runtime import Runtime
from connector.store.bindings import Binding
from connector.store.drift import DriftResult
from connector.store.outbox import OutboxEntry
from connector.store.records import Account, Contact

from .conftest import HubSpotSetup
from .test_engine_hubspot import seed_crm


def control(hs: HubSpotSetup, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = requests.request(method, f"{hs.running.base_url}/__emulator/records/0/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def cli(hs: HubSpotSetup, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(hs.config_path), *args], catch_exceptions=False)


def by_object(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["module"]: o for o in report["objects"]}


def snapshot(hs: HubSpotSetup) -> tuple[Any, ...]:
    with hs.db.session() as s:
        return (sorted(s.execute(select(Contact.id, Contact.last_name, Contact.archived_at)).all()),
                sorted(s.execute(select(Account.id, Account.name, Account.archived_at)).all()),
                s.scalar(select(func.count()).select_from(Binding)),
                s.scalar(select(func.count()).select_from(OutboxEntry)), hs.writes())


def test_drift_report_finds_each_planted_difference_and_writes_nothing(hs: HubSpotSetup) -> None:
    ids = seed_crm(hs)
    hs.cycle()
    clean = json.loads(cli(hs, "reconcile", "hs", "--report", "--json").output)
    assert clean["in_sync"] is True
    objects = by_object(clean)
    assert (objects["contact"]["crm_records"], objects["contact"]["bound"]) == (5, 5)
    assert (objects["account"]["crm_records"], objects["account"]["bound"]) == (3, 3)

    control(hs, "POST", "contacts", {"id": ids["contact3"], "properties": {"lastname": "Renamed"}})
    control(hs, "DELETE", f"companies/{ids['company1']}")
    stranger = control(hs, "POST", "contacts", {"properties": {"email": "new@example.com", "lastname": "New"}})["id"]
    before = snapshot(hs)
    result = cli(hs, "reconcile", "hs", "--report", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert snapshot(hs) == before, "a drift report writes nothing to UPM or the CRM"
    assert report["in_sync"] is False
    contacts, accounts = by_object(report)["contact"], by_object(report)["account"]
    assert (contacts["crm_records"], contacts["missing_in_upm"], contacts["missing_in_crm"], contacts["differing"]) == \
        (6, 1, 0, 1)
    assert contacts["missing_in_upm_ids"] == [stranger]
    (difference,) = contacts["differences"]
    with hs.db.session() as s:
        renamed = s.scalars(select(Binding.record_id).where(Binding.crm_id == ids["contact3"])).one()
        company = s.scalars(select(Binding.record_id).where(Binding.crm_id == ids["company1"])).one()
    assert difference == {"crm_id": ids["contact3"], "record_id": renamed,
                          "fields": {"last_name": {"upm": "Person 3", "crm": "Renamed"}}}
    assert (accounts["crm_records"], accounts["missing_in_crm"], accounts["differing"]) == (2, 1, 0)
    assert accounts["missing_in_crm_ids"] == [{"crm_id": ids["company1"], "record_id": company}]

    table = cli(hs, "reconcile", "hs", "--report", "--object", "contact")
    assert "DRIFTED" in table.output and f"CRM {stranger} is not in UPM" in table.output
    assert "last_name: UPM 'Person 3' / CRM 'Renamed'" in table.output
    status = json.loads(cli(hs, "status", "--json").output)
    (conn,) = status["connections"]
    assert conn["drift"]["in_sync"] is False
    assert (conn["drift"]["missing_in_upm"], conn["drift"]["missing_in_crm"], conn["drift"]["differing"]) == (1, 0, 1), \
        "status shows the latest result (the --object contact run)"
    assert "drift report" in cli(hs, "status").output
    refused = CliRunner().invoke(main, ["--config", str(hs.config_path), "reconcile", "hs"])
    assert refused.exit_code == 2 and "resync CONNECTION --full" in refused.output


def test_the_drift_job_reports_every_connection_into_status(hs: HubSpotSetup) -> None:
    seed_crm(hs)
    hs.cycle()
    runtime = Runtime(hs.settings, db=hs.db)
    context = JobContext(lane="job:drift", runtime=runtime, log=logging.getLogger("test"),
                         shutdown=threading.Event(), lease_lost=threading.Event())
    drift_report.run(context)
    with hs.db.session() as s:
        (result,) = s.scalars(select(DriftResult)).all()
        assert (result.connection, result.in_sync) == ("hs", True)
    status = json.loads(cli(hs, "status", "--json").output)
    assert status["connections"][0]["drift"]["in_sync"] is True
