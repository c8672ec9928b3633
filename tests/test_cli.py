"""The command line as an operator uses it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

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
