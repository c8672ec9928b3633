"""`/metrics` of a real `upm-connector run` after its lanes synced with the emulators it started: the
lane counts are the ones the sync logged, the quotas are what the emulators' headers reported."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from crm_emulators.runner import free_port
from crm_emulators.hubspot.emulator import EmulatorOptions as HubSpotOptions
from crm_emulators.salesforce.emulator import EmulatorOptions as SalesforceOptions

REPO = Path(__file__).resolve().parents[2]
LANES = {"vendor-salesforce": "sync:vendor-salesforce", "partner-hubspot": "sync:partner-hubspot"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_after_a_sync_against_the_emulators(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "upm"
    shutil.copytree(REPO / "mappings", folder / "mappings")
    port = free_port()
    config = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    # One run per lane (the first, at start): nothing moves the figures while they are read.
    config = config.replace("bind: 127.0.0.1:8080", f"bind: 127.0.0.1:{port}").replace("every: 1m}", "every: 1h}")
    (folder / "config.yaml").write_text(config.replace("format: json", "format: text"), encoding="utf-8")
    log = tmp_path / "daemon.log"
    started = time.time()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "connector", "run"], cwd=folder, stdout=out,
                                stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=str(REPO), UPM_DATABASE_URL=database_url))
    try:
        read: dict[str, int] = {}
        deadline = time.monotonic() + 120
        while len(read) < len(LANES) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            for connection, lane in LANES.items():
                if found := re.search(rf"{lane}: sync cycle: read (\d+)", log.read_text()):
                    read[connection] = int(found.group(1))
            time.sleep(0.5)
        assert len(read) == len(LANES), f"the lanes did not sync:\n{log.read_text()}"
        time.sleep(1)  # the scheduler records the run just after the cycle's log line
        answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            stopped = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            raise AssertionError(f"SIGTERM did not stop the daemon in 90 s:\n{log.read_text()[-3000:]}") from None
    assert stopped == 0, log.read_text()[-3000:]
    assert answer.status_code == 200
    got = samples(answer.text)
    for connection, lane in LANES.items():
        assert read[connection] > 0, "the seeded records were read"
        assert got[("upm_connector_lane_records_read", (("lane", lane),))] == read[connection]
        assert got[("upm_connector_lane_records_failed", (("lane", lane),))] == 0
        assert got[("upm_connector_lane_consecutive_failures", (("lane", lane),))] == 0
        assert got[("upm_connector_lane_api_calls", (("lane", lane),))] >= 1
        assert started <= got[("upm_connector_lane_last_success_timestamp_seconds", (("lane", lane),))] <= time.time()
        states = {dict(labels)["state"]: value for (name, labels), value in got.items()
                  if name == "upm_connector_lane_state" and dict(labels)["lane"] == lane}
        assert states["OK"] == 1 and sum(states.values()) == 1 and len(states) == 7
        lags = [value for (name, labels), value in got.items()
                if name == "upm_connector_cursor_lag_seconds" and dict(labels)["connection"] == connection]
        assert lags and all(0 <= lag < time.time() - started + 3600 for lag in lags)
    # Salesforce's daily allocation, from Sforce-Limit-Info: the emulator's limit, with this start's calls used.
    sf_day = (("connection", "vendor-salesforce"), ("window", "day"))
    assert got[("upm_connector_crm_quota_limit", sf_day)] == SalesforceOptions.daily_api_limit
    used = SalesforceOptions.daily_api_limit - got[("upm_connector_crm_quota_remaining", sf_day)]
    assert used >= got[("upm_connector_lane_api_calls", (("lane", "sync:vendor-salesforce"),))] >= 1
    # HubSpot reports its windows (X-HubSpot-RateLimit-*) on every response but search's: whether the
    # partner's first run made another call (an association read, a push) depends on what the vendor's
    # lane queued by then. What is shown is what the emulator's headers said, never made up.
    limits = {"day": HubSpotOptions.daily_limit, "10s": HubSpotOptions.ten_second_limit}
    hubspot = {(name, dict(labels)["window"]): value for (name, labels), value in got.items()
               if "quota" in name and dict(labels).get("connection") == "partner-hubspot"}
    for (name, window), value in hubspot.items():
        if name == "upm_connector_crm_quota_limit":
            assert value == limits[window], (window, value)
        else:
            assert 0 <= value < limits[window], (window, value)
