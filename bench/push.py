"""Benchmark the push: N edited UPM contacts relayed through the outbox to an emulator, beside the
floor, the same batches sent by the raw client library, in the same run.

    python bench/push.py [--sizes 10000,100000] [--crms salesforce,hubspot]
                         [--databases sqlite,postgresql] [--latency MS]

Per size, CRM and database: an emulator child process (`upm-connector emulator ...`) seeded with N
contacts; an initial pull binds them (not timed); every contact's title is then edited through the
ORM, so the outbox hook queues one row per record (not timed). Timed:

- the connector: `Pusher.run()` for the `contact` object of the shipped advanced profile, reading the
  outbox, mapping, sending through the adapter, binding the results and marking the rows sent;
- the floor: the very batches the connector sent (recorded as it sent them, titles changed to new
  values of the same length), through the raw client library, one call after the other:
  Salesforce, simple-salesforce's `restful("composite")` carrying five sObject Collections of 200
  (1,000 records a call, as the adapter packs them); HubSpot, hubspot-api-client's
  `crm.objects.batch_api.update`, 100 records a call.

PostgreSQL runs need `UPM_BENCH_POSTGRES_URL` (a database of your own: each run makes and drops a
schema in it); there is no default database.

Printed: each rate, the API calls (the emulator's count) beside their floor ceil(N / batch), and
connector/floor = floor time / connector time (target >= 0.80).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_engine import ChildEmulator, Scratch, drop, each_in_a_child  # noqa: E402

from connector.heap import bulk_work_heap  # noqa: E402
from connector.runtime import Runtime  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.outbox import OutboxEntry  # noqa: E402
from connector.store.records import Contact  # noqa: E402
from connector.sync.lane import Lane  # noqa: E402
from connector.sync.push import Pusher  # noqa: E402

TARGET = 0.80
EDITED, FLOOR = "Edited", "Floors"
"""The title prefix the UPM edit writes, and the same-length one the floor sends instead."""
EDIT_BATCH = 5000


class Recorder:
    """Wraps the adapter's `update`: the batches the connector sent, in order."""

    def __init__(self, adapter: Any):
        self.update = adapter.update
        self.batches: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
        adapter.update = self

    def __call__(self, obj: str, records: Sequence[tuple[str, Any]]) -> Any:
        self.batches.append((obj, list(records)))
        return self.update(obj, records)


def floor_payloads(batches: list[tuple[str, list[tuple[str, dict[str, Any]]]]]) -> list[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """The connector's batches with every edited value replaced by one of the same length."""
    return [(obj, [(crm_id, {k: v.replace(EDITED, FLOOR) if isinstance(v, str) else v for k, v in fields.items()})
                   for crm_id, fields in records]) for obj, records in batches]


def salesforce_floor(adapter: Any, batches: list[tuple[str, list[tuple[str, dict[str, Any]]]]]) -> float:
    """The batches through simple-salesforce: /composite, five collections of 200 a call."""
    sf = adapter.session.client()
    version = adapter.client.version
    started = time.perf_counter()
    for obj, records in batches:
        entries = []
        for number, start in enumerate(range(0, len(records), 200)):
            body = {"allOrNone": False, "records": [{"attributes": {"type": obj}, **fields, "Id": crm_id}
                                                    for crm_id, fields in records[start:start + 200]]}
            entries.append({"method": "PATCH", "url": f"/services/data/v{version}/composite/sobjects",
                            "referenceId": f"sub{number}", "body": body})
        answer = sf.restful("composite", method="POST", json={"allOrNone": False, "compositeRequest": entries})
        for entry in answer["compositeResponse"]:
            assert entry["httpStatusCode"] < 300 and all(r["success"] for r in entry["body"]), entry
    return time.perf_counter() - started


def hubspot_floor(adapter: Any, batches: list[tuple[str, list[tuple[str, dict[str, Any]]]]]) -> float:
    """The batches through hubspot-api-client's batch update, 100 a call."""
    api = adapter.client.api("crm.objects.batch_api")
    started = time.perf_counter()
    for obj, records in batches:
        body = BatchInputSimplePublicObjectBatchInput(inputs=[
            SimplePublicObjectBatchInput(id=crm_id, properties={k: str(v) for k, v in fields.items()})
            for crm_id, fields in records])
        answer = api.update(obj, body)
        assert len(answer.results) == len(records), answer
    return time.perf_counter() - started


def edit_all(runtime: Runtime) -> int:
    """Every contact's title edited through the ORM (the outbox hook queues each); the rows queued."""
    with runtime.db.session() as session:
        ids = list(session.scalars(select(Contact.id).order_by(Contact.id)))
    for start in range(0, len(ids), EDIT_BATCH):
        with runtime.db.session() as session:
            for contact in session.scalars(select(Contact).where(Contact.id.in_(ids[start:start + EDIT_BATCH]))):
                contact.title = f"{EDITED} {contact.id}"
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == "pending")) or 0


