"""The daemon as users run it: real `upm-connector run` processes, signals, leases, health."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from crm_emulators.runner import free_port
from connector.store import Database
from connector.store.leases import Lease

REPO = Path(__file__).resolve().parents[1]
LANE = "job:probe"


@dataclass
class Event:
    at: float
    instance: str
    kind: str
    detail: str


def read_events(path: Path) -> list[Event]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        at, instance, kind, *rest = line.split(" ")
        events.append(Event(float(at), instance, kind, " ".join(rest)))
    return events


def runs(events: list[Event]) -> list[tuple[str, float, float | None]]:
    """(instance, start, end or None) for every job run, from the probe's log."""
    open_runs: dict[str, float] = {}
    out: list[tuple[str, float, float | None]] = []
    for e in events:
        if e.kind == "start":
            open_runs[e.instance] = e.at
        elif e.kind == "end":
            out.append((e.instance, open_runs.pop(e.instance), e.at))
    out += [(instance, start, None) for instance, start in open_runs.items()]
    return sorted(out, key=lambda r: r[1])


class Daemon:
    """One `upm-connector run` child process with the probe job configured."""

    def __init__(self, name: str, tmp: Path, database_url: str, probe_log: Path, *, lease: float, batches: int, batch_seconds: float, every: str):
        self.name = name
        self.port = free_port()
        config = tmp / f"{name}.yaml"
        config.write_text(
            f"""
database: {{url: "{database_url}"}}
http: {{bind: "127.0.0.1:{self.port}"}}
daemon: {{instance_id: {name}, lease_seconds: {lease}}}
logging: {{level: INFO}}
jobs:
  probe:
    callable: tests.support.probe_job:run
    schedule: {{every: {every}}}
"""
        )
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO),
            UPM_PROBE_LOG=str(probe_log),
            UPM_PROBE_NAME=name,
            UPM_PROBE_BATCHES=str(batches),
            UPM_PROBE_BATCH_SECONDS=str(batch_seconds),
        )
        self.log_path = tmp / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "--config", str(config), "run"],
            cwd=tmp,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_path.read_text()}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or too slow to answer on a loaded machine
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never became ready:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()


