"""The scheduled sync lane: a cycle per run; a connection that needs re-authorization pauses
without a crash loop."""

from __future__ import annotations

import logging
import threading

import pytest

from connector.auth.keys import keyring, load_keys
from connector.auth.vault import TokenVault
from connector.clock import SystemClock
from connector.jobs.context import JobContext
from connector.jobs import sync_lane
from connector.runtime import Runtime

from .conftest import HubSpotSetup


def context(hs: HubSpotSetup) -> JobContext:
    return JobContext(lane="sync:hs", runtime=Runtime(hs.settings, clock=SystemClock(), db=hs.db),
                      log=logging.getLogger("connector.lane.sync:hs"), shutdown=threading.Event(),
                      lease_lost=threading.Event(), connection="hs")


def test_a_run_syncs(hs: HubSpotSetup, caplog: pytest.LogCaptureFixture) -> None:
    hs.emulator.admin_upsert(0, "contacts", {"email": "a@x.example", "lastname": "A"})
    ran = context(hs)
    with caplog.at_level(logging.INFO, logger="connector.lane.sync:hs"):
        sync_lane.run(ran)
    assert "sync cycle: read 1, created 1" in caplog.text
    # What the scheduler keeps in lane_runs: the counts, and HubSpot's windows as its headers said
    # (searches carry no rate-limit headers: a pull-only run leaves them unknown).
    assert ran.outcome == "ok" and ran.report["records_read"] == 1 and ran.report["records_written"] == 1
    assert ran.report["api_calls"] == 3 and "rate_limit" in ran.report and "quota_limit" in ran.report


def test_needs_reauth_pauses_the_lane_without_calls(hs: HubSpotSetup, caplog: pytest.LogCaptureFixture) -> None:
    vault = TokenVault(hs.db, keyring(load_keys(hs.settings)), SystemClock())
    vault.mark_needs_reauth("hs", "invalid_grant: refresh token revoked")
    token_calls = hs.calls("token")
    for _ in range(3):
        paused = context(hs)
        with caplog.at_level(logging.INFO, logger="connector.lane.sync:hs"):
            sync_lane.run(paused)
        assert paused.outcome == "auth" and "invalid_grant" in paused.report["error"]
    assert caplog.text.count("lane paused") == 3 and "auth login hs" in caplog.text
    assert "Traceback" not in caplog.text
    assert hs.calls("token") == token_calls and hs.calls("search") == 0
