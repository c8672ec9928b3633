"""Benchmark the sync engine: an initial sync of N records from each emulator into SQLite and into
PostgreSQL beside its floor from the same run, then a no-change cycle.

    python bench/sync_engine.py [--sizes 10000,100000] [--crms hubspot,salesforce]
                                [--databases sqlite,postgresql] [--postgres URL] [--latency MS]
                                [--read-ahead on,off] [--heap bulk,default]

PostgreSQL needs a database of your own: UPM_BENCH_POSTGRES_URL or --postgres (no default).

Each emulator runs in a child process (`upm-connector emulator ...`, `--latency MS` added to every
request, as a remote CRM's round trip) seeded with N contacts, and each measurement in a forked
child of its own, so the memory figure (that child's peak RSS) is one sync's, not the emulator's
store nor an earlier run's. The engine syncs the shipped advanced profile's `contact` object
through the real adapter.

The floor reads the same fields (Salesforce: simple-salesforce's `query_all_iter` on the engine's
query; HubSpot: the adapter's search pages) and inserts each 2,000 rows at the driver's level into
an empty migrated datastore (SQLite: one `executemany`; PostgreSQL: one COPY), one transaction
each, read and write one after the other: "engine/floor" is the floor's time over the engine's
(1.0: as fast; above 1: faster, the engine reads the next page while it writes). That floor writes
four columns of one table; the engine writes every mapped column and, for each record, its binding
row (a second table, three indexes). A second floor writes those same rows at the driver's level
(the ids drawn as the engine draws them, the echo values as orjson text): "engine/same-rows floor".
The no-change cycle is measured on a later cycle, with the engine's clock past the lookback window
(right after a load, the cursor is held `lookback_seconds` behind the load's start, and the next
cycle re-reads that window once), after one more no-change cycle, as the daemon's lane runs it
(the delete log is read every `deletes_every_seconds`), and once more reading the delete log too
(as `sync` does).
Targets printed beside the figures: engine/floor >= 0.80, peak RSS < 250 MiB, a no-change cycle
< 1 s with one API call per object.

`--read-ahead on,off` runs each sync twice, with the engine's read-ahead and with the pages read
inline (one after the other with the writes, as the floor does), to show what the overlap gains
(against `--latency MS`, a remote CRM's round trip). `--heap bulk,default` runs each sync under the
daemon's garbage-collector policy (`connector.heap.bulk_work_heap`, the default here as in the
daemon) and under CPython's default thresholds, to show what the policy gains. The ORM's mappers are
configured before the clock starts (a process does it once, at its first query: about 0.2-0.6 s on
this machine, which is not a sync's cost).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.orm import configure_mappers

from connector.config import load_settings
from connector.config.settings import Settings
from connector.store.migrate import upgrade
from connector.heap import bulk_work_heap
from connector.adapters.salesforce.settings import SYSTEM_FIELDS
from connector.adapters.salesforce.soql import changes_query
from connector.runtime import Runtime
import connector.sync.pull
from connector.sync.pull import NEXT_IDS

REPO = Path(__file__).resolve().parents[1]
FLOOR_PAGE = {"hubspot": 200, "salesforce": 2000}
OBJECT = {"hubspot": "contacts", "salesforce": "Contact"}


def seed(crm: str, n: int, path: Path) -> None:
    """The emulator's seed file, written a row at a time (the parent process stays small: each
    measured child is forked from it, and its peak RSS would count what the parent holds)."""
    if crm == "hubspot":
        head, tail = '{"portals": [{"records": {"contacts": [', "]}}]}"
        row = lambda i: {"email": f"p{i}@bench.example", "firstname": "P", "lastname": f"Person {i}", "jobtitle": "Buyer"}  # noqa: E731
    else:
        head, tail = '{"Contact": [', "]}"
        row = lambda i: {"Email": f"p{i}@bench.example", "FirstName": "P", "LastName": f"Person {i}", "Title": "Buyer"}  # noqa: E731
    with path.open("w") as out:
        out.write(head)
        for i in range(n):
            out.write(("," if i else "") + json.dumps(row(i)))
        out.write(tail)


class ChildEmulator:
    """`upm-connector emulator CRM` in a child process, seeded, credentials written."""

    def __init__(self, crm: str, seed_file: Path, workdir: Path, latency_ms: float = 0, records: int = 0):
        self.crm = crm
        self.records = records
        self.credentials = workdir / f"{crm}-credentials.json"
        args = [sys.executable, "-m", "connector", "emulator", crm, "--port", "0", "--seed-file", str(seed_file),
                "--write-credentials", str(self.credentials)]
        if crm == "hubspot":
            args += ["--ten-second-limit", "100000000", "--daily-limit", "1000000000", "--search-per-second", "0"]
        else:
            args += ["--state-dir", str(workdir / "sf-state"), "--daily-api-limit", "100000000"]
        args += ["--latency", str(latency_ms)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> ChildEmulator:
        deadline = time.monotonic() + 300 + self.records / 500  # a 1,000,000-record seed loads for minutes
        while not self.credentials.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.terminate()  # not left behind, loading
                raise RuntimeError(f"the {self.crm} emulator did not start")
            time.sleep(0.2)
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def stats(self) -> dict[str, Any]:
        creds = json.loads(self.credentials.read_text())
        base = creds.get("base_url") or creds["instance_url"]
        return requests.get(f"{base}/__emulator/stats", verify=creds.get("ca_file") or True, timeout=30).json()

    def search_seconds(self) -> float:
        """HubSpot: the emulator's own time spent answering searches so far (0 for Salesforce)."""
        return float(self.stats()["portals"][0]["search_seconds"]) if self.crm == "hubspot" else 0.0

    def api_calls(self) -> int:
        stats = self.stats()
        if self.crm == "hubspot":
            return sum(c for k, c in stats["portals"][0]["api_calls"]["by_category"].items() if k != "token")
        return int(stats["api_calls"]["total"])


