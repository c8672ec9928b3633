"""The records API over HTTP: create-opportunity (5 line items) rate and p99, and list latency at
1,000,000 prospects (first page, a deep cursor page, a status filter, a partner user's first page),
each beside its floor from the same run.

    python bench/api_records.py [--databases sqlite,postgresql] [--creates 500] [--prospects 1000000]
                                [--postgres URL]

PostgreSQL needs a database of your own: UPM_BENCH_POSTGRES_URL or --postgres (no default).

Floors: a bare ORM insert of the same opportunity and line items in one transaction each (no HTTP,
no service); a bare SQL keyset query for the same page through the same engine. The API is served by
uvicorn in a child process, so the client does not share its interpreter. Prospects are bulk-loaded
for the list figures (executemany on SQLite, COPY on PostgreSQL) and the plans printed (EXPLAIN).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.api import keys  # noqa: E402
from connector.api.app import create_app  # noqa: E402
from connector.config.secrets import Secret  # noqa: E402
from connector.config.settings import DatabaseSettings, HttpSettings, Settings  # noqa: E402
from connector.runtime import Runtime  # noqa: E402
from connector.services.records import encode_cursor  # noqa: E402
from connector.store.assignments import RecordAssignment  # noqa: E402
from connector.store.database import Database  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.partners import PartnerAccount, PartnerUser  # noqa: E402
from connector.store.records import LineItem, Opportunity, Prospect  # noqa: E402

KEY = "bench-vendor-key"
LINES = [{"product": f"Product {n}", "sku": f"SKU-{n}", "sales_price": "99.50", "quantity": "3", "discount": "5"}
         for n in range(5)]
CHUNK = 20_000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def serve(url: str, port: int) -> None:
    """The child process: the daemon's app on this database."""
    import uvicorn

    runtime = Runtime(Settings(database=DatabaseSettings(url=url)))
    app = create_app(runtime.db, lambda: True, runtime.leads, HttpSettings(api_keys={"bench": Secret(KEY, "bench")}))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(base: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise SystemExit("the API did not start")


def timed(call: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def bare_inserts(db: Database, n: int) -> list[float]:
    def one() -> None:
        with db.session() as s:
            opportunity = Opportunity(name="Bare opportunity")
            for line in LINES:
                item = LineItem(**{k: Decimal(v) if k in ("sales_price", "quantity", "discount") else v
                                   for k, v in line.items()})
                item.compute()
                opportunity.line_items.append(item)
            opportunity.recompute_amount()
            s.add(opportunity)
    return timed(one, n)


def bulk_prospects(db: Database, count: int, partner_id: int) -> None:
    """`count` prospects (every 10th Contacted, every 100th granted to the partner), as fast as the
    backend loads rows."""
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    columns = ("email", "last_name", "status", "lead_score", "favorite", "survey_sent", "distribution_state",
               "previous_holder_ids", "created_at", "updated_at")

    def row(n: int) -> tuple[Any, ...]:
        stamp = now + timedelta(seconds=n)
        return (f"p{n}@bulk.example", f"Last{n}", "Contacted" if n % 10 == 0 else "New", 0, False, False, "new",
                "[]", stamp, stamp)

    if db.backend == "postgresql":
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(f"COPY prospects ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for n in range(count):
                    copy.write_row(row(n))
            raw.commit()
        finally:
            raw.close()
    else:
        table = Prospect.__table__
        with db.engine.begin() as conn:
            for start in range(0, count, CHUNK):
                conn.execute(insert(table), [dict(zip(columns, row(n), strict=True)) | {"previous_holder_ids": []}
                                             for n in range(start, min(count, start + CHUNK))])
    with db.engine.begin() as conn:
        ids = list(conn.scalars(text("SELECT id FROM prospects WHERE id % 100 = 0")))
        conn.execute(insert(RecordAssignment.__table__), [
            {"record_module": "prospect", "record_id": i, "assignee_type": "account", "assignee_id": partner_id,
             "access_type": "Read-Write", "assigned_at": now} for i in ids])
        conn.execute(text("ANALYZE"))


def explain(db: Database, sql: str, params: dict[str, Any]) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if db.backend == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        return [" ".join(str(c) for c in r) for r in conn.execute(text(prefix + sql), params)]


def run(label: str, url: str, creates: int, prospects: int) -> None:
    db = Database(url)
    upgrade(db)
    Runtime(Settings(database=DatabaseSettings(url=url)), db=db)  # the hooks the daemon's datastore carries
    with db.session() as s:
        partner = PartnerAccount(name="Bench partner")
        s.add(partner)
        s.flush()
        s.add(PartnerUser(account_id=partner.id, email="rep@bench.example"))
        partner_id = partner.id
    with db.session() as s:
        partner_key = keys.issue(s, "rep@bench.example")
    port = free_port()
    child = multiprocessing.get_context("spawn").Process(target=serve, args=(url, port), daemon=True)
    child.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base)
        http = requests.Session()
        vendor = {"Authorization": f"Bearer {KEY}"}
        partner_headers = {"Authorization": f"Bearer {partner_key}"}

        def create() -> None:
            answer = http.post(base + "/api/v1/opportunities", headers=vendor, timeout=30,
                               json={"name": "Bench opportunity", "line_items": LINES})
            assert answer.status_code == 201, answer.text

        probe = timed(lambda: http.get(base + "/healthz", timeout=30), 100)
        print(f"{label}: HTTP floor (GET /healthz, no database): p50 {pct(probe, 50) * 1000:.1f} ms, "
              f"p99 {pct(probe, 99) * 1000:.1f} ms", flush=True)
        timed(create, 20)  # warm up
        api = timed(create, creates)
        floor = bare_inserts(db, creates)
        print(f"{label}: create opportunity (5 line items) over HTTP: {creates / sum(api):,.0f}/s, "
              f"p50 {pct(api, 50) * 1000:.1f} ms, p99 {pct(api, 99) * 1000:.1f} ms | floor (bare ORM insert): "
              f"{creates / sum(floor):,.0f}/s, p99 {pct(floor, 99) * 1000:.1f} ms | ratio {sum(api) / sum(floor):.1f}x",
              flush=True)

        start = time.perf_counter()
        bulk_prospects(db, prospects, partner_id)
        print(f"{label}: loaded {prospects:,} prospects in {time.perf_counter() - start:.1f} s", flush=True)
        deep = encode_cursor(1_000)
        pages = {
            "first page": ("/api/v1/prospects?limit=50", vendor,
                           "SELECT * FROM prospects WHERE archived_at IS NULL ORDER BY id DESC LIMIT 51", {}),
            "deep cursor page (ids below 1,000)": (f"/api/v1/prospects?limit=50&cursor={deep}", vendor,
                                                   "SELECT * FROM prospects WHERE archived_at IS NULL AND id < :before "
                                                   "ORDER BY id DESC LIMIT 51", {"before": 1_000}),
            "status=Contacted, first page": ("/api/v1/prospects?limit=50&status=Contacted", vendor,
                                             "SELECT * FROM prospects WHERE archived_at IS NULL AND status = :s "
                                             "ORDER BY id DESC LIMIT 51", {"s": "Contacted"}),
            "partner user's first page (1% granted)": (
                "/api/v1/prospects?limit=50", partner_headers,
                "SELECT * FROM prospects WHERE archived_at IS NULL AND id IN (SELECT record_id FROM record_assignments "
                "WHERE record_module = 'prospect' AND revoked_at IS NULL AND assignee_type = 'account' AND "
                "assignee_id = :p) ORDER BY id DESC LIMIT 51", {"p": partner_id}),
        }
        for name, (path, headers, sql, params) in pages.items():
            def page() -> None:
                answer = http.get(base + path, headers=headers, timeout=60)
                assert answer.status_code == 200 and len(answer.json()["items"]) == 50, answer.text[:300]
            timed(page, 3)
            api = timed(page, 50)
            with db.engine.connect() as conn:
                bare = timed(lambda: conn.execute(text(sql), params).all(), 50)  # noqa: B023
            print(f"{label}: list {name}: p50 {pct(api, 50) * 1000:.1f} ms, p99 {pct(api, 99) * 1000:.1f} ms | "
                  f"floor (bare SQL keyset): p50 {pct(bare, 50) * 1000:.2f} ms, p99 {pct(bare, 99) * 1000:.2f} ms",
                  flush=True)
            print("    plan: " + " / ".join(explain(db, sql, params)), flush=True)
        http.close()
    finally:
        child.terminate()
        child.join(10)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("UPM_BENCH_POSTGRES_URL", ""),
                        help="SQLAlchemy URL of a database of your own (default: $UPM_BENCH_POSTGRES_URL)")
    args = parser.parse_args()
    if "postgresql" in args.databases.split(",") and not args.postgres:
        parser.error("--databases includes postgresql: set UPM_BENCH_POSTGRES_URL or pass --postgres "
                     "(a database of your own; each run makes and drops a schema in it)")
    for backend in args.databases.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                run("SQLite", f"sqlite:///{folder}/bench.db", args.creates, args.prospects)
        else:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(Database(args.postgres).url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                url = make_url(Database(args.postgres).url).update_query_dict(
                    {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
                run("PostgreSQL", url, args.creates, args.prospects)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
