"""Benchmark the reports at scale on PostgreSQL: 1,000,000 prospects and 100,000 opportunities
(with partners, reps, contacts, accounts and lead activities around them), bulk-loaded with COPY
into a throw-away schema, then every report run vendor-wide, filtered by a tier, and for one
partner viewer.

    python bench/reports.py [--database postgresql://postgres@127.0.0.1:5432/test]
                            [--prospects 1000000] [--opportunities 100000] [--partners 1000] [--seed 7]
                            [--schema NAME]   # keep the loaded data there (and reuse it next time)

Each figure is printed beside its floor from the same run: the bare SQL time of the very
statements the report issued (captured while it ran, then executed again on the raw DBAPI cursor,
fetching their aggregate rows), so the gap is what the report adds in Python. Every report is run
once to warm the cache before it is timed (best of 3). Peak RSS (ru_maxrss) is printed after the
load and after the reports: the reports fetch aggregates only, so it stays flat. Target < 2 s each;
each line gives the time, its floor, their ratio and the target. The load ends with VACUUM
ANALYZE (the statistics and visibility map autovacuum would leave, which index-only scans need).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from connector.config.settings import LeadSettings
from connector.reports.base import Env, Filters
from connector.reports.registry import REPORTS, run_report
from connector.store import Database
from connector.store.migrate import upgrade

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
TIERS = ("Platinum", "Gold", "Silver", "Bronze")
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "IN", "JP")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise", None)
TARGET = 2.0


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stamp(moment: datetime | None) -> str:
    return "\\N" if moment is None else moment.isoformat()


def copy(conn: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    """COPY rows (streamed: memory stays flat) into `table`."""
    count = 0
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as sink:
        for row in rows:
            sink.write_row(row)
            count += 1
    return count


def load(url: str, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    engine = create_engine(url)
    raw = engine.raw_connection()
    conn = raw.driver_connection
    with conn.cursor() as cursor:  # the load is generated consistent: skip the per-row FK triggers
        cursor.execute("SET session_replication_role = replica")
    users_per_partner = 5
    partners = args.partners
    now = NOW.isoformat()

    def partner_rows() -> Iterator[tuple[Any, ...]]:
        for pid in range(1, partners + 1):
            parent = rng.randrange(1, pid) if pid > 10 and rng.random() < 0.3 else None
            countries = "[" + ", ".join(f'"{c}"' for c in rng.sample(COUNTRIES, 2)) + "]"
            yield (pid, f"Partner {pid}", parent, rng.choice(TIERS), countries, "[]", "[]", "[]", "[]", "[]", "[]",
                   False, True, "{}", now, now)

    copy(conn, "partner_accounts", ("id", "name", "parent_id", "tier", "countries", "states", "industries",
                                    "competencies", "certifications", "ignored_companies", "notification_recipients",
                                    "auto_accept", "active", "settings", "created_at", "updated_at"), partner_rows())
    users = partners * users_per_partner
    copy(conn, "partner_users", ("id", "account_id", "email", "active", "approved", "created_at", "updated_at"),
         ((uid, (uid - 1) // users_per_partner + 1, f"rep{uid}@partner.example", True, True, now, now)
          for uid in range(1, users + 1)))

    def prospect_rows() -> Iterator[tuple[Any, ...]]:
        for pid in range(1, args.prospects + 1):
            partner = rng.randrange(1, partners + 1) if rng.random() < 0.8 else None
            created = T0 + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
            assigned = created + timedelta(hours=rng.randrange(0, 48)) if partner and rng.random() < 0.8 else None
            accepted = assigned + timedelta(hours=rng.randrange(1, 300)) if assigned and rng.random() < 0.6 else None
            converted = assigned + timedelta(hours=rng.randrange(1, 4000)) if accepted and rng.random() < 0.3 else None
            user = (partner - 1) * users_per_partner + rng.randrange(1, users_per_partner + 1) if assigned else None
            yield (pid, f"lead{pid}@example.com", rng.choice(SEGMENTS) or "\\N", rng.choice((None, 50, 500, 5000)) or "\\N",
                   partner or "\\N", user or "\\N", stamp(assigned), stamp(accepted), stamp(converted),
                   "New", 0, False, False, "assigned" if assigned else "new", stamp(created), stamp(created))

    copy(conn, "prospects", ("id", "email", "segment", "company_employees", "partner_account_id", "assigned_user_id",
                             "assigned_at", "accepted_at", "converted_at", "status", "lead_score", "favorite",
                             "survey_sent", "distribution_state", "created_at", "updated_at"),
         (tuple(None if v == "\\N" else v for v in row) for row in prospect_rows()))
    contacts = args.opportunities
    copy(conn, "contacts", ("id", "email", "prospect_id", "partner_account_id", "created_at", "updated_at"),
         ((cid, f"c{cid}@example.com", rng.randrange(1, args.prospects + 1), rng.randrange(1, partners + 1),
           (T0 + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))).isoformat(), now)
          for cid in range(1, contacts + 1)))
    copy(conn, "accounts", ("id", "name", "partner_account_id", "approval_status", "active", "named", "created_at",
                            "updated_at"),
         ((aid, f"Customer {aid}", rng.randrange(1, partners + 1), "Approved", True, False,
           (T0 + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))).isoformat(), now)
          for aid in range(1, contacts // 2 + 1)))

    def opportunity_rows() -> Iterator[tuple[Any, ...]]:
        for oid in range(1, args.opportunities + 1):
            partner = rng.randrange(1, partners + 1)
            rep = (partner - 1) * users_per_partner + rng.randrange(1, users_per_partner + 1)
            yield (oid, f"Deal {oid}", rng.randrange(1, contacts + 1), rng.randrange(1, 13),
                   f"{rng.randrange(100, 10_000_000) / 100:.2f}", rng.choice(("USD", "USD", "GBP", "AUD", "INR")),
                   partner, rep, (T0 + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))).isoformat(), now)

    copy(conn, "opportunities", ("id", "name", "contact_id", "sales_stage", "amount", "currency",
                                 "partner_account_id", "sales_contact_id", "created_at", "updated_at"),
         opportunity_rows())
    copy(conn, "lead_activities", ("id", "prospect_id", "kind", "user_id", "at"),
         ((n, rng.randrange(1, args.prospects + 1), rng.choice(("call", "email", "meeting", "note")),
           rng.randrange(1, users + 1), (T0 + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))).isoformat())
          for n in range(1, args.prospects // 5 + 1)))
    conn.commit()
    conn.autocommit = True  # VACUUM runs outside a transaction
    with conn.cursor() as cursor:  # as autovacuum would leave it: statistics and the visibility map
        cursor.execute("VACUUM ANALYZE")
    raw.close()
    engine.dispose()


class Captured:
    """The statements a report issues, to time them again bare."""

    def __init__(self, db: Database):
        self.db = db
        self.statements: list[tuple[str, Any]] = []
        self.on = False
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.on:
            self.statements.append((statement, parameters))

    def bare_seconds(self) -> float:
        raw = self.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            started = time.perf_counter()
            for statement, parameters in self.statements:
                cursor.execute(statement, parameters)
                if cursor.description is not None:  # not for the report's SET LOCAL
                    cursor.fetchall()
            elapsed = time.perf_counter() - started
            raw.rollback()
            return elapsed
        finally:
            raw.close()


def timed(db: Database, name: str, filters: Filters, env: Env, capture: Captured) -> tuple[float, float, int]:
    run_report(db, name, filters, env)  # warm
    best, floor, rows = float("inf"), float("inf"), 0
    for _ in range(3):
        capture.statements.clear()
        capture.on = True
        started = time.perf_counter()
        rows = len(run_report(db, name, filters, env).rows)
        best = min(best, time.perf_counter() - started)
        capture.on = False
        floor = min(floor, capture.bare_seconds())
    return best, floor, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--schema", help="Load into this schema and keep it; if it exists, reuse its data.")
    args = parser.parse_args()
    base = Database(args.database).url
    schema = args.schema or f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema})
        if not exists:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        db = Database(url)
        upgrade(db)
        if exists:
            print(f"reusing the data in schema {schema}")
        else:
            started = time.perf_counter()
            load(url, args)
            print(f"loaded {args.prospects:,} prospects, {args.opportunities:,} opportunities, {args.partners:,} "
                  f"partners in {time.perf_counter() - started:.1f}s; peak RSS {rss_mib():.0f} MiB")
        env = Env(LeadSettings().segment_sla_days, NOW)
        capture = Captured(db)
        viewer = Filters(viewer=1)
        print("load average (1, 5, 15 min): " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
        print(f"{'report':22} {'filters':10} {'rows':>6} {'time s':>8} {'floor s':>8} {'ratio':>6} "
              f"{'target s':>9} {'verdict':>7}  peak RSS MiB")
        for name in REPORTS:
            for label, filters in (("all", Filters()), ("tier Gold", Filters(tier="Gold")), ("viewer p1", viewer)):
                seconds, floor, rows = timed(db, name, filters, env, capture)
                verdict = "ok" if seconds < TARGET else "SLOW"
                print(f"{name:22} {label:10} {rows:6} {seconds:8.3f} {floor:8.3f} {seconds / floor:6.2f} "
                      f"{'< ' + format(TARGET, '.1f'):>9} {verdict:>7}  {rss_mib():.0f}")
        db.dispose()
    finally:
        if not args.schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