class LaterClock:
    """The wall clock, some minutes ahead: cycles run after the lookback window has passed."""

    def __init__(self, seconds_ahead: float):
        self.ahead = timedelta(seconds=seconds_ahead)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.ahead


@dataclass(frozen=True)
class Scratch:
    """A run's scratch space: its folder (SQLite files, config, key, seeds) and the PostgreSQL
    database of your own that its schemas go in ("" when the run uses none: there is no default)."""

    folder: Path
    postgres: str = ""

    def database_url(self, kind: str) -> tuple[str, Any]:
        """A new empty datastore of `kind` (sqlite, postgresql): its URL and what `drop` removes."""
        if kind == "sqlite":
            return f"sqlite:///{self.folder / f'bench-{uuid.uuid4().hex[:6]}.db'}", None
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        return f"{self.postgres}?options=-csearch_path%3D{schema}", (admin, schema)

    def settings(self, crm: str, url: str, emulator: ChildEmulator) -> Settings:
        """The benchmarks' config, written here and loaded: the datastore at `url`, one connection
        `bench` to the emulator with the shipped advanced profile, no embedded emulators."""
        config = self.folder / "config.yaml"
        config.write_text(f"""
database: {{url: "{url}"}}
secrets: {{key_file: {self.folder / 'bench.key'}}}
emulators: {{salesforce: {{enabled: false}}, hubspot: {{enabled: false}}}}
connections:
  bench:
    adapter: {crm}
    auth: {{type: credentials_file, file: {emulator.credentials}}}
    mapping: {REPO / 'mappings' / crm / 'advanced.yaml'}
    options: {json.dumps({"search_per_second": 1000} if crm == "hubspot" else {})}
""")
        return load_settings(config)


def drop(cleanup: Any) -> None:
    if cleanup:
        admin, schema = cleanup
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


