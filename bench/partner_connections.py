"""Benchmark partner connections at scale: N stored partner connections (default 500), each on its
own portal of one HubSpot emulator, synced by several real daemons (`upm-connector run`, each with
its own HTTP port) sharing one PostgreSQL database; one daemon is then killed with SIGKILL.

    python bench/partner_connections.py --database postgresql://postgres@127.0.0.1:5432/DB
        [--connections 500] [--replicas 3] [--every 60] [--lease 30] [--periods 3] [--port 23000]

Everything lives in a throw-away schema of that database (dropped at the end). The partners and
their connections are created through `ConnectionService` (what the API and the CLI call). An
idle daemon (no connections) is started first, for the memory floor. The daemons then run for two
schedule periods to settle and `--periods` periods are measured; the DB is polled every 0.5 s for
the lanes' leases (who runs a lane) and `lane_runs` rows (each run's start and end). Printed, each
beside its floor or bound from the same run:

- lanes per minute, total and per replica, against what the schedule asks (N / every);
- memory per connection per replica: (its RSS - the idle daemon's RSS) / its lanes;
- spread: distinct lanes each replica ran against the even share of the lanes run (N / replicas
  when the box keeps up), largest deviation in %;
- overlap: runs of one lane that overlap (from lane_runs start and end), bound 0;
- takeover: from the SIGKILL to the first run on a survivor of each of the dead replica's lanes,
  in lease periods (bound 2), also counted from each lane's due time when that is later.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connector.config import load_settings
from connector.runtime import Runtime
from connector.services.connections import ConnectionService, ConnectionSpec
from connector.store.migrate import upgrade
from connector.store.partners import PartnerAccount
from crm_emulators.runner import free_port

PROFILE = "mappings/hubspot/partner.yaml"
Run = tuple[str, datetime]  # (lane, started_at)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process on port {port} exited:\n{log.read_text()[-4000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise SystemExit(f"nothing listening on {port} after {timeout}s:\n{log.read_text()[-4000:]}")


class Daemon:
    """One `upm-connector run` process with its own config (instance id, HTTP port)."""

    def __init__(self, name: str, workdir: Path, base_config: str, port: int, daemon: dict[str, Any]):
        self.name, self.port = name, port
        config = workdir / f"{name}.yaml"
        config.write_text(base_config + f'http: {{bind: "127.0.0.1:{port}"}}\n'
                          f"daemon: {json.dumps({'instance_id': name, **daemon})}\n")
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "connector", "--config", str(config), "run"],
                                         cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Poller(threading.Thread):
    """Reads the leases and lane_runs of the sync lanes every 0.5 s: who took each lane when, and
    each run's start and end (lane_runs keeps only a lane's last run; a lane runs far less often)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.engine = create_engine(url)
        self.takes: dict[str, set[tuple[datetime, str]]] = defaultdict(set)
        self.runs: dict[Run, tuple[datetime, str]] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            with self.engine.connect() as conn:
                leases = conn.execute(text("SELECT lane, owner, acquired_at FROM leases WHERE lane LIKE 'sync:%'")).all()
                runs = conn.execute(text("SELECT lane, started_at, finished_at, outcome FROM lane_runs "
                                         "WHERE lane LIKE 'sync:%'")).all()
            with self.lock:
                for lane, owner, acquired in leases:
                    self.takes[lane].add((acquired, owner))
                for lane, started, finished, outcome in runs:
                    self.runs[(lane, started)] = (finished, outcome)
        self.engine.dispose()

    def owner(self, lane: str, started: datetime) -> str:
        """Who ran it: the holder of the last lease taken on the lane at or before its start."""
        taken = [take for take in self.takes[lane] if take[0] <= started]
        return max(taken)[1] if taken else "?"

    def snapshot(self) -> list[tuple[str, datetime, datetime, str, str]]:
        """(lane, started, finished, outcome, replica) for every run seen, by start."""
        with self.lock:
            return sorted((lane, started, finished, outcome, self.owner(lane, started))
                          for (lane, started), (finished, outcome) in self.runs.items())


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def line(label: str, value: str, floor: str = "", ratio: float | None = None) -> None:
    print(f"  {label:<46} {value:>14}   {floor:<28}" + (f" ratio {ratio:.2f}" if ratio is not None else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a PostgreSQL URL (a throw-away schema is made in it)")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--every", type=float, default=60.0, help="each connection's schedule, seconds")
    parser.add_argument("--lease", type=float, default=30.0, help="daemon.lease_seconds")
    parser.add_argument("--periods", type=int, default=3, help="schedule periods measured")
    parser.add_argument("--port", type=int, default=0, help="first port of a free block (emulator, idle daemon, replicas)")
    args = parser.parse_args()
    daemon_settings = {"lease_seconds": args.lease, "connections_poll_seconds": 5}

    def port(offset: int) -> int:
        return args.port + offset if args.port else free_port()

    base = make_url(args.database).set(drivername="postgresql+psycopg")
    schema = f"bench_pc_{uuid.uuid4().hex[:8]}"
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    workdir = Path(tempfile.mkdtemp(prefix="upm-bench-pc-"))
    (workdir / "upm.key").write_bytes(Fernet.generate_key())
    (workdir / "upm.key").chmod(0o600)
    base_config = f'database: {{url: "{url}"}}\nsecrets: {{key_file: upm.key}}\nlogging: {{level: INFO}}\n'
    (workdir / "config.yaml").write_text(base_config)
    processes: list[Daemon] = []
    emulator_log = workdir / "emulator.log"
    emulator_port = port(0)
    credentials = workdir / "portals.json"
    with emulator_log.open("wb") as out:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "connector", "emulator", "hubspot", "--port", str(emulator_port),
             "--portals", str(args.connections), "--write-credentials", str(credentials), "--search-per-second", "0",
             "--search-lag", "0", "--ten-second-limit", "10000"], stdout=out, stderr=subprocess.STDOUT)
    poller = Poller(url)
    try:
        print(f"{args.connections} partner connections, {args.replicas} replicas, every {args.every:g} s, "
              f"lease {args.lease:g} s, PostgreSQL schema {schema}, work dir {workdir}")
        runtime = Runtime(load_settings(workdir / "config.yaml"))
        upgrade(runtime.db)

        idle = Daemon("idle", workdir, base_config, port(1), daemon_settings)
        wait_listening(idle.port, idle.proc, idle.log)
        time.sleep(5)
        idle_rss = rss_mib(idle.proc.pid)
        idle.stop()

        wait_listening(emulator_port, emulator, emulator_log)
        portals = json.loads(credentials.read_text())["portals"]
        started = time.monotonic()
        with runtime.db.session() as s:
            s.add_all(PartnerAccount(name=f"Partner {i:03d}") for i in range(args.connections))
        service = ConnectionService(runtime)
        for i, portal in enumerate(portals):
            path = workdir / f"portal-{i:03d}.json"
            path.write_text(json.dumps(portal))
            service.add(ConnectionSpec(name=f"partner-{i:03d}-hs", partner=f"Partner {i:03d}", adapter="hubspot",
                                       profile=PROFILE, schedule=f"{args.every:g}s",
                                       auth={"type": "credentials_file", "file": str(path)},
                                       options={"search_per_second": 1000}))
        created = time.monotonic() - started
        runtime.db.dispose()
        print(f"  {args.connections} partners and connections created through ConnectionService in {created:.1f} s")

        poller.start()
        for k in range(args.replicas):
            processes.append(Daemon(f"r{k + 1}", workdir, base_config, port(2 + k), daemon_settings))
        for daemon in processes:
            wait_listening(daemon.port, daemon.proc, daemon.log)
        print(f"  replicas up; settling for {2 * args.every:g} s, then measuring {args.periods} periods")
        time.sleep(2 * args.every)
        window_start = time.time()
        time.sleep(args.periods * args.every)
        window_end = time.time()
        rss = {d.name: rss_mib(d.proc.pid) for d in processes}
        time.sleep(min(args.every, 15))  # lane_runs shows a run once it ended: let the window's last runs end
        minutes = (window_end - window_start) / 60
        steady = [r for r in poller.snapshot() if window_start <= epoch(r[1]) < window_end]
        per_replica = Counter(r[4] for r in steady)
        lanes_of: dict[str, set[str]] = defaultdict(set)
        for lane, *_, replica in steady:
            lanes_of[replica].add(lane)
        outcomes = Counter(r[3] for r in steady)
        scheduled = args.connections / args.every * 60
        even = args.connections / args.replicas

        print("\nsteady state")
        line("lanes per minute, total", f"{len(steady) / minutes:.1f}", f"schedule asks {scheduled:.1f}",
             len(steady) / minutes / scheduled)
        for daemon in processes:
            rate = per_replica[daemon.name] / minutes
            line(f"lanes per minute, {daemon.name}", f"{rate:.1f}", f"even share {scheduled / args.replicas:.1f}",
                 rate / (scheduled / args.replicas))
        line("run outcomes", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
        line("idle daemon RSS (no connections)", f"{idle_rss:.1f} MiB")
        for daemon in processes:
            lanes = len(lanes_of[daemon.name])
            per = (rss[daemon.name] - idle_rss) / lanes * 1024 if lanes else float("nan")
            line(f"RSS per connection, {daemon.name}", f"{per:.0f} KiB",
                 f"RSS {rss[daemon.name]:.1f} MiB, {lanes} lanes")
        counts = [len(lanes_of[d.name]) for d in processes]
        ran = sum(counts) / len(counts)  # below `even` when the box cannot run every lane in the window
        deviation = max(abs(c - ran) for c in counts) / ran * 100
        line("lanes per replica (max / min)", f"{max(counts)} / {min(counts)}",
             f"even {ran:.1f} of those run ({even:.1f} of all)")
        line("spread: largest deviation from even", f"{deviation:.1f} %", "bound 20 %")
        shared = sum(counts) - len(set().union(*lanes_of.values()))
        line("lanes run by two replicas in the window", str(shared), "floor 0")

        victim = processes[0]
        victim_lanes = set(lanes_of[victim.name])
        last_start = {lane: max(epoch(r[1]) for r in steady if r[0] == lane and r[4] == victim.name) for lane in victim_lanes}
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        killed = time.time()
        print(f"\n{victim.name} killed (SIGKILL) holding {len(victim_lanes)} lanes")
        deadline = killed + args.every + 4 * args.lease
        taken: dict[str, float] = {}
        while time.time() < deadline and len(taken) < len(victim_lanes):
            time.sleep(1)
            for lane, started_at, _, _, replica in poller.snapshot():
                if lane in victim_lanes and replica != victim.name and epoch(started_at) > killed:
                    taken[lane] = min(taken.get(lane, float("inf")), epoch(started_at))
        delays = [taken[lane] - killed for lane in taken]
        beyond_due = [taken[lane] - max(killed, last_start[lane] + args.every) for lane in taken]
        line("lanes taken over", f"{len(taken)} / {len(victim_lanes)}")
        if delays:
            line("takeover, kill to first run (max)", f"{max(delays) / args.lease:.2f} lease", "bound 2 lease periods")
            line("takeover, kill to first run (median)", f"{statistics.median(delays) / args.lease:.2f} lease")
            line("takeover, from the later of kill and due (max)", f"{max(beyond_due) / args.lease:.2f} lease",
                 "bound 2 lease periods")
        after_start = time.time()
        time.sleep(args.every)
        after_end = time.time()
        time.sleep(min(args.every, 15))
        after = [r for r in poller.snapshot() if after_start <= epoch(r[1]) < after_end]
        survivors = Counter(r[4] for r in after)
        surviving = [d.name for d in processes[1:]]
        line("runs per survivor in the next period", " / ".join(str(survivors[n]) for n in surviving),
             f"even {args.connections / len(surviving):.1f}")

        runs = poller.snapshot()
        overlaps = sum(1 for a, b in zip(runs, runs[1:]) if a[0] == b[0] and b[1] < a[2])
        line("overlapping runs of one lane (whole run)", str(overlaps), f"floor 0 ({len(runs)} runs seen)")
    finally:
        poller.stopping.set()
        if poller.is_alive():
            poller.join()
        for daemon in processes:
            daemon.stop()
        emulator.terminate()
        emulator.wait(30)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
