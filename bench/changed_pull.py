"""Benchmark an incremental pull where every bound record changed in the CRM (a CRM admin's mass
update), beside its floor from the same run.

    python bench/changed_pull.py [--sizes 10000,100000] [--crms salesforce,hubspot]
                                 [--databases sqlite,postgresql] [--postgres URL]

PostgreSQL needs a database of your own: UPM_BENCH_POSTGRES_URL or --postgres (no default).

Per size, CRM and database, in a forked child (as bench/sync_engine.py): an emulator seeded with N
contacts, an initial load and two settling cycles (not timed); then every contact's title is
changed in the CRM through the raw client library (Salesforce: /composite with sObject
Collections; HubSpot: batch update, then its search lag waited out), not timed. Timed:

- the engine: one cycle of the shipped advanced profile's `contact` object, which reads the N
  changes and merges each into its record (ORM objects, flushed 2,000 a batch: the datastore's
  flush hooks, outbox routing and the rest, see every one) and its binding's echo values;
- the floor: the same changes read with the same client (Salesforce: simple-salesforce's
  `query_all_iter` on the engine's query from the engine's cursor; HubSpot: the adapter's search
  pages), and for each 2,000 of them, in one transaction at the driver's level: the bindings looked
  up by CRM id (one SELECT), the records' mapped columns and the bindings' echo values, stamp and
  sync time written (`executemany` UPDATEs by id).

Printed: each time and rate, engine/floor = floor time / engine time (1.0: as fast), and the records
the cycle updated (N expected).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from push import hubspot_floor, salesforce_floor  # noqa: E402
from sync_engine import (  # noqa: E402
    MAPPED, OBJECT, ChildEmulator, LaterClock, Scratch, TimedReads, drop, each_in_a_child, write_in_batches,
)

from connector.adapters.salesforce.settings import SYSTEM_FIELDS  # noqa: E402
from connector.adapters.salesforce.soql import changes_query  # noqa: E402
from connector.heap import bulk_work_heap  # noqa: E402
from connector.runtime import Runtime  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402

TITLE = {"salesforce": "Title", "hubspot": "jobtitle"}
SEARCH_LAG = 2.0
"""The HubSpot emulator's default `--search-lag` (seconds)."""
CHANGE_BATCH = {"salesforce": 1000, "hubspot": 100}
"""Records a change call carries (the floors of bench/push.py send these batches)."""


def change_all(crm: str, adapter: Any, crm_ids: list[str]) -> None:
    """Every record's title changed in the CRM through the raw client library."""
    size = CHANGE_BATCH[crm]
    batches = [(OBJECT[crm], [(crm_id, {TITLE[crm]: f"Changed {n}"}) for n, crm_id in enumerate(crm_ids[start:start + size], start)])
               for start in range(0, len(crm_ids), size)]
    (salesforce_floor if crm == "salesforce" else hubspot_floor)(adapter, batches)