COLUMNS = ("email", "first_name", "last_name", "title")
FIELDS = {"hubspot": ("email", "firstname", "lastname", "jobtitle"), "salesforce": ("Email", "FirstName", "LastName", "Title")}
MAPPED = {  # the shipped advanced profile's inbound contact fields: UPM column <- CRM field
    "hubspot": {"email": "email", "first_name": "firstname", "last_name": "lastname", "title": "jobtitle",
                "phone": "phone", "mobile_phone": "mobilephone"},
    "salesforce": {"email": "Email", "first_name": "FirstName", "last_name": "LastName", "title": "Title",
                   "phone": "Phone", "mobile_phone": "MobilePhone", "lead_source": "LeadSource",
                   "account_id": "AccountId"},
}
FLOOR_BATCH = 2000


def floor_seconds(crm: str, kind: str, adapter: Any, obj: str, fields: list[str], scratch: Scratch,
                  with_bindings: bool = False) -> float:
    """Read the same fields, insert each 2,000 rows at the driver's level (see the docstring).
    `with_bindings`: the rows the engine writes, every mapped column of each contact and its
    binding row (ids drawn as the engine draws them, echo values as orjson text)."""
    url, cleanup = scratch.database_url(kind)
    db = Runtime(load_settings(None, environ={"UPM_DATABASE_URL": url})).db
    upgrade(db)
    raw = db.engine.raw_connection()
    driver = raw.driver_connection
    now = datetime.now(timezone.utc)
    stamp: Any = now.replace(tzinfo=None).isoformat(" ", "microseconds") if kind == "sqlite" else now
    columns = tuple(MAPPED[crm]) if with_bindings else COLUMNS
    names = ", ".join([*columns, "created_at", "updated_at"])
    wanted = tuple(MAPPED[crm].values()) if with_bindings else FIELDS[crm]
    binding_names = ("connection, crm_object, crm_id, module, record_id, synced_values, crm_modified_at, "
                     "synced_at, created_at, updated_at")

    def record_ids(cursor: Any, count: int) -> list[int]:
        if kind == "sqlite":  # consecutive, as the engine relies on (this transaction holds the write lock)
            last = cursor.execute("SELECT max(id) FROM contacts").fetchone()[0]
            return list(range(last - count + 1, last + 1))
        cursor.execute(NEXT_IDS, ("contacts", count))
        return [row[0] for row in cursor.fetchall()]

    def write(rows: list[tuple[Any, ...]]) -> None:
        cursor = driver.cursor()
        values = [row[2:] for row in rows] if with_bindings else rows
        ids: list[int] = []
        if kind == "sqlite":
            marks = ", ".join("?" for _ in values[0])
            cursor.executemany(f"INSERT INTO contacts ({names}) VALUES ({marks})", values)
            ids = record_ids(cursor, len(rows)) if with_bindings else []
        else:
            ids = record_ids(cursor, len(rows)) if with_bindings else []
            target = f"contacts (id, {names})" if with_bindings else f"contacts ({names})"
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for n, row in enumerate(values):
                    copy.write_row((ids[n], *row) if with_bindings else row)
        if with_bindings:
            bound = [("bench", obj, row[0], "contact", ids[n], orjson.dumps(dict(zip(columns, row[2:-2]))).decode(),
                      row[1], stamp, stamp, stamp) for n, row in enumerate(rows)]
            if kind == "sqlite":
                cursor.executemany(f"INSERT INTO bindings ({binding_names}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", bound)
            else:
                with cursor.copy(f"COPY bindings ({binding_names}) FROM STDIN") as copy:
                    for binding in bound:
                        copy.write_row(binding)
        cursor.close()
        driver.commit()

    started = time.perf_counter()
    head: Any  # with bindings each row starts with the CRM id and stamp
    if crm == "salesforce":
        soql = changes_query(obj, [*SYSTEM_FIELDS, *fields], None, {})
        records: Any = adapter.session.client().query_all_iter(soql)
        head = (lambda r: (r["Id"], r["SystemModstamp"])) if with_bindings else (lambda r: ())
        rows = ((*head(r), *(r.get(f) for f in wanted), stamp, stamp) for r in records)
    else:
        head = (lambda r: (r.id, r.modified_at)) if with_bindings else (lambda r: ())
        rows = ((*head(r), *(r.fields.get(f) for f in wanted), stamp, stamp)
                for page in adapter.read_changes(obj, None, fields) for r in page)
    write_in_batches(rows, write)
    seconds = time.perf_counter() - started
    raw.close()
    db.dispose()
    drop(cleanup)
    return seconds


