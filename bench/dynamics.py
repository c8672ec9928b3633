"""Benchmark the Dynamics 365 adapter: push N leads (alternate-key upserts in `$batch`), pull them back
(read_changes from None, pages of 5,000), and compare the API calls made with the floor from the same
run: push ceil(N/1000) batches, pull ceil(N/5000) pages.

    python bench/dynamics.py [--sizes 10000,100000]

The emulator (service protection off: its 6,000 requests per 5 minutes would throttle a bulk load,
as on a real environment) is served over HTTPS in this process, on its own threads; tokens come from
msal's client-credentials flow. Each size runs on a reset emulator: a push (creates), a pull, and a
second push (updates).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from connector.adapters.dynamics import ClientCredentials, DynamicsAdapter
from connector.clock import SystemClock
from crm_emulators.dynamics import EmulatorOptions, RunningEmulator, serve_in_background

BATCH, PAGE = 1000, 5000


@dataclass
class Phase:
    records: int
    seconds: float
    calls: int
    floor: int

    def line(self, name: str) -> str:
        rate = self.records / self.seconds if self.seconds else float("inf")
        return (f"  {name:<14} {self.records:>8,} records in {self.seconds:7.2f} s = {rate:>9,.0f}/s;"
                f" API calls {self.calls:,} vs floor {self.floor:,} (ratio {self.calls / self.floor:.3f})")


def adapter_for(running: RunningEmulator) -> DynamicsAdapter:
    creds = running.credentials
    tokens = ClientCredentials(creds["client_id"], creds["client_secret"], creds["authority"], ca_file=creds["ca_file"])
    return DynamicsAdapter("bench", tokens, base_url=running.base_url, clock=SystemClock(), ca_file=creds["ca_file"])


def timed(running: RunningEmulator, floor: int, work: Callable[[], int]) -> Phase:
    before = running.emulator.stats()["api_calls"]["total"]
    start = time.perf_counter()
    count = work()
    seconds = time.perf_counter() - start
    return Phase(count, seconds, running.emulator.stats()["api_calls"]["total"] - before, floor)


def run(running: RunningEmulator, n: int) -> None:
    running.emulator.reset()
    adapter = adapter_for(running)
    adapter.describe("lead")  # entity set and the token, outside the timed phases

    def push(edit: str) -> int:
        done = 0
        for start in range(0, n, BATCH):
            records = [{"upm_id": f"upm-{i}", "lastname": f"Lead {i}", "companyname": f"{edit} {i}",
                        "emailaddress1": f"lead{i}@example.com"} for i in range(start, min(n, start + BATCH))]
            results = adapter.upsert("lead", "upm_id", records)
            assert all(r.ok for r in results), next(r for r in results if not r.ok)
            done += len(results)
        return done

    def pull() -> int:
        return sum(len(page) for page in adapter.read_changes("lead", None, ["upm_id", "lastname", "companyname"]))

    created = timed(running, math.ceil(n / BATCH), lambda: push("Company"))
    pulled = timed(running, math.ceil(n / PAGE), pull)
    updated = timed(running, math.ceil(n / BATCH), lambda: push("Renamed"))
    assert pulled.records == n, f"pulled {pulled.records} of {n}"
    print(f"N = {n:,}")
    print(created.line("push (create)"))
    print(pulled.line("pull"))
    print(updated.line("push (update)"))
    adapter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated record counts")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    with serve_in_background(EmulatorOptions(requests_per_window=None)) as running:
        for n in sizes:
            run(running, n)


if __name__ == "__main__":
    main()
