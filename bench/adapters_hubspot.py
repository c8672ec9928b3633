"""Benchmark the HubSpot adapter: push N records (batch upsert), pull them back (read_changes from
None), and compare the API calls made with the physical floor (push ceil(N/100), pull ceil(N/200)).

    python bench/adapters_hubspot.py [--sizes 10000,100000]

The emulator (rate limits off) runs in a child process started by this script, so the memory
figures are the adapter's alone, not the emulator's growing store. Each size runs on a reset
emulator: a timed push and pull, then a second push (updates) and pull under tracemalloc for the
peak of Python allocations. The adapter's own search pacing is raised to 1,000/s to match the
emulator's limits being off; against HubSpot (5 searches/s) a pull takes at least N/1,000 s.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from connector.adapters.hubspot import HubSpotAdapter, PrivateAppToken
from connector.clock import SystemClock
from crm_emulators.hubspot.app import create_app
from crm_emulators.hubspot.emulator import EmulatorOptions, HubSpotEmulator
from crm_emulators.runner import free_port, serve_forever

HOST = "127.0.0.1"
TARGET_RATIO = 1.05
MIB = 1024 * 1024


def serve(port: int) -> None:
    """The child process: an emulator with its limits off."""
    options = EmulatorOptions(ten_second_limit=None, daily_limit=None, search_per_second=None)
    serve_forever(create_app(HubSpotEmulator(options)), HOST, port)


class Emulator:
    """The child-process emulator, reached over HTTP."""

    def __init__(self) -> None:
        self.port = free_port(HOST)
        self.base_url = f"http://{HOST}:{self.port}"
        self.process = multiprocessing.get_context("spawn").Process(target=serve, args=(self.port,), daemon=True)

    def __enter__(self) -> Emulator:
        self.process.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.base_url}/__emulator/stats", timeout=1).raise_for_status()
                return self
            except requests.RequestException:
                if time.monotonic() > deadline or not self.process.is_alive():
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(10)

    def reset(self) -> None:
        requests.post(f"{self.base_url}/__emulator/reset", timeout=30).raise_for_status()

    def token(self) -> str:
        credentials = requests.get(f"{self.base_url}/__emulator/credentials", timeout=10).json()
        return str(credentials["portals"][0]["private_app_token"])

    def calls(self) -> dict[str, int]:
        stats = requests.get(f"{self.base_url}/__emulator/stats", timeout=30).json()
        return dict(stats["portals"][0]["api_calls"]["by_category"])


def records(n: int) -> Iterator[list[dict[str, Any]]]:
    """N contacts in batches of 100, made as they are needed."""
    for start in range(0, n, HubSpotAdapter.max_upsert_batch):
        yield [
            {"upm_id": f"bench-{i}", "email": f"bench{i}@example.com", "company": f"Company {i}", "firstname": "Bench", "lastname": str(i)}
            for i in range(start, min(n, start + HubSpotAdapter.max_upsert_batch))
        ]


def push(adapter: HubSpotAdapter, n: int) -> int:
    written = 0
    for batch in records(n):
        results = adapter.upsert("contacts", "upm_id", batch)
        written += sum(r.ok for r in results)
    return written


def pull(adapter: HubSpotAdapter) -> int:
    return sum(len(page) for page in adapter.read_changes("contacts", None, ["upm_id", "email", "company", "firstname", "lastname"]))


@dataclass
class Phase:
    records: int
    seconds: float
    calls: int
    floor: int

    @property
    def ratio(self) -> float:
        return self.calls / self.floor

    def line(self, name: str) -> str:
        verdict = "ok" if self.ratio <= TARGET_RATIO else "OVER TARGET"
        return (f"  {name}: {self.records:,} records in {self.seconds:.2f} s = {self.records / self.seconds:,.0f} records/s; "
                f"API calls {self.calls:,} vs floor {self.floor:,}: ratio {self.ratio:.3f} (target <= {TARGET_RATIO}: {verdict})")


def timed(emulator: Emulator, category: str, floor: int, work: Callable[[], int]) -> Phase:
    before = emulator.calls().get(category, 0)
    start = time.perf_counter()
    count = work()
    seconds = time.perf_counter() - start
    return Phase(count, seconds, emulator.calls().get(category, 0) - before, floor)


def traced_peak(work: Callable[[], int]) -> float:
    """Peak MiB of Python allocations while `work` runs."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(emulator: Emulator, n: int) -> None:
    emulator.reset()
    adapter = HubSpotAdapter("bench", PrivateAppToken(emulator.token()), base_url=emulator.base_url, clock=SystemClock(),
                             options={"search_per_second": 1000})
    try:
        rss_before = max_rss_mib()
        pushed = timed(emulator, "batch_upsert", math.ceil(n / 100), lambda: push(adapter, n))
        pulled = timed(emulator, "search", math.ceil(n / 200), lambda: pull(adapter))
        rss_delta = max_rss_mib() - rss_before
        push_peak = traced_peak(lambda: push(adapter, n))
        pull_peak = traced_peak(lambda: pull(adapter))
    finally:
        adapter.close()
    print(f"N = {n:,}")
    print(pushed.line("push"))
    print(pulled.line("pull"))
    print(f"  memory: tracemalloc peak push {push_peak:.1f} MiB, pull {pull_peak:.1f} MiB; ru_maxrss growth {rss_delta:.1f} MiB")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated record counts (default: 10000,100000)")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",") if s.strip()]
    with Emulator() as emulator:
        for n in sizes:
            run(emulator, n)


if __name__ == "__main__":
    main()