def run(crm: str, kind: str, n: int, emulator: ChildEmulator, scratch: Scratch) -> None:
    """Bind N contacts, edit them, time the push and its floor, under the daemon's collector policy
    (`bulk_work_heap`); one line printed."""
    with bulk_work_heap():
        measure(crm, kind, n, emulator, scratch)


def measure(crm: str, kind: str, n: int, emulator: ChildEmulator, scratch: Scratch) -> None:
    url, cleanup = scratch.database_url(kind)
    settings = scratch.settings(crm, url, emulator)
    runtime = Runtime(settings)
    upgrade(runtime.db)
    engine = runtime.engine("bench")
    pulled = engine.cycle(only="contact")
    queued = edit_all(runtime)
    recorder = Recorder(engine.adapter)
    lane = Lane(engine.connection, engine.db, engine.adapter, engine.loaded, engine.clock, engine.clock.now(),
                outbox=engine.outbox)
    obj = lane.objects("contact")[0]
    calls_before = emulator.api_calls()
    started = time.perf_counter()
    counts = Pusher(lane, obj).run()
    seconds = time.perf_counter() - started
    calls = emulator.api_calls() - calls_before
    batches = floor_payloads(recorder.batches)
    calls_before = emulator.api_calls()
    floor_s = (salesforce_floor if crm == "salesforce" else hubspot_floor)(engine.adapter, batches)
    floor_calls = emulator.api_calls() - calls_before
    batch = engine.adapter.max_upsert_batch
    engine.adapter.close()
    runtime.db.dispose()
    drop(cleanup)
    print(f"{crm:10} {kind:10} N={n:>7,}: push {seconds:6.1f} s = {n / seconds:7,.0f} records/s "
          f"(bound {pulled.created:,}, queued {queued:,}, pushed {counts.pushed:,}, failed {counts.failed}); "
          f"floor (raw client, same batches) {floor_s:6.1f} s = {n / floor_s:7,.0f} records/s; "
          f"connector/floor {floor_s / seconds:.2f} (target {TARGET:.2f}); API calls {calls:,} "
          f"(floor run {floor_calls:,}, floor ceil(N/{batch}) = {math.ceil(n / batch):,})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--crms", default="salesforce,hubspot")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--latency", type=float, default=0, help="milliseconds the emulators add to every request")
    args = parser.parse_args()
    if "postgresql" in args.databases.split(",") and not os.environ.get("UPM_BENCH_POSTGRES_URL"):
        parser.error("--databases postgresql needs UPM_BENCH_POSTGRES_URL (a database of your own)")
    with tempfile.TemporaryDirectory(prefix="upm-bench-push-") as tmp:
        scratch = Scratch(Path(tmp), os.environ.get("UPM_BENCH_POSTGRES_URL", ""))
        each_in_a_child(scratch, [int(n) for n in args.sizes.split(",")], args.crms.split(","),
                        args.databases.split(","), args.latency, run)


if __name__ == "__main__":
    main()
