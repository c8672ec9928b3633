"""Several replicas on one PostgreSQL: three real `upm-connector run` processes share twelve lanes
evenly, never run a lane twice at once, and take a SIGKILLed replica's lanes over within two lease
periods."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.clock import ManualClock
from connector.daemon.lease import LeaseStore
from connector.daemon.replicas import Replicas
from connector.store import Database
from crm_emulators.runner import free_port

REPO = Path(__file__).resolve().parents[1]
LEASE = 6.0
EVERY = 1.0
LANES = [f"job:probe{i:02d}" for i in range(12)]


def test_live_replicas_split_the_lanes_and_a_silent_one_drops_out(db: Database) -> None:
    clock = ManualClock()
    lanes = [f"sync:partner-{i:03d}" for i in range(500)]
    replicas = [Replicas(LeaseStore(db, name, 30, clock), 30) for name in ("a", "b", "c")]
    for replica in replicas:
        replica.beat()
    for replica in replicas:
        replica.beat()
        assert replica.members == ("a", "b", "c")
    shares = [set(replica.share(lanes)) for replica in replicas]
    assert sorted(len(share) for share in shares) == [166, 167, 167]
    assert set().union(*shares) == set(lanes) and sum(map(len, shares)) == len(lanes), "each lane on exactly one"

    clock.advance(seconds=14)  # "a" stops beating; its membership lasts half the lease (15 s)
    for replica in replicas[1:]:
        replica.beat()
    assert replicas[1].members == ("a", "b", "c")
    clock.advance(seconds=2)
    for replica in replicas[1:]:
        replica.beat()
    survivors = [set(replica.share(lanes)) for replica in replicas[1:]]
    assert replicas[1].members == ("b", "c") and [len(share) for share in survivors] == [250, 250]
    assert survivors[0] | survivors[1] == set(lanes)

    replicas[2].leave()  # a clean shutdown frees its membership at once
    replicas[1].beat()
    assert replicas[1].members == ("b",) and replicas[1].share(lanes) == sorted(lanes)


class Replica:
    """One daemon with the twelve probe lanes (tests.support.lane_probe)."""

    def __init__(self, name: str, tmp: Path, database_url: str, probe_log: Path):
        self.name, self.port = name, free_port()
        jobs = "".join(f"  {lane.removeprefix('job:')}: {{callable: 'tests.support.lane_probe:run', schedule: {{every: {EVERY}}}}}\n"
                       for lane in LANES)
        config = tmp / f"{name}.yaml"
        config.write_text(f'database: {{url: "{database_url}"}}\nhttp: {{bind: "127.0.0.1:{self.port}"}}\n'
                          f"daemon: {{instance_id: {name}, lease_seconds: {LEASE}}}\njobs:\n{jobs}")
        env = dict(os.environ, PYTHONPATH=str(REPO), UPM_PROBE_LOG=str(probe_log), UPM_PROBE_NAME=name,
                   UPM_PROBE_SECONDS="0.2")
        self.log_path = tmp / f"{name}.log"
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "connector", "--config", str(config), "run"], cwd=tmp,
                                         env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited early:\n{self.log_path.read_text()}"
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or slow on a loaded machine
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never became ready:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[list[Replica], Path]]:
    probe = tmp_path / "probe.log"
    started = [Replica(name, tmp_path, postgres_url, probe) for name in ("r1", "r2", "r3")]
    yield started, probe
    for replica in started:
        replica.kill()


def lane_runs(probe: Path) -> list[tuple[str, str, float, float | None]]:
    """(lane, replica, start, end or None) for every run in the probe log, by start."""
    open_runs: dict[tuple[str, str], float] = {}
    out: list[tuple[str, str, float, float | None]] = []
    for line in probe.read_text().splitlines() if probe.exists() else []:
        at, replica, kind, lane = line.split(" ")
        if kind == "start":
            open_runs[(lane, replica)] = float(at)
        else:
            out.append((lane, replica, open_runs.pop((lane, replica)), float(at)))
    out += [(lane, replica, start, None) for (lane, replica), start in open_runs.items()]
    return sorted(out, key=lambda run: run[2])


def within(runs: list[tuple[str, str, float, float | None]], start: float, end: float) -> list[tuple[str, str, float, float | None]]:
    return [run for run in runs if start <= run[2] < end]


def test_three_replicas_share_lanes_evenly_never_overlap_and_take_over_a_killed_one(
        replicas: tuple[list[Replica], Path]) -> None:
    daemons, probe = replicas
    for daemon in daemons:
        daemon.wait_ready()
    time.sleep(2 * LEASE)  # every replica has seen the others (they beat every sixth of the lease)
    window_start = time.time()
    time.sleep(6 * EVERY)
    steady = within(lane_runs(probe), window_start, time.time())

    # Even spread: each replica runs its own lanes, 12/3 of them, and nobody else runs those.
    owners = defaultdict(set)
    for lane, replica, _, _ in steady:
        owners[replica].add(lane)
    even = len(LANES) / len(daemons)
    assert set(owners) == {d.name for d in daemons}, f"a replica ran nothing: {dict(owners)}"
    for replica, lanes in owners.items():
        assert abs(len(lanes) - even) <= 0.2 * even, f"{replica} ran {len(lanes)} lanes, even is {even}: {dict(owners)}"
    assert sum(len(lanes) for lanes in owners.values()) == len(LANES), f"a lane ran on two replicas: {dict(owners)}"
    per_replica = Counter(replica for _, replica, _, _ in steady)
    assert max(per_replica.values()) <= 1.2 * min(per_replica.values()), f"runs per replica: {per_replica}"
    # Each lane on its schedule: about one run a second, not one per replica.
    per_lane = Counter(lane for lane, _, _, _ in steady)
    assert all(per_lane[lane] <= math.ceil(6 * EVERY) + 2 for lane in LANES), f"runs per lane in 6 s: {per_lane}"

    victim = daemons[0]
    victim_lanes = owners[victim.name]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    killed_at = time.time()
    deadline = killed_at + 2 * LEASE + 5

    def taken_over() -> dict[str, float]:
        return {lane: start - killed_at for lane, replica, start, _ in lane_runs(probe)
                if start > killed_at and replica != victim.name and lane in victim_lanes}

    while len(taken_over()) < len(victim_lanes) and time.time() < deadline:
        time.sleep(0.1)
    delays = taken_over()
    assert set(delays) == victim_lanes, f"lanes of the killed replica never taken over: {victim_lanes - set(delays)}"
    assert max(delays.values()) <= 2 * LEASE, f"takeover took {max(delays.values()) / LEASE:.2f} lease periods: {delays}"

    time.sleep(max(0.0, killed_at + 2 * LEASE + 4 * EVERY - time.time()))
    runs = lane_runs(probe)
    survivors = defaultdict(set)
    for lane, replica, _, _ in within(runs, killed_at + 2 * LEASE, time.time()):
        survivors[replica].add(lane)
    assert set(survivors) == {d.name for d in daemons[1:]}, f"lanes after the takeover: {dict(survivors)}"
    even = len(LANES) / 2
    assert all(abs(len(lanes) - even) <= 0.2 * even for lanes in survivors.values()), f"lanes per survivor: {dict(survivors)}"

    # Never twice at once: a lane's runs, from all replicas, follow one another (the victim's last
    # run has no end: it died in it or after it, and must not overlap the next one's start either).
    by_lane = defaultdict(list)
    for lane, replica, start, end in runs:
        by_lane[lane].append((start, end, replica))
    for lane, lane_list in by_lane.items():
        for (_, end, replica), (start, _, _) in zip(lane_list, lane_list[1:]):
            if end is None:
                assert replica == victim.name and start > killed_at, f"{lane}: overlapping runs: {lane_list}"
            else:
                assert start >= end, f"{lane}: overlapping runs: {lane_list}"
