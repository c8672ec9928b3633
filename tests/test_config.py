"""Configuration: typed settings, secret references, env overrides, and located error reports."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, body: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_embedded_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UPM_CONNECTOR_CONFIG", raising=False)
    settings = load_settings(None, environ={})
    assert settings.source is None
    assert settings.database.url == "sqlite:///upm-connector.db"
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8080)


def test_example_config_is_valid_and_checks_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(main, ["--config", "config.example.yaml", "config", "check"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_three_problems_reported_with_lines_and_nothing_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPM_TEST_MISSING_SECRET", raising=False)
    (tmp_path / "profile.yaml").write_text("crm: salesforce\n")
    path = write(
        tmp_path,
        """\
        database:
          url: sqlite:///x.db
        daemon:
          lease_seconds: [1, 2]
        connections:
          crm:
            adapter: salesforce
            auth:
              type: oauth
              client_id: abc
              client_secret: ${UPM_TEST_MISSING_SECRET}
              token_url: https://login.example/services/oauth2/token
            mapping: profile.yaml
            schedul:
              every: 5m
        """,
    )
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    err = result.output
    assert f"{path}:4: daemon.lease_seconds:" in err
    assert f"{path}:11: connections.crm.auth.client_secret: secret reference ${{UPM_TEST_MISSING_SECRET}}" in err
    assert "environment variable UPM_TEST_MISSING_SECRET is not set" in err
    assert "unknown key 'schedul'" in err and f"{path}:14" in err and "did you mean 'schedule'?" in err
    # `run` refuses to start on the same file: the daemon never gets going.
    result = CliRunner().invoke(main, ["--config", str(path), "run"])
    assert result.exit_code == 2
    assert "did you mean 'schedule'?" in result.output


def test_inline_secret_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        notifications:
          smtp:
            password: hunter2
        """,
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    (problem,) = exc.value.problems
    assert problem.where == f"{path}:3"
    assert problem.key == "notifications.smtp.password"
    assert "never inline" in problem.message


def test_secret_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "smtp.pass").write_text("s3cret\n")
    monkeypatch.setenv("UPM_TEST_CLIENT_SECRET", "from-env")
    path = write(
        tmp_path,
        """\
        notifications:
          smtp:
            password: file:smtp.pass
        secrets:
          key: ${UPM_TEST_CLIENT_SECRET}
        """,
    )
    settings = load_settings(path)
    assert settings.notifications.smtp.password is not None
    assert settings.notifications.smtp.password.get() == "s3cret"
    assert settings.secrets.key is not None and settings.secrets.key.get() == "from-env"
    assert "s3cret" not in repr(settings) and "from-env" not in repr(settings)


def test_environment_overrides_top_level_settings(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:///file.db\nhttp:\n  bind: 127.0.0.1:1\n")
    env = {
        "UPM_DATABASE_URL": "postgresql://db.internal/upm",
        "UPM_HTTP_BIND": "0.0.0.0:9000",
        "UPM_LOGGING_LEVEL": "DEBUG",
        "UPM_DAEMON_LEASE_SECONDS": "2m",
        "UPM_NOTIFICATIONS_SMTP_PORT": "2525",
        "UPM_NOTIFICATIONS_SMTP_PASSWORD": "raw-from-env",
    }
    settings = load_settings(path, environ=env)
    assert settings.database.url == "postgresql://db.internal/upm"
    assert settings.http.port == 9000 and settings.http.host == "0.0.0.0"
    assert settings.logging.level == "DEBUG"
    assert settings.daemon.lease_seconds == 120
    assert settings.notifications.smtp.port == 2525
    assert settings.notifications.smtp.password is not None
    assert settings.notifications.smtp.password.get() == "raw-from-env"


def test_bad_environment_override_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, ""), environ={"UPM_HTTP_BIND": "nonsense"})
    (problem,) = exc.value.problems
    assert problem.where == "environment UPM_HTTP_BIND"
    assert "host:port" in problem.message


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "http:\n  bind: 127.0.0.1:8181\n", name="elsewhere.yaml")
    monkeypatch.setenv("UPM_CONNECTOR_CONFIG", str(path))
    assert load_settings(None).http.port == 8181


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  bind: [unclosed\ndatabase: {}\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    assert exc.value.problems[0].where.startswith(f"{path}:")
    assert "YAML syntax" in exc.value.problems[0].message


def test_duplicate_keys_and_schedule_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        http:
          bind: 127.0.0.1:1
        http:
          bind: 127.0.0.1:2
        jobs:
          nightly:
            callable: tests.support.probe_job:run
            schedule:
              every: 5m
              cron: "0 2 * * *"
          BadName:
            callable: tests.support.probe_job:run
            schedule:
              cron: "61 * * * *"
        """,
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    text = str(exc.value)
    assert f"{path}:3: http: duplicate key 'http'" in text
    assert "give exactly one of 'every' or 'cron'" in text
    assert "name 'BadName'" in text


def test_references_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connections:
          crm:
            adapter: pipedrive
            auth: {type: private_app, token: "${HOME}"}
            mapping: missing-profile.yaml
        jobs:
          nightly:
            callable: no_such_module:run
            schedule: {every: 1h}
        """,
    )
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    assert f"{path}:3: connections.crm.adapter: unknown adapter 'pipedrive'" in result.output
    assert f"{path}:5: connections.crm.mapping: mapping profile" in result.output
    assert f"{path}:8: jobs.nightly.callable: cannot import module 'no_such_module'" in result.output


def test_lead_rules_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        leads:
          rules:
            - {name: US SMB, countries: [USA], target: "group:US resellers"}
            - {name: Typo, contries: [USA], target: "group:US resellers"}
        """,
    )
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    assert f"{path}:4: leads.rules.1: unknown key(s) contries" in result.output


def test_embedded_defaults_are_the_example_config() -> None:
    packaged = REPO / "connector" / "config" / "defaults.yaml"
    assert packaged.read_text() == (REPO / "config.example.yaml").read_text(), "copy config.example.yaml over defaults.yaml"