def write_in_batches(rows: Iterable[tuple[Any, ...]], write: Callable[[list[tuple[Any, ...]]], None]) -> None:
    """Hand the floor's writer `rows` FLOOR_BATCH at a time (the last batch may be smaller)."""
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == FLOOR_BATCH:
            write(batch)
            batch = []
    if batch:
        write(batch)


def each_in_a_child(scratch: Scratch, sizes: list[int], crms: list[str], kinds: list[str], latency: float,
                    target: Callable[..., None]) -> None:
    """For each size, CRM and database: a seeded emulator child, and `target(crm, kind, n, emulator,
    scratch)` run in a forked child of its own (its peak RSS is one measurement's)."""
    for n in sizes:
        for crm in crms:
            seed_file = scratch.folder / f"{crm}-{n}.json"
            seed(crm, n, seed_file)
            for kind in kinds:
                with ChildEmulator(crm, seed_file, scratch.folder, latency, n) as emulator:
                    child = multiprocessing.get_context("fork").Process(target=target, args=(crm, kind, n, emulator, scratch))
                    child.start()
                    child.join()
                emulator.credentials.unlink(missing_ok=True)


class TimedReads:
    """Wraps an adapter's read_changes: the time spent waiting for pages (HTTP and parsing)."""

    def __init__(self, adapter: Any):
        self.read_changes = adapter.read_changes
        self.seconds = 0.0
        self.args: tuple[Any, ...] = ()
        adapter.read_changes = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.args = args
        pages = iter(self.read_changes(*args, **kwargs))
        while True:
            started = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - started
            yield page


class Inline:
    """Stands in for the engine's ReadAhead (`--read-ahead off`): the batches read in the writer's thread."""

    def __init__(self, pages: Any):
        self.pages = pages

    def __enter__(self) -> Any:
        return iter(self.pages)

    def __exit__(self, *exc: object) -> None:
        return None


def run(crm: str, kind: str, n: int, emulator: ChildEmulator, scratch: Scratch, read_ahead: bool, heap: str) -> None:
    """One initial sync and its floors, then the no-change cycle, under the daemon's heap policy
    (`heap` "bulk") or CPython's defaults ("default"); one line printed."""
    if not read_ahead:
        connector.sync.pull.ReadAhead = Inline  # type: ignore[assignment,misc]
    if heap == "bulk":
        with bulk_work_heap():
            measure(crm, kind, n, emulator, scratch, read_ahead, heap)
    else:
        configure_mappers()
        measure(crm, kind, n, emulator, scratch, read_ahead, heap)


