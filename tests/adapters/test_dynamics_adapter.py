"""Dynamics-specific behaviour beyond the contract suite: change tracking, lookups written as binds
(a note's regarding record included), the client-credentials auth variant from a config, and batches
split at the adapter's batch size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.adapters.base import FatalError, NeedsFullResync
from connector.config import load_settings
from connector.runtime import Runtime
from connector.store import Database

from .conftest import Backends, RecordingSleep
from .harness_dynamics import DynamicsHarness


@pytest.fixture
def dynamics(crm_backends: Backends, db: Database, sleeps: RecordingSleep) -> Iterator[DynamicsHarness]:
    with crm_backends.get("dynamics").harness(db, sleep=sleeps) as harness:  # type: ignore[attr-defined]
        sleeps.advance = harness.advance_clock
        yield harness


def test_read_delta_yields_every_row_then_changes_and_removals(dynamics: DynamicsHarness) -> None:
    adapter = dynamics.adapter
    created = adapter.upsert("lead", "upm_id", [dynamics.new_record(n) for n in range(3)])
    pages = list(adapter.read_delta("lead", ["upm_id", "lastname"]))
    assert sorted(r.fields["upm_id"] for p in pages for r in p.changed) == ["upm-0", "upm-1", "upm-2"]
    link = pages[-1].delta_link
    assert link and all(p.delta_link is None for p in pages[:-1])

    dynamics.crm_edit(created[0].crm_id or "", {"lastname": "Edited"})
    adapter.delete("lead", [created[1].crm_id or ""])
    (page,) = list(adapter.read_delta("lead", ["upm_id", "lastname"], link))

    assert [(r.id, r.fields["lastname"]) for r in page.changed] == [(created[0].crm_id, "Edited")]
    assert page.removed == [created[1].crm_id]
    assert list(adapter.read_delta("lead", ["lastname"], page.delta_link))[0].changed == []


def test_deletes_come_from_the_delta_link_across_pages_not_the_audit_log(dynamics: DynamicsHarness) -> None:
    adapter = dynamics.make_adapter(page_size=2)
    created = adapter.upsert("lead", "upm_id", [dynamics.new_record(n) for n in range(5)])
    before = dynamics.emulator.stats()["api_calls"]["by_category"].get("query", 0)
    start = adapter.read_deleted_by_token("lead", None)
    assert dynamics.emulator.stats()["api_calls"]["by_category"]["query"] - before == 3  # ceil(5 / 2) pages of ids
    for n in (0, 1, 3):
        dynamics.crm_delete(created[n].crm_id or "")
    dynamics.crm_edit(created[2].crm_id or "", {"lastname": "Edited"})

    report = adapter.read_deleted_by_token("lead", start.next_token)

    assert start.ids == [] and report.ids == [created[n].crm_id for n in (0, 1, 3)]
    assert report.next_token != start.next_token
    assert "audit" not in dynamics.emulator.stats()["api_calls"]["by_category"]
    assert adapter.read_deleted_by_token("lead", report.next_token).ids == []


def test_a_delta_link_past_the_retention_needs_a_full_resync(dynamics: DynamicsHarness) -> None:
    adapter = dynamics.adapter
    adapter.upsert("lead", "upm_id", [dynamics.new_record(0)])
    start = adapter.read_deleted_by_token("lead", None)
    dynamics.advance_clock(dynamics.emulator.options.change_tracking_days * 86400 + 1)

    with pytest.raises(NeedsFullResync) as expired:
        adapter.read_deleted_by_token("lead", start.next_token)

    assert expired.value.code == "0x80044352"
    assert adapter.read_deleted_by_token("lead", None).next_token  # a fresh link starts again


def test_lookups_are_written_as_binds_and_read_back_as_values(dynamics: DynamicsHarness) -> None:
    adapter = dynamics.adapter
    (account,) = adapter.upsert("account", "upm_id", [{"upm_id": "upm-account-1", "name": "Northwind"}])
    (contact,) = adapter.upsert("contact", "upm_id", [{"upm_id": "upm-contact-1", "lastname": "Davolio",
                                                       "_parentcustomerid_value": account.crm_id}])
    (note,) = adapter.upsert("annotation", "upm_id", [{"upm_id": "upm-note-1", "notetext": "Called",
                                                       "objecttypecode": "contact", "_objectid_value": contact.crm_id}])
    (bad,) = adapter.upsert("annotation", "upm_id", [{"upm_id": "upm-note-2", "notetext": "?", "_objectid_value": contact.crm_id}])

    assert account.ok and contact.ok and note.ok
    (row,) = [r for page in adapter.read_changes("contact", None, ["_parentcustomerid_value"]) for r in page]
    assert row.fields["_parentcustomerid_value"] == account.crm_id
    (stored,) = dynamics.emulator.records("annotation")
    assert stored["_objectid_value"] == contact.crm_id
    assert not bad.ok and "objecttypecode" in (bad.error_message or "")


def test_a_bind_to_a_missing_record_fails_that_record_alone(dynamics: DynamicsHarness) -> None:
    results = dynamics.adapter.upsert("contact", "upm_id", [
        {"upm_id": "upm-contact-1", "lastname": "A", "_parentcustomerid_value": "00000000-0000-4000-8000-000000000000"},
        {"upm_id": "upm-contact-2", "lastname": "B"},
    ])
    assert [r.ok for r in results] == [False, True]
    assert results[0].error_code == "0x80040217" and not results[0].retriable


def test_writes_are_split_into_batches_of_the_configured_size(dynamics: DynamicsHarness) -> None:
    adapter = dynamics.make_adapter(batch_size=4)
    before = dynamics.emulator.stats()["api_calls"]["by_category"].get("batch", 0)
    results = adapter.upsert("lead", "upm_id", [dynamics.new_record(n) for n in range(10)])
    assert [r.outcome for r in results] == ["created"] * 10
    assert dynamics.emulator.stats()["api_calls"]["by_category"]["batch"] - before == 3
    with pytest.raises(ValueError):
        adapter.upsert("lead", "upm_id", [dynamics.new_record(n) for n in range(1001)])


def test_an_unknown_table_or_column_is_fatal(dynamics: DynamicsHarness) -> None:
    with pytest.raises(FatalError):
        list(dynamics.adapter.read_changes("lead", None, ["nosuchcolumn"]))
    with pytest.raises(FatalError):
        dynamics.adapter.describe("nosuchtable")


def test_client_credentials_from_a_config_reach_the_environment(dynamics: DynamicsHarness, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    creds = dynamics.credentials
    monkeypatch.setenv("DYN_SECRET", creds["client_secret"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", creds["ca_file"])  # the emulator's test CA, as a private CA would be given
    (tmp_path / "upm.key").write_text("")
    config = tmp_path / "config.yaml"
    repo = Path(__file__).resolve().parents[2]
    config.write_text(f"""
database: {{url: "{database_url}"}}
secrets: {{key_file: upm.key}}
connections:
  d365:
    adapter: dynamics
    instance_url: {dynamics.running.base_url}
    auth: {{type: client_credentials, client_id: {creds["client_id"]}, client_secret: "${{DYN_SECRET}}", token_url: {creds["token_url"]}}}
    mapping: {repo / "mappings" / "dynamics" / "advanced.yaml"}
""")
    dynamics.adapter.upsert("lead", "upm_id", [dynamics.new_record(1)])
    adapter = Runtime(load_settings(config)).adapter("d365")
    try:
        (page,) = list(adapter.read_changes("lead", None, ["upm_id"]))
        assert [r.fields["upm_id"] for r in page] == ["upm-1"]
    finally:
        adapter.close()
