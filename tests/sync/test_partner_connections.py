"""Partner connections held in the datastore: checked when added, turned into `role: partner`
connections by the Runtime (outbox routes and scope follow the table), and picked up by a running
daemon: one added through the API syncs without a restart, one removed stops its lane, and a
partner admin sees and removes only its own partner's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from connector.api.keys import issue
from connector.config import load_settings
from connector.runtime import Runtime
from connector.services.connections import ConnectionEdit, ConnectionService, ConnectionSpec
from connector.services.directory import InvalidField, UnknownRecord
from connector.store.migrate import upgrade
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Prospect
from crm_emulators.hubspot import EmulatorOptions, serve_in_background
from crm_emulators.runner import free_port
from support.partners import ensure_partner

REPO = Path(__file__).resolve().parents[2]
PROFILE = "mappings/hubspot/partner.yaml"


def _runtime(tmp_path: Path, database_url: str, extra: str = "") -> Runtime:
    (tmp_path / "config.yaml").write_text(f'database: {{url: "{database_url}"}}\nsecrets: {{key_file: upm.key}}\n{extra}')
    runtime = Runtime(load_settings(tmp_path / "config.yaml"))
    upgrade(runtime.db)
    return runtime


def _spec(name: str, partner: str, credentials: Path, **changes: object) -> ConnectionSpec:
    fields: dict[str, object] = {"name": name, "partner": partner, "adapter": "hubspot", "profile": PROFILE,
                                 "schedule": "1s", "auth": {"type": "credentials_file", "file": str(credentials)}}
    return ConnectionSpec.model_validate(fields | changes)


def test_stored_connections_are_checked_and_become_partner_connections(tmp_path: Path, database_url: str) -> None:
    credentials = tmp_path / "portal.json"
    credentials.write_text(json.dumps({"token_url": "http://127.0.0.1:9/oauth/v1/token", "client_id": "c",
                                       "client_secret": "s", "refresh_token": "r", "instance_url": "http://127.0.0.1:9"}))
    runtime = _runtime(tmp_path, database_url, f"""connections:
  vendor-hs:
    adapter: hubspot
    auth: {{type: credentials_file, file: {credentials}}}
    mapping: {PROFILE}