def floor_seconds(crm: str, kind: str, adapter: Any, db: Any, since: datetime | None, fields: list[str]) -> float:
    """Read the same changes, write each 2,000 at the driver's level (see the docstring)."""
    raw = db.engine.raw_connection()
    driver = raw.driver_connection
    mark = "?" if kind == "sqlite" else "%s"
    now = datetime.now(timezone.utc)
    stamp: Any = now.replace(tzinfo=None).isoformat(" ", "microseconds") if kind == "sqlite" else now
    columns = tuple(MAPPED[crm])
    wanted = tuple(MAPPED[crm].values())
    set_columns = ", ".join(f"{c} = {mark}" for c in (*columns, "updated_at"))
    update_records = f"UPDATE contacts SET {set_columns} WHERE id = {mark}"
    update_bindings = (f"UPDATE bindings SET synced_values = {mark}, crm_modified_at = {mark}, synced_at = {mark}, "
                       f"updated_at = {mark} WHERE id = {mark}")

    def write(rows: list[tuple[Any, ...]]) -> None:
        cursor = driver.cursor()
        crm_ids = [row[0] for row in rows]
        if kind == "sqlite":
            cursor.execute(f"SELECT crm_id, id, record_id FROM bindings WHERE connection = 'bench' AND crm_object = ? "
                           f"AND crm_id IN ({', '.join('?' for _ in crm_ids)})", (OBJECT[crm], *crm_ids))
        else:
            cursor.execute("SELECT crm_id, id, record_id FROM bindings WHERE connection = 'bench' AND crm_object = %s "
                           "AND crm_id = ANY(%s)", (OBJECT[crm], crm_ids))
        bound = {crm_id: (binding_id, record_id) for crm_id, binding_id, record_id in cursor.fetchall()}
        found = [(row, *bound[row[0]]) for row in rows if row[0] in bound]
        cursor.executemany(update_records, [(*row[2:], stamp, record_id) for row, _b, record_id in found])
        cursor.executemany(update_bindings, [(orjson.dumps(dict(zip(columns, row[2:]))).decode(), row[1], stamp, stamp,
                                              binding_id) for row, binding_id, _r in found])
        cursor.close()
        driver.commit()

    started = time.perf_counter()
    rows: Any
    if crm == "salesforce":
        records = adapter.session.client().query_all_iter(changes_query(OBJECT[crm], [*SYSTEM_FIELDS, *fields], since, {}))
        rows = ((r["Id"], r["SystemModstamp"], *(r.get(f) for f in wanted)) for r in records)
    else:
        rows = ((r.id, r.modified_at, *(r.fields.get(f) for f in wanted))
                for page in adapter.read_changes(OBJECT[crm], since, fields) for r in page)
    write_in_batches(rows, write)
    seconds = time.perf_counter() - started
    raw.close()
    return seconds


def measure(crm: str, kind: str, n: int, emulator: ChildEmulator, scratch: Scratch) -> None:
    url, cleanup = scratch.database_url(kind)
    settings = scratch.settings(crm, url, emulator)
    db = Runtime(settings).db
    upgrade(db)
    Runtime(settings, db=db).engine("bench").cycle(only="contact")
    engine = Runtime(settings, clock=LaterClock(seconds_ahead=600), db=db).engine("bench")
    engine.cycle(only="contact", deletes="due")
    engine.cycle(only="contact", deletes="due")
    with db.engine.connect() as conn:
        crm_ids = [row[0] for row in conn.exec_driver_sql("SELECT crm_id FROM bindings ORDER BY id")]
    change_all(crm, engine.adapter, crm_ids)
    if crm == "hubspot":
        time.sleep(SEARCH_LAG + 0.5)  # the emulator's search sees a write after its lag, as HubSpot's does
    reads = TimedReads(engine.adapter)
    started = time.perf_counter()
    counts = engine.cycle(only="contact", deletes="due")
    seconds = time.perf_counter() - started
    _obj, since, fields = reads.args
    engine.adapter.read_changes = reads.read_changes
    floor_s = floor_seconds(crm, kind, engine.adapter, db, since, list(fields))
    engine.adapter.close()
    db.dispose()
    drop(cleanup)
    print(f"{crm:10} {kind:10} N={n:>7,}: changed-records cycle {seconds:6.1f} s = {n / seconds:7,.0f} records/s "
          f"(updated {counts.updated:,}, created {counts.created}); floor (read + driver UPDATEs) {floor_s:6.1f} s = "
          f"{n / floor_s:7,.0f} records/s; engine/floor {floor_s / seconds:.2f}", flush=True)


def run(crm: str, kind: str, n: int, emulator: ChildEmulator, scratch: Scratch) -> None:
    """One measurement under the daemon's collector policy."""
    with bulk_work_heap():
        measure(crm, kind, n, emulator, scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--crms", default="salesforce,hubspot")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("UPM_BENCH_POSTGRES_URL", ""),
                        help="SQLAlchemy URL of a database of your own (default: $UPM_BENCH_POSTGRES_URL)")
    args = parser.parse_args()
    if "postgresql" in args.databases.split(",") and not args.postgres:
        parser.error("--databases includes postgresql: set UPM_BENCH_POSTGRES_URL or pass --postgres")
    with tempfile.TemporaryDirectory(prefix="upm-bench-") as tmp:
        scratch = Scratch(Path(tmp), args.postgres)
        each_in_a_child(scratch, [int(n) for n in args.sizes.split(",")], args.crms.split(","),
                        args.databases.split(","), 0, run)


if __name__ == "__main__":
    main()
