"""`mappings check` against the CRM's describe, online and, with the describe cached in the state
dir by an online check or a sync, when the CRM cannot be reached (saying so, with its age)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from connector.adapters.base import FieldInfo, ObjectDescription
from connector.cli import main
from connector.mapping.describe_cache import CachedDescribe, DescribeCache, refresh
from crm_emulators.hubspot import EmulatorOptions, serve_in_background

REPO = Path(__file__).resolve().parents[1]
PROFILE = (REPO / "mappings" / "hubspot" / "advanced.yaml").read_text()


def write_config(tmp_path: Path, database_url: str, credentials: dict) -> Path:
    (tmp_path / "creds.json").write_text(json.dumps(credentials))
    (tmp_path / "profile.yaml").write_text(PROFILE)
    config = tmp_path / "config.yaml"
    config.write_text(f"""
database: {{url: "{database_url}"}}
secrets: {{key_file: upm.key}}
daemon: {{state_dir: state}}
connections:
  hs:
    adapter: hubspot
    auth: {{type: credentials_file, file: creds.json}}
    mapping: profile.yaml
    options: {{search_per_second: 1000}}
""")
    return config


def check(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "mappings", "check", *args])
    return result.exit_code, result.output


def test_an_online_check_caches_the_describe_that_later_checks_use_offline(tmp_path: Path, database_url: str) -> None:
    with serve_in_background(EmulatorOptions(search_per_second=None, ten_second_limit=None)) as running:
        config = write_config(tmp_path, database_url, running.credentials)
        code, out = check(config)
        assert code == 0 and "CRM fields: checked against hs" in out, out
    cached = json.loads((tmp_path / "state" / "describe" / "hs.json").read_text())
    assert cached["crm"] == "hubspot" and {"contacts", "companies"} <= set(cached["objects"])
    # the emulator is gone: the cached describe is used, and says so
    code, out = check(config)
    assert code == 0, out
    assert "checked against the describe of hs cached 0m ago" in out and "hs unreachable" in out
    # a CRM field the CRM does not have is still found, from the cache
    (tmp_path / "profile.yaml").write_text(PROFILE.replace("{upm: title, crm: jobtitle}", "{upm: title, crm: jobtitel}"))
    code, out = check(config, "--offline")
    assert code == 2 and "contacts has no field 'jobtitel'; did you mean 'jobtitle'?" in out, out
    assert "cached 0m ago" in out and "; offline" in out


def test_without_a_cache_an_unreachable_crm_is_not_checked_and_says_why(tmp_path: Path, database_url: str) -> None:
    with serve_in_background(EmulatorOptions()) as running:
        config = write_config(tmp_path, database_url, running.credentials)
    code, out = check(config)
    assert code == 0 and "CRM fields: not checked, hs unreachable" in out, out
    code, out = check(config, "--offline")
    assert "CRM fields: offline" in out
    assert not (tmp_path / "state" / "describe" / "hs.json").exists()


def test_a_sync_caches_the_describe(tmp_path: Path, database_url: str) -> None:
    with serve_in_background(EmulatorOptions(search_per_second=None, ten_second_limit=None, search_lag_seconds=0)) as running:
        config = write_config(tmp_path, database_url, running.credentials)
        result = CliRunner().invoke(main, ["--config", str(config), "sync", "hs"])
        assert result.exit_code == 0, result.output
    cached = DescribeCache(tmp_path / "state").load("hs")
    assert cached is not None and {"contacts", "companies", "deals"} <= set(cached.objects)
    assert "jobtitle" in cached.objects["contacts"].fields
    code, out = check(config)
    assert code == 0 and "checked against the describe of hs cached" in out, out


def test_a_fresh_cache_is_not_read_again_and_a_day_old_one_is(tmp_path: Path) -> None:
    cache = DescribeCache(tmp_path)
    calls: list[str] = []

    def describe(obj: str) -> ObjectDescription:
        calls.append(obj)
        return ObjectDescription(obj, {"id": FieldInfo("id", "string", unique=True)}, "updated")

    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    assert refresh(cache, "c", "hubspot", describe, ["contacts", "contacts", "companies"], now)
    assert calls == ["contacts", "companies"]
    assert not refresh(cache, "c", "hubspot", describe, ["contacts"], now + timedelta(hours=23))
    assert refresh(cache, "c", "hubspot", describe, ["contacts"], now + timedelta(hours=25))
    loaded = cache.load("c")
    assert loaded is not None and set(loaded.objects) == {"contacts", "companies"}, "a refresh keeps other objects"
    assert loaded.objects["contacts"].fields["id"].unique


def test_the_age_reads_in_words() -> None:
    read = datetime(2026, 12, 1, tzinfo=timezone.utc)
    cached = CachedDescribe("hubspot", read, {})
    assert [cached.age(read + d) for d in (timedelta(minutes=7), timedelta(hours=2, minutes=5), timedelta(days=3, hours=4))] \
        == ["7m", "2h 5m", "3d 4h"]
