"""The command line as an operator uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import connector

from connector.cli import main
from connector.store import Database
from connector.store.migrate import head_revision


def test_db_upgrade_then_current(database_url: str) -> None:
    env = {"UPM_DATABASE_URL": database_url}
    result = CliRunner().invoke(main, ["db", "current"], env=env)
    assert result.exit_code == 0 and "database: empty" in result.output
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"database at revision {head_revision(Database(database_url))}" in result.output
    result = CliRunner().invoke(main, ["db", "current"], env=env)
    head = head_revision(Database(database_url))
    assert f"database: {head}; this version: {head}" in result.output
    assert not Database(database_url).is_empty()


def test_db_upgrade_of_a_new_datastore_warns_of_nothing(database_url: str) -> None:
    """An operator's first upgrade, run as they run it, prints its result only: nothing on stderr
    (no library warning about the schema)."""
    env = {**os.environ, "UPM_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "connector", "db", "upgrade"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "database at revision" in done.stdout
    assert done.stderr == ""


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.yaml"), "config", "check"])
    assert result.exit_code == 2
    assert "cannot read the config file" in result.output


def test_unknown_export_module_lists_the_modules() -> None:
    result = CliRunner().invoke(main, ["export", "leads"])
    assert result.exit_code == 2
    assert "prospects" in result.output and "assignments" in result.output


def test_emulator_commands_are_listed() -> None:
    result = CliRunner().invoke(main, ["emulator", "--help"])
    assert result.exit_code == 0
    assert "salesforce" in result.output and "hubspot" in result.output


def test_status_is_a_table_with_a_state_per_lane_and_no_alembic_lines(database_url: str) -> None:
    result = CliRunner().invoke(main, ["status"], env={"UPM_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not [line for line in lines if "alembic" in line.lower()]
    assert any("sync:vendor-salesforce" in line and "OK" in line and "not run yet" in line for line in lines)
    assert "vendor-salesforce: salesforce, mode complete, enabled, token no token, outbox pending 0, open failures 0" in lines
    assert any("(never synced)" in line for line in lines)


def test_status_json_gives_each_lane_its_state_cursors_and_last_run(database_url: str) -> None:
    result = CliRunner().invoke(main, ["status", "--json"], env={"UPM_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_name = {conn["name"]: conn for conn in report["connections"]}
    assert set(by_name) == {"vendor-salesforce", "partner-hubspot"}
    lane = by_name["partner-hubspot"]["lane"]
    assert (lane["lane"], lane["state"], lane["last_run"]) == ("sync:partner-hubspot", "OK", None)
    assert by_name["partner-hubspot"]["cursors"] == [] and by_name["partner-hubspot"]["open_failures"] == 0
    assert report["lanes"] == []


def test_init_writes_a_starter_folder_that_passes_config_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "upm"
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "config.yaml").read_text() == Path(connector.__file__).with_name("config").joinpath("defaults.yaml").read_text()
    shipped = Path(connector.__file__).with_name("mappings") / "salesforce" / "complete.yaml"
    assert (folder / "mappings/salesforce/complete.yaml").read_text() == shipped.read_text()
    assert {p.name for p in (folder / "mappings/hubspot").iterdir()} >= {"basic.yaml", "advanced.yaml", "complete.yaml"}
    assert (folder / "mappings/profile.schema.json").is_file(), "the profiles' $schema resolves in the folder"
    monkeypatch.chdir(folder)
    check = CliRunner().invoke(main, ["config", "check"])
    assert check.exit_code == 0, check.output
    assert "config.yaml: OK (2 connection(s)" in check.output
    (folder / "mappings/hubspot/partner.yaml").write_text("mode: nonsense\n")
    broken = CliRunner().invoke(main, ["config", "check"])
    assert broken.exit_code == 2 and "mappings/hubspot/partner.yaml" in broken.output, "the written profiles are the ones used"


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("# mine\n")
    refused = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert refused.exit_code == 2 and f"{tmp_path / 'config.yaml'} exists" in refused.output
    assert (tmp_path / "config.yaml").read_text() == "# mine\n" and not (tmp_path / "mappings").exists()
    forced = CliRunner().invoke(main, ["init", str(tmp_path), "--force"])
    assert forced.exit_code == 0 and (tmp_path / "config.yaml").read_text() != "# mine\n"