""")
    with runtime.db.session() as s:
        ensure_partner(s, "Acme Resellers")
        s.add(PartnerAccount(name="Gone Resellers", active=False))
    service = ConnectionService(runtime)

    refusals = {
        "name": _spec("vendor-hs", "Acme Resellers", credentials),
        "partner": _spec("gone", "Gone Resellers", credentials),
        "adapter": _spec("zoho", "Acme Resellers", credentials, adapter="zoho"),
        "profile": _spec("sf", "Acme Resellers", credentials, profile="mappings/salesforce/partner.yaml"),
    }
    for field, spec in refusals.items():
        with pytest.raises(InvalidField) as refused:
            service.add(spec)
        assert (refused.value.field, refused.value.value) == (field, getattr(spec, field))

    service.add(_spec("acme-hs", "Acme Resellers", credentials))
    with pytest.raises(InvalidField, match="taken"):
        service.add(_spec("acme-hs", "Acme Resellers", credentials))
    conn = runtime.settings.connections["acme-hs"]
    assert (conn.role, conn.partner_account, conn.schedule.every) == ("partner", "Acme Resellers", 1.0)
    assert "acme-hs" in runtime.outbox.routes["prospect"] and "acme-hs" in runtime.outbox.scopes
    assert runtime.scope("acme-hs") is not None and runtime.scope("vendor-hs") is None

    edits = {
        "options": ConnectionEdit(options={"page_sise": 50}),
        "profile": ConnectionEdit(profile="mappings/salesforce/partner.yaml"),
        "schedule.every": ConnectionEdit(schedule="soon"),
        "enabled": ConnectionEdit(enabled=None),
    }
    for field, edit in edits.items():
        with pytest.raises(InvalidField) as refused:
            service.edit("acme-hs", edit)
        assert refused.value.field == field, refused.value
        if field == "options":
            assert str(refused.value).startswith("options: unknown HubSpot adapter options: page_sise"), refused.value
    assert runtime.settings.connections["acme-hs"].options == {}  # nothing of a refused edit is kept
    changed = service.edit("acme-hs", ConnectionEdit(options={"page_size": 50}, schedule="2m"))
    assert (changed.options, changed.schedule) == ({"page_size": 50}, {"every": "2m"})
    conn = runtime.settings.connections["acme-hs"]
    assert (conn.options, conn.schedule.every) == ({"page_size": 50}, 120.0)
    with pytest.raises(UnknownRecord):
        service.edit("acme-hs", ConnectionEdit(enabled=False), partners={-1})

    service.edit("acme-hs", ConnectionEdit(enabled=False))
    assert "acme-hs" not in runtime.settings.connections and "acme-hs" not in runtime.outbox.scopes
    service.set_enabled("acme-hs", True)
    assert [v.name for v in service.connections()] == ["acme-hs"]
    service.remove("acme-hs")
    assert "acme-hs" not in runtime.outbox.routes["prospect"] and list(runtime.settings.connections) == ["vendor-hs"]
    with pytest.raises(UnknownRecord):
        service.connection("acme-hs")
    runtime.db.dispose()


def _wait(predicate: Callable[[], object], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture
def daemon_log(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "daemon.log"


def test_a_connection_added_through_the_api_syncs_without_a_restart(tmp_path: Path, database_url: str,
                                                                    daemon_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPM_OPS_KEY", "ops-key")
    port = free_port()
    options = EmulatorOptions(portals=2, search_per_second=None, ten_second_limit=None, search_lag_seconds=0)
    with serve_in_background(options) as running:
        for i, name in enumerate(("acme", "beta")):
            (tmp_path / f"{name}.json").write_text(json.dumps(running.credentials["portals"][i]))
        runtime = _runtime(tmp_path, database_url, f'http: {{bind: "127.0.0.1:{port}", api_keys: {{ops: "${{UPM_OPS_KEY}}"}}}}\n'
                                                   "daemon: {connections_poll_seconds: 0.5}\n")
        with runtime.db.session() as s:
            ensure_partner(s, "Acme Resellers", [{"email": "rep@acme.example"}])
            ensure_partner(s, "Beta Resellers", [{"email": "admin@beta.example"}])
            s.scalars(select(PartnerUser).where(PartnerUser.email == "admin@beta.example")).one().role = "admin"
            lead = Prospect(email="lead@buyer.example", last_name="Buyer", distribution_state="open")
            s.add(lead)
            s.flush()
            lead_id = lead.id
            beta_key = issue(s, "admin@beta.example")
        runtime.db.dispose()
        running.emulator.add_owner(0, "rep@acme.example", "Riley", "Rep")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        with daemon_log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "connector", "--config", str(tmp_path / "config.yaml"), "run"],
                                    cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{port}/api/v1"
        vendor = {"Authorization": "Bearer ops-key"}
        beta = {"Authorization": f"Bearer {beta_key}"}
        try:
            def ready() -> bool:
                assert proc.poll() is None, daemon_log.read_text()
                try:
                    return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
                except requests.RequestException:  # not listening yet, or slow on a loaded machine
                    return False

            _wait(ready, 60, f"the daemon never became ready:\n{daemon_log.read_text()}")
            body = _spec("acme-hs", "Acme Resellers", tmp_path / "acme.json").model_dump()
            body["options"] = {"search_per_second": 1000}
            added = requests.post(f"{api}/connections", json=body, headers=vendor, timeout=10)
            assert added.status_code == 201, added.text
            bad = requests.post(f"{api}/connections", json={**body, "name": "x", "adapter": "zoho"}, headers=vendor, timeout=10)
            assert (bad.status_code, bad.json()["detail"][0]["field"], bad.json()["detail"][0]["value"]) == (422, "adapter", "zoho")

            # partner B's admin: neither sees, nor removes, nor adds for A
            assert requests.get(f"{api}/connections", headers=beta, timeout=10).json() == []
            assert requests.get(f"{api}/connections/acme-hs", headers=beta, timeout=10).status_code == 404
            assert requests.delete(f"{api}/connections/acme-hs", headers=beta, timeout=10).status_code == 404
            foreign = requests.post(f"{api}/connections", json={**body, "name": "b-for-a"}, headers=beta, timeout=10)
            assert (foreign.status_code, foreign.json()["detail"][0]["field"]) == (422, "partner")
            own = requests.post(f"{api}/connections", json={**body, "name": "beta-hs", "partner": "Beta Resellers",
                                                            "auth": {"type": "credentials_file", "file": str(tmp_path / "beta.json")}},
                                headers=beta, timeout=10)
            assert own.status_code == 201, own.text
            assert [c["name"] for c in requests.get(f"{api}/connections", headers=beta, timeout=10).json()] == ["beta-hs"]
            assert {c["name"] for c in requests.get(f"{api}/connections", headers=vendor, timeout=10).json()} == {"acme-hs", "beta-hs"}

            _wait(lambda: "lane sync:acme-hs started" in daemon_log.read_text(), 30,
                  f"no lane for acme-hs:\n{daemon_log.read_text()}")
            assigned = requests.post(f"{api}/leads/{lead_id}/assign", json={"to": "user:rep@acme.example", "reason": "test"},
                                     headers=vendor, timeout=10)
            assert assigned.status_code == 200, assigned.text

            def in_portal(portal: int) -> set[str]:
                return {r["properties"].get("email") for r in running.emulator.records(portal, "contacts") if not r["archived"]}

            _wait(lambda: "lead@buyer.example" in in_portal(0), 60, f"the lead never reached Acme's portal:\n{daemon_log.read_text()}")
            assert "lead@buyer.example" not in in_portal(1)

            # changed through the API: refused as an add is, followed by the running daemon
            refused = requests.patch(f"{api}/connections/acme-hs", json={"options": {"pages": 2}}, headers=vendor, timeout=10)
            assert (refused.status_code, refused.json()["detail"][0]["field"]) == (422, "options"), refused.text
            assert requests.patch(f"{api}/connections/acme-hs", json={"enabled": False}, headers=beta, timeout=10).status_code == 404
            changed = requests.patch(f"{api}/connections/acme-hs", json={"schedule": "2s", "options": {"search_per_second": 500}},
                                     headers=vendor, timeout=10)
            assert changed.status_code == 200 and changed.json()["schedule"] == {"every": "2s"}, changed.text
            _wait(lambda: "lane sync:acme-hs stopped: its partner connection was removed or changed" in daemon_log.read_text()
                  and daemon_log.read_text().count("lane sync:acme-hs started") == 2, 30,
                  f"the lane of acme-hs never took its new schedule:\n{daemon_log.read_text()}")
            readiness = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()
            assert {"sync:acme-hs", "sync:beta-hs"} <= set(readiness["lanes"]), readiness

            assert requests.delete(f"{api}/connections/acme-hs", headers=vendor, timeout=10).status_code == 200
            _wait(lambda: "lane sync:acme-hs stopped" in daemon_log.read_text(), 30,
                  f"the lane of acme-hs never stopped:\n{daemon_log.read_text()}")
            assert requests.get(f"{api}/connections/acme-hs", headers=vendor, timeout=10).status_code == 404
        finally:
            proc.terminate()
            assert proc.wait(60) == 0, daemon_log.read_text()


def test_the_connections_commands(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from connector.cli import main

    monkeypatch.setenv("ACME_HS_TOKEN", "pat-acme")
    runtime = _runtime(tmp_path, database_url)
    with runtime.db.session() as s:
        ensure_partner(s, "Acme Resellers")
    runtime.db.dispose()

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "connections", *args])
        return result.exit_code, result.output

    add = ["add", "acme-hs", "--partner", "Acme Resellers", "--adapter", "hubspot", "--profile", PROFILE,
           "--token-ref", "${ACME_HS_TOKEN}", "--schedule", "1m"]
    assert cli(*add) == (0, "connection 'acme-hs' (hubspot, partner Acme Resellers) added\n")
    code, out = cli(*add)
    assert code == 1 and "name: 'acme-hs' is taken" in out
    code, out = cli("add", "x", "--partner", "Nobody", "--adapter", "hubspot", "--profile", PROFILE)
    assert code == 1 and "partner: 'Nobody' is not a partner account" in out
    code, out = cli("list", "--json")
    [listed] = json.loads(out)
    assert (listed["name"], listed["auth_type"], listed["schedule"], listed["enabled"]) == ("acme-hs", "private_app", {"every": "1m"}, True)
    assert "pat-acme" not in (tmp_path / "config.yaml").read_text() + out
    code, out = cli("edit", "acme-hs", "--schedule", "*/5 * * * *", "--option", "page_size=50")
    assert (code, out) == (0, "connection 'acme-hs' (hubspot, partner Acme Resellers) changed\n"), out
    shown = json.loads(cli("show", "acme-hs", "--json")[1])
    assert (shown["schedule"], shown["options"]) == ({"cron": "*/5 * * * *"}, {"page_size": "50"})
    code, out = cli("edit", "acme-hs", "--option", "pages=5")
    assert code == 1 and "options: unknown HubSpot adapter options: pages" in out, out
    code, out = cli("edit", "acme-hs", "--profile", "mappings/salesforce/partner.yaml")
    assert code == 1 and "profile: 'mappings/salesforce/partner.yaml' is a profile for 'salesforce', not 'hubspot'" in out, out
    code, out = cli("edit", "acme-hs", "--option", "page_size")
    assert code == 2 and "'page_size' is not KEY=VALUE" in out, out
    assert cli("edit", "acme-hs")[0] == 2
    code, out = cli("edit", "nobody-hs", "--disable")
    assert code == 1 and "no partner connection 'nobody-hs'" in out
    assert cli("edit", "acme-hs", "--clear-options", "--disable")[0] == 0
    shown = json.loads(cli("show", "acme-hs", "--json")[1])
    assert (shown["enabled"], shown["options"], shown["schedule"]) == (False, {}, {"cron": "*/5 * * * *"})
    assert cli("enable", "acme-hs")[0] == 0
    assert cli("disable", "acme-hs")[0] == 0
    assert json.loads(cli("show", "acme-hs", "--json")[1])["enabled"] is False
    assert cli("remove", "acme-hs")[0] == 0
    code, out = cli("show", "acme-hs")
    assert code == 1 and "no partner connection 'acme-hs'" in out


def test_a_datastore_that_does_not_answer_is_named_not_taken_for_an_unmigrated_one(tmp_path: Path) -> None:
    """Reading the stored connections: a fresh (unmigrated) datastore has none and the command goes
    on; one that is down stops the command with one line naming it, and no traceback."""
    from click.testing import CliRunner

    from connector.cli import main

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.yaml").write_text(f'database: {{url: "sqlite:///{fresh / "upm.db"}"}}\nsecrets: {{key_file: upm.key}}\n')
    ok = CliRunner().invoke(main, ["--config", str(fresh / "config.yaml"), "connections", "list", "--json"])
    assert (ok.exit_code, json.loads(ok.output)) == (0, []), ok.output

    down = tmp_path / "down"
    down.mkdir()
    port = free_port()  # nothing listens there
    (down / "config.yaml").write_text(f'database: {{url: "postgresql://upm:secret@127.0.0.1:{port}/upm"}}\n'
                                      "secrets: {key_file: upm.key}\n")
    result = CliRunner().invoke(main, ["--config", str(down / "config.yaml"), "status"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: database.url: the datastore postgresql+psycopg://upm:***@127.0.0.1:{port}/upm "
                                    "does not answer (OperationalError: "), result.output
    assert "secret" not in result.output and "Traceback" not in result.output
