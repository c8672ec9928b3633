"""Benchmark the Salesforce adapter: push N records (upsert by external id in batches of
max_upsert_batch, sObject Collections packed into /composite), pull them back (read_changes from None),
and compare the API calls made with the physical floor (push ceil(N/1000), pull ceil(N/2000)).

    python bench/adapters_salesforce.py [--sizes 10000,100000] [--bulk]

The emulator (HTTPS, its own test CA) is started by this script in a child process, so that the
memory figures are the adapter's alone, not the emulator's growing store. Each size runs on a reset
emulator: a timed push and pull, then a second push (updates) and pull under tracemalloc for the
peak of Python allocations. With --bulk, the N records are also loaded once more in ONE upsert_many
call above the adapter's bulk threshold, through Bulk API 2.0.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from connector.adapters.salesforce import SalesforceAdapter
from connector.auth.vault import TokenSet
from connector.clock import SystemClock
from crm_emulators.runner import free_port
from crm_emulators.salesforce import EmulatorOptions, serve_in_background

HOST = "127.0.0.1"
TARGET_RATIO = 1.05
MIB = 1024 * 1024
OBJ, EXTERNAL_ID = "Lead", "UPM_Id__c"
FIELDS = [EXTERNAL_ID, "Company", "FirstName", "LastName", "Email"]


def serve(state_dir: str, port: int) -> None:
    """The child process: an emulator whose daily allocation does not get in the way."""
    with serve_in_background(EmulatorOptions(daily_api_limit=10_000_000), state_dir=state_dir, host=HOST, port=port):
        threading.Event().wait()


class Emulator:
    """The child-process emulator, reached over HTTPS with the credentials it writes."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.port = free_port(HOST)
        self.process = multiprocessing.get_context("spawn").Process(target=serve, args=(str(state_dir), self.port), daemon=True)
        self.credentials: dict[str, str] = {}
        self.http = requests.Session()

    def __enter__(self) -> Emulator:
        self.process.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.credentials = json.loads((self.state_dir / "credentials.json").read_text(encoding="utf-8"))
                self.http.verify = self.credentials["ca_file"]
                self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (psf/requests#3829)
                self.stats()
                return self
            except (OSError, ValueError, KeyError, requests.RequestException):
                if time.monotonic() > deadline or not self.process.is_alive():
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.process.terminate()
        self.process.join(10)

    def stats(self) -> dict[str, Any]:
        response = self.http.get(f"{self.credentials['instance_url']}/__emulator/stats", timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def calls(self, *categories: str) -> int:
        by_category = self.stats()["api_calls"]["by_category"]
        return sum(int(by_category.get(category, 0)) for category in categories)

    def reset(self) -> None:
        self.http.post(f"{self.credentials['instance_url']}/__emulator/reset", timeout=60).raise_for_status()


class RefreshTokens:
    """`Tokens` from the emulator's token endpoint (refresh-token grant), kept in memory."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.tokens: TokenSet | None = None

    def current(self) -> TokenSet:
        return self.tokens or self.refresh(None)

    def refresh(self, seen_generation: int | None) -> TokenSet:
        credentials = self.emulator.credentials
        answer = self.emulator.http.post(credentials["token_url"], data={
            "grant_type": "refresh_token", "refresh_token": credentials["refresh_token"],
            "client_id": credentials["client_id"], "client_secret": credentials["client_secret"],
        }, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        generation = (self.tokens.generation if self.tokens else 0) + 1
        self.tokens = TokenSet(access_token=body["access_token"], refresh_token=None, instance_url=body["instance_url"],
                               generation=generation)
        return self.tokens


def records(n: int, batch: int) -> Iterator[list[dict[str, Any]]]:
    """N leads in batches of `batch`, made as they are needed."""
    for start in range(0, n, batch):
        yield [
            {EXTERNAL_ID: f"bench-{i}", "Company": f"Company {i}", "FirstName": "Bench", "LastName": str(i),
             "Email": f"bench{i}@example.com"}
            for i in range(start, min(n, start + batch))
        ]


def push(adapter: SalesforceAdapter, n: int) -> int:
    """N records through `upsert`, max_upsert_batch at a time (as the engine sends them)."""
    written = 0
    for chunk in records(n, adapter.max_upsert_batch):
        written += sum(r.ok for r in adapter.upsert(OBJ, EXTERNAL_ID, chunk))
    return written


def load(adapter: SalesforceAdapter, n: int) -> int:
    """N records in ONE `upsert_many` call (an initial load)."""
    return sum(r.ok for chunk in records(n, n) for r in adapter.upsert_many(OBJ, EXTERNAL_ID, chunk))


def pull(adapter: SalesforceAdapter) -> int:
    return sum(len(page) for page in adapter.read_changes(OBJ, None, FIELDS))


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


def timed(emulator: Emulator, categories: tuple[str, ...], floor: int, work: Callable[[], int]) -> Phase:
    before = emulator.calls(*categories)
    start = time.perf_counter()
    count = work()
    seconds = time.perf_counter() - start
    return Phase(count, seconds, emulator.calls(*categories) - before, floor)


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


def run(emulator: Emulator, n: int, bulk: bool) -> None:
    emulator.reset()
    batch = SalesforceAdapter.max_upsert_batch
    adapter = SalesforceAdapter("bench", RefreshTokens(emulator), clock=SystemClock(), ca_file=emulator.credentials["ca_file"])
    try:
        rss_before = max_rss_mib()
        pushed = timed(emulator, ("composite",), math.ceil(n / batch), lambda: push(adapter, n))
        pulled = timed(emulator, ("query", "queryMore"), math.ceil(n / 2000), lambda: pull(adapter))
        rss_delta = max_rss_mib() - rss_before
        push_peak = traced_peak(lambda: push(adapter, n))
        pull_peak = traced_peak(lambda: pull(adapter))
    finally:
        adapter.close()
    print(f"N = {n:,}")
    print(pushed.line("push (composite)"))
    print(pulled.line("pull"))
    print(f"  memory: tracemalloc peak push {push_peak:.1f} MiB, pull {pull_peak:.1f} MiB; ru_maxrss growth {rss_delta:.1f} MiB")
    if bulk:
        emulator.reset()
        bulk_adapter = SalesforceAdapter("bench-bulk", RefreshTokens(emulator), clock=SystemClock(),
                                         ca_file=emulator.credentials["ca_file"],
                                         options={"bulk_threshold": batch, "bulk_poll_seconds": 0.5})
        try:
            bulked = timed(emulator, ("bulk2", "composite"), 1, lambda: load(bulk_adapter, n))
        finally:
            bulk_adapter.close()
        print(f"  push (Bulk API 2.0, one upsert_many call): {bulked.records:,} records in {bulked.seconds:.2f} s = "
              f"{bulked.records / bulked.seconds:,.0f} records/s; API calls {bulked.calls} (one job: about 4 + polls)")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated record counts (default: 10000,100000)")
    parser.add_argument("--bulk", action="store_true", help="also push the N records once through Bulk API 2.0")
    arguments = parser.parse_args()
    sizes = [int(s) for s in arguments.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="upm-sf-bench-") as state_dir, Emulator(Path(state_dir)) as emulator:
        for n in sizes:
            run(emulator, n, arguments.bulk)


if __name__ == "__main__":
    main()