def measure(crm: str, kind: str, n: int, emulator: ChildEmulator, scratch: Scratch, read_ahead: bool, heap: str) -> None:
    url, cleanup = scratch.database_url(kind)
    settings = scratch.settings(crm, url, emulator)
    db = Runtime(settings).db
    upgrade(db)
    engine = Runtime(settings, db=db).engine("bench")
    reads = TimedReads(engine.adapter)
    calls_before, search_before = emulator.api_calls(), emulator.search_seconds()
    started = time.perf_counter()
    counts = engine.cycle(only="contact")
    seconds = time.perf_counter() - started
    search = emulator.search_seconds() - search_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    calls = emulator.api_calls() - calls_before
    floor = math.ceil(n / FLOOR_PAGE[crm])
    obj, _since, fields = reads.args
    engine.adapter.read_changes = reads.read_changes
    floor_s = floor_seconds(crm, kind, engine.adapter, obj, list(fields), scratch)
    same_rows_s = floor_seconds(crm, kind, engine.adapter, obj, list(fields), scratch, with_bindings=True)
    engine.adapter.close()
    # The steady state: later cycles, past the lookback. The first one moves the cursor up to the
    # newest stamp (the load's run start held it back); the second is a no-change cycle that reads
    # the delete log if the first outlasted `deletes_every_seconds` (at 1,000,000 it re-reads them
    # all); the third is the no-change cycle measured, as the daemon's lane runs it after another.
    later = Runtime(settings, clock=LaterClock(seconds_ahead=600), db=db).engine("bench")
    later.cycle(only="contact", deletes="due")
    later.cycle(only="contact", deletes="due")
    started = time.perf_counter()
    calls_before = emulator.api_calls()
    again = later.cycle(only="contact", deletes="due")
    idle_seconds = time.perf_counter() - started
    idle_calls = emulator.api_calls() - calls_before
    calls_before = emulator.api_calls()
    with_deletes = later.cycle(only="contact", deletes="now")
    delete_calls = emulator.api_calls() - calls_before
    later.adapter.close()
    db.dispose()
    drop(cleanup)
    print(f"{crm:10} {kind:10} N={n:>9,} read-ahead {'on ' if read_ahead else 'off'} heap {heap:7}: initial sync {seconds:7.1f} s = {n / seconds:7,.0f} records/s "
          f"(created {counts.created:,}); floor (read + driver insert) {floor_s:6.1f} s = {n / floor_s:7,.0f} records/s, "
          f"engine/floor {floor_s / seconds:.2f} (target 0.80); floor writing the same rows (records + bindings) "
          f"{same_rows_s:6.1f} s, engine/same-rows floor {same_rows_s / seconds:.2f}; CRM reads {reads.seconds:.1f} s ({'in the reader thread' if read_ahead else 'inline'}); "
          f"API calls {calls:,} vs floor {floor:,} (ratio {calls / floor:.3f}); peak RSS {peak / 2**20:6.1f} MiB (target < 250); "
          f"no-change cycle {idle_seconds:5.2f} s (target < 1), {idle_calls} API call(s) (target 1; {delete_calls} with "
          f"the delete log), "
          f"{again.updated + again.created + with_deletes.updated + with_deletes.created} writes"
          + (f"; emulator search {search:.1f} s of the pull's {seconds:.1f} s, share {search / seconds:.2f} (target < 0.25)"
             if crm == "hubspot" else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--crms", default="hubspot,salesforce")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--latency", type=float, default=0, help="milliseconds the emulators add to every request")
    parser.add_argument("--read-ahead", default="on", help="on, off, or on,off (each sync run both ways)")
    parser.add_argument("--heap", default="bulk", help="bulk (the daemon's collector policy), default (CPython's), or both")
    parser.add_argument("--postgres", default=os.environ.get("UPM_BENCH_POSTGRES_URL", ""),
                        help="SQLAlchemy URL of a database of your own (default: $UPM_BENCH_POSTGRES_URL)")
    args = parser.parse_args()
    if "postgresql" in args.databases.split(",") and not args.postgres:
        parser.error("--databases includes postgresql: set UPM_BENCH_POSTGRES_URL or pass --postgres "
                     "(a database of your own, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/h_me_bench)")
    with tempfile.TemporaryDirectory(prefix="upm-bench-") as tmp:
        scratch = Scratch(Path(tmp), args.postgres)
        for n in [int(s) for s in args.sizes.split(",")]:
            for crm in args.crms.split(","):
                seed_file = scratch.folder / f"{crm}-{n}.json"
                seed(crm, n, seed_file)
                for kind in args.databases.split(","):
                    for read_ahead, heap in itertools.product(args.read_ahead.split(","), args.heap.split(",")):
                        with ChildEmulator(crm, seed_file, scratch.folder, args.latency, n) as emulator:
                            child = multiprocessing.get_context("fork").Process(
                                target=run, args=(crm, kind, n, emulator, scratch, read_ahead == "on", heap))
                            child.start()
                            child.join()
                        emulator.credentials.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