def wait_for(predicate, timeout: float, message: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(message)


def test_two_daemons_never_run_a_lane_twice_and_take_over_after_sigkill(
    postgres_url: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    probe = tmp_path / "probe.log"
    lease = 3.0
    for name in ("alpha", "beta"):
        daemons.append(Daemon(name, tmp_path, postgres_url, probe, lease=lease, batches=4, batch_seconds=0.25, every="1s"))
    for d in daemons:
        d.wait_ready()
    wait_for(lambda: len([r for r in runs(read_events(probe)) if r[2]]) >= 6, 40, "the probe job did not run")

    # No lane ever ran twice at once: the runs, from both daemons, never overlap.
    finished = runs(read_events(probe))
    for (_, _, end), (_, start, _) in zip(finished, finished[1:]):
        assert end is not None and start >= end, f"overlapping runs: {finished}"

    # Kill the holder while it is running a batch; the other daemon takes the lane within the lease.
    wait_for(lambda: (r := runs(read_events(probe))) and r[-1][2] is None, 20, "no run in progress to interrupt")
    holder_name = runs(read_events(probe))[-1][0]
    holder = next(d for d in daemons if d.name == holder_name)
    other = next(d for d in daemons if d.name != holder_name)
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait()
    killed_at = time.time()
    wait_for(
        lambda: any(e.instance == other.name and e.kind == "start" and e.at > killed_at for e in read_events(probe)),
        lease + 5,
        f"{other.name} did not take the lane over after {holder_name} was killed",
    )
    takeover = min(e.at for e in read_events(probe) if e.instance == other.name and e.kind == "start" and e.at > killed_at)
    # At most the remaining lease plus one schedule interval (1 s) plus scheduling slack.
    assert takeover - killed_at <= lease + 1.5, f"takeover took {takeover - killed_at:.2f}s"
    db = Database(postgres_url)
    with db.session() as s:
        assert s.scalars(select(Lease.owner).where(Lease.lane == LANE)).one() == other.name
    db.dispose()


def test_sigterm_finishes_the_batch_releases_the_lease_and_exits_zero(
    database_url: str, tmp_path: Path, daemons: list[Daemon]
) -> None:
    probe = tmp_path / "probe.log"
    daemon = Daemon("solo", tmp_path, database_url, probe, lease=30, batches=50, batch_seconds=0.5, every="1h")
    daemons.append(daemon)
    daemon.wait_ready()
    wait_for(lambda: any(e.kind == "batch-start" for e in read_events(probe)), 20, "the job never started a batch")
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=20) == 0, daemon.log_path.read_text()

    events = read_events(probe)
    starts = [e.detail for e in events if e.kind == "batch-start"]
    ends = [e.detail for e in events if e.kind == "batch-end"]
    assert starts == ends, "every batch that started was finished"
    assert len(ends) < 50, "the job stopped early instead of running all its batches"
    assert events[-1].kind == "end"
    db = Database(database_url)
    with db.session() as s:
        lease = s.scalars(select(Lease).where(Lease.lane == LANE)).one()
        assert lease.owner == "solo"
        assert lease.expires_at.timestamp() <= time.time(), "the lease was released on shutdown"
    db.dispose()
    log = daemon.log_path.read_text()
    assert '"lane": "job:probe"' in log, "lane runs are logged as JSON naming the lane"


def test_run_migrates_an_empty_database_and_answers_health(database_url: str, tmp_path: Path, daemons: list[Daemon]) -> None:
    daemon = Daemon("fresh", tmp_path, database_url, tmp_path / "probe.log", lease=30, batches=1, batch_seconds=0, every="1h")
    daemons.append(daemon)
    daemon.wait_ready()
    health = requests.get(f"http://127.0.0.1:{daemon.port}/healthz", timeout=5).json()
    ready = requests.get(f"http://127.0.0.1:{daemon.port}/readyz", timeout=5).json()
    assert health["status"] == "ok"
    assert (ready["status"], ready["checks"], ready["reasons"]) == ("ready", {"database": "ok", "scheduler": "ok"}, [])
    assert ready["lanes"]["job:probe"] in ("OK", "SYNCING")
    refused = requests.get(f"http://127.0.0.1:{daemon.port}/api/v1/inbox", timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer", "the lead API needs a key"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and '"uvicorn.access"' not in daemon.log_path.read_text():
        time.sleep(0.1)
    access = [entry for line in daemon.log_path.read_text().splitlines() if line.startswith("{")
              and (entry := json.loads(line))["logger"] == "uvicorn.access"]
    assert [(e["method"], e["path"], e["status"]) for e in access] == [("GET", "/api/v1/inbox", 401)], "probes are not logged"
    db = Database(database_url)
    assert not db.is_empty()
    db.dispose()


def _example_folder(tmp_path: Path, port: int) -> Path:
    """A folder set up as `./scripts/start` runs: the example config (lanes every 2 s), the shipped
    mappings, the embedded SQLite database and the daemon's own emulators."""
    folder = tmp_path / "upm"
    shutil.copytree(REPO / "mappings", folder / "mappings")
    config = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    config = config.replace("bind: 127.0.0.1:8080", f"bind: 127.0.0.1:{port}").replace("every: 1m}", "every: 2s}")
    (folder / "config.yaml").write_text(config.replace("format: json", "format: text"), encoding="utf-8")
    return folder


def _run_in(folder: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "connector", "run"], cwd=folder, stdout=out,
                                stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(REPO)))


def test_a_second_start_in_the_same_folder_syncs_like_the_first(tmp_path: Path) -> None:
    folder = _example_folder(tmp_path, free_port())
    for start in (1, 2):
        log = tmp_path / f"start{start}.log"
        proc = _run_in(folder, log)
        try:
            def synced() -> bool:
                text = log.read_text()
                return all(len(re.findall(rf"sync:{c}: sync cycle: read [1-9]", text)) >= 2
                           for c in ("vendor-salesforce", "partner-hubspot"))
            wait_for(synced, 60, f"start {start}: both lanes did not sync twice:\n{log.read_text()}")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        text = log.read_text()
        assert "Traceback" not in text and " ERROR " not in text, f"start {start}:\n{text}"
    assert "tokens from the previous run's local emulators dropped" in (tmp_path / "start2.log").read_text()


def test_run_with_the_http_port_taken_exits_2_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        folder = _example_folder(tmp_path, port)
        log = tmp_path / "run.log"
        proc = _run_in(folder, log)
        assert proc.wait(timeout=60) == 2
    text = log.read_text()
    assert f"cannot listen on 127.0.0.1:{port} (http.bind): Address already in use" in text
    assert "emulator" not in text and "lane run" not in text and "Traceback" not in text
    assert not (folder / ".upm-emulators").exists() and not (folder / "upm-connector.db").exists()
