"""The admin's path, through the command line: copy a shipped profile, change a field, check it,
rehearse with --dry-run, sync, and see the right records on both sides."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from connector.cli import main
from connector.clock import SystemClock
from connector.daemon.lease import LeaseStore
from connector.store import Database
from crm_emulators.hubspot import EmulatorOptions, serve_in_background

REPO = Path(__file__).resolve().parents[2]


def test_copy_change_check_dry_run_sync_export(tmp_path: Path, database_url: str) -> None:
    profile = tmp_path / "my-hubspot.yaml"
    text = (REPO / "mappings" / "hubspot" / "advanced.yaml").read_text()
    # The admin's change: contacts' job title is no longer synced into UPM's title, but into... a typo first.
    profile.write_text(text.replace("{upm: title, crm: jobtitle}", "{upm: titel, crm: jobtitle}"))
    # no search lag: these cycles run back to back on the real clock (lag: tests/adapters)
    with serve_in_background(EmulatorOptions(search_per_second=None, ten_second_limit=None, search_lag_seconds=0)) as running:
        (tmp_path / "creds.json").write_text(json.dumps(running.credentials))
        config = tmp_path / "config.yaml"
        config.write_text(f"""
database: {{url: "{database_url}"}}
secrets: {{key_file: upm.key}}
connections:
  partner-hs:
    adapter: hubspot
    auth: {{type: credentials_file, file: creds.json}}
    mapping: my-hubspot.yaml
    options: {{search_per_second: 1000}}
""")
        runner = CliRunner()

        def cli(*args: str) -> tuple[int, str]:
            result = runner.invoke(main, ["--config", str(config), *args])
            return result.exit_code, result.output

        code, out = cli("mappings", "check")
        assert code == 2 and "'titel' is not a field of contact; did you mean 'title'?" in out
        profile.write_text(text.replace("{upm: title, crm: jobtitle}", "{upm: title, crm: jobtitle, direction: to_upm}"))
        code, out = cli("mappings", "check")
        assert code == 0, out
        assert "checked against partner-hs" in out, "the CRM's describe was consulted"

        running.emulator.admin_upsert(0, "contacts", {"email": "ann@globex.example", "lastname": "Ann", "jobtitle": "CIO"})
        code, out = cli("sync", "partner-hs", "--dry-run")
        assert code == 0, out
        assert "would: UPM contact new <- contacts" in out and "dry run, nothing written" in out
        code, out = cli("export", "contacts", "--format", "jsonl")
        assert out.strip() == ""

        code, out = cli("sync", "partner-hs")
        assert code == 0 and "created 1" in out, out
        code, out = cli("export", "contacts", "--format", "jsonl")
        (row,) = [json.loads(line) for line in out.splitlines()]
        assert (row["email"], row["last_name"], row["title"]) == ("ann@globex.example", "Ann", "CIO")
        crm_id = row["crm_id"]
        assert crm_id and any(r["id"] == crm_id for r in running.emulator.records(0, "contacts"))

        code, out = cli("status")
        assert code == 0 and "partner-hs: hubspot, mode advanced" in out and "contact <-> contacts" in out
        code, out = cli("status", "--json")
        (conn,) = json.loads(out)["connections"]
        summaries = {f"{c['module']} <-> {c['crm_object']}": c["last_summary"] for c in conn["cursors"]}
        assert "read 1, created 1" in summaries["contact <-> contacts"], "each object shows its own counts"
        assert "read 0, created 0" in summaries["account <-> companies"], summaries
        assert conn["lane"]["state"] == "OK"

        # The CRM's side changes: a dry run names the field, its old and new value, and sums up per object.
        running.emulator.admin_upsert(0, "contacts", {"jobtitle": "CTO"}, crm_id)
        code, out = cli("sync", "partner-hs", "--dry-run")
        assert code == 0 and f'would: UPM contact {row["id"]} <- contacts {crm_id}: title "CIO" -> "CTO"' in out, out
        assert "contact <-> contacts: would create 0, update 1, leave 0 unchanged, archive 0, push 0" in out
        code, out = cli("sync", "partner-hs", "--dry-run", "--limit", "0")
        assert "would: " not in out and "... and 1 more change(s) (--limit 0)" in out, out
        assert "contact <-> contacts: would create 0, update 1" in out, "the summary counts every change"

        # While a daemon holds the connection's lane, the command does not sync it too.
        database = Database(database_url)
        assert LeaseStore(database, "daemon-elsewhere", 60, SystemClock()).acquire("sync:partner-hs")
        code, out = cli("sync", "partner-hs")
        assert code == 1 and "lane sync:partner-hs is running in a daemon" in out
        database.dispose()
