"""Benchmark lead assignment through the rule engine: N new leads distributed one by one with
LeadService.distribute (each its own transaction: lock, rules, round robin / shark tank / direct,
grants, histories, the notification), on SQLite by default.

    python bench/lead_assignment.py [--leads 100000] [--partners 500] [--rules 20] [--groups 10]
                                    [--database sqlite:///bench.db|postgresql://...] [--seed 7]

The world: `--partners` partner accounts spread over 8 countries, 4 tiers and 6 certifications,
one approved rep each; `--groups` groups (by country, mixed tiers) that the round-robin and shark-tank
rules feed; `--rules` rules by priority mixing country, segment, lead source and industry conditions
and partner tier/certification/territory conditions, ending in broad round-robin rules, so most
leads try several rules before one fires and some match none (the fallback). Leads are bulk
inserted first (not timed), then each distribute() call is timed on its own. As in the daemon (the
`store:checkpoint` lane), SQLite's write-ahead log is checkpointed in the background on the
configured schedule, and the leads are distributed under the daemon's garbage-collector policy
(`connector.heap.bulk_work_heap`).

Printed beside the target (p99 under 2 ms): the floor from the same run, on the same datastore, one
bare transaction inserting one assignment-history row (SQLAlchemy Core, then commit), `--floor` of them
interleaved with the distribute() calls (so both see the same machine load); and the ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from connector.clock import ManualClock
from connector.config.settings import DatabaseSettings, Settings
from connector.heap import bulk_work_heap
from connector.runtime import Runtime
from connector.store import Database
from connector.store.assignments import AssignmentHistory
from connector.store.migrate import upgrade
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember, PartnerUser
from connector.store.records import Prospect

COUNTRIES = ("USA", "GBR", "DEU", "FRA", "CAN", "AUS", "IND", "JPN")
TIERS = ("Platinum", "Gold", "Silver", "Bronze")
PRODUCTS = ("Firewall", "EDR", "SIEM", "Backup", "Cloud", "Email Security")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
SOURCES = ("Campaign", "Cold Call", "Conference", "Contact Us", "Direct Mail", "Web")
INDUSTRIES = ("Software", "Finance", "Healthcare", "Retail", "Manufacturing", "Education")


def build_world(db: Database, rng: random.Random, partners: int, groups: int) -> list[str]:
    """Partners with one rep each, and `groups` groups by country; returns the group names."""
    with db.session() as s:
        accounts = []
        for n in range(partners):
            account = PartnerAccount(name=f"Partner {n:04d}", tier=TIERS[n % len(TIERS)],
                                     countries=[COUNTRIES[n % len(COUNTRIES)]],
                                     certifications=rng.sample(PRODUCTS, 3), competencies=rng.sample(INDUSTRIES, 2))
            s.add(account)
            accounts.append(account)
        s.flush()
        for account in accounts:
            s.add(PartnerUser(account_id=account.id, email=f"rep@{account.id}.partner.example"))
        names = []
        for g in range(groups):
            country = COUNTRIES[g % len(COUNTRIES)]
            members = [a for a in accounts if a.countries == [country]][g // len(COUNTRIES)::max(1, groups // len(COUNTRIES))]
            group = PartnerGroup(name=f"{country} group {g}", distribution_model="round_robin")
            group.members = [PartnerGroupMember(account_id=a.id, position=i) for i, a in enumerate(members)]
            s.add(group)
            names.append(group.name)
    return names


def rule_specs(rng: random.Random, count: int, groups: list[str], partners: int) -> list[dict[str, Any]]:
    """`count` rules: specific ones first (direct, shark tank, round robin with partner conditions),
    broad round-robin ones by country last."""
    specs: list[dict[str, Any]] = []
    broad = [g for g in groups][: max(1, count // 4)]
    for n in range(count - len(broad)):
        group = groups[n % len(groups)]
        country = group.split()[0]
        spec: dict[str, Any] = {"name": f"rule {n:02d}", "priority": 10 + n, "countries": [country],
                                "segments": [SEGMENTS[n % len(SEGMENTS)]],
                                "lead_sources": rng.sample(SOURCES, 2), "industries": rng.sample(INDUSTRIES, 3)}
        if n % 5 == 0:
            spec.update(target=f"account:{rng.randrange(1, partners + 1)}", model="direct", countries=[], segments=[])
        elif n % 5 == 1:
            spec.update(target=f"group:{group}", model="shark_tank")
        else:
            spec.update(target=f"group:{group}", model="round_robin", partner_tiers=list(TIERS[: 2 + n % 3]),
                        partner_territory=True)
        specs.append(spec)
    for n, group in enumerate(broad):
        specs.append({"name": f"broad {group}", "priority": 500 + n, "countries": [group.split()[0]],
                      "target": f"group:{group}", "model": "round_robin"})
    return specs


def insert_leads(db: Database, rng: random.Random, count: int) -> list[int]:
    rows = [{"email": f"lead{n}@customer{n % 997}.example", "first_name": "Lee", "last_name": f"Ead {n}",
             "company_name": f"Customer {n % 5000}", "country": rng.choice(COUNTRIES + ("BRA",)),
             "segment": rng.choice(SEGMENTS), "lead_source": rng.choice(SOURCES), "industry": rng.choice(INDUSTRIES),
             "product_interest": rng.choice(PRODUCTS), "status": "New", "distribution_state": "new",
             "previous_holder_ids": []} for n in range(count)]
    with db.session() as s:
        for start in range(0, count, 5000):
            s.execute(insert(Prospect), rows[start:start + 5000])
        return list(s.scalars(select(Prospect.id).order_by(Prospect.id)))


def checkpoint_in_background(db: Database, stop: threading.Event) -> threading.Thread:
    """What the daemon's store:checkpoint lane does, on its default schedule."""
    every = DatabaseSettings().checkpoint_schedule.every or 5.0

    def loop() -> None:
        while not stop.wait(every):
            db.checkpoint()

    thread = threading.Thread(target=loop, name="checkpoint", daemon=True)
    thread.start()
    return thread


TARGET_P99 = 0.002


def floor_transaction(conn: Connection, prospect_id: int) -> float:
    """One bare transaction: insert one assignment-history row, commit; returns its seconds."""
    t0 = time.perf_counter()
    with conn.begin():
        conn.execute(insert(AssignmentHistory), {"record_module": "prospect", "record_id": prospect_id,
                                                 "action": "assigned", "assignee_type": "account",
                                                 "assignee_id": 1, "access_type": "Read/Write",
                                                 "actor": "floor", "reason": "floor"})
    return time.perf_counter() - t0


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=500)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a new SQLite file in a temp folder)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--floor", type=int, default=10_000, help="floor transactions, interleaved with the leads")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'bench.db'}"
        runtime = Runtime(Settings(database=DatabaseSettings(url=url)), clock=ManualClock())
        db = runtime.db
        upgrade(db)
        service = runtime.leads
        groups = build_world(db, rng, args.partners, args.groups)
        service.save_rules(rule_specs(rng, args.rules, groups, args.partners))
        ids = insert_leads(db, rng, args.leads)
        by_state: dict[str, list[float]] = {}
        stop = threading.Event()
        checkpointer = checkpoint_in_background(db, stop)
        every = max(1, len(ids) // max(1, args.floor))
        floor: list[float] = []
        started = time.perf_counter()
        # the daemon's collector policy, entered once start-up (here: the world) is built
        with bulk_work_heap(), db.engine.connect() as floor_conn:  # interleaved: both see the same machine load
            for n, prospect_id in enumerate(ids):
                t0 = time.perf_counter()
                state = service.distribute(prospect_id).state
                by_state.setdefault(state, []).append(time.perf_counter() - t0)
                if n % every == 0:
                    floor.append(floor_transaction(floor_conn, prospect_id))
        elapsed = time.perf_counter() - started
        floor.sort()
        stop.set()
        checkpointer.join()
        db.dispose()
    print(f"backend {db.backend}: {args.leads} leads, {args.partners} partners, {args.groups} groups, {args.rules} rules")
    print(f"  {args.leads / elapsed:,.0f} leads/s over {elapsed:.1f} s")
    everything = [latency for latencies in by_state.values() for latency in latencies]
    for label, latencies in [("all", everything), *sorted(by_state.items())]:
        ordered = sorted(latencies)
        print(f"  {label:>8} ({len(ordered):>6} leads): p50 {percentile(ordered, 0.50) * 1000:7.2f} ms, "
              f"p99 {percentile(ordered, 0.99) * 1000:7.2f} ms, max {ordered[-1] * 1000:7.2f} ms, "
              f"mean {statistics.fmean(ordered) * 1000:7.2f} ms")
    ordered = sorted(everything)
    p99 = percentile(ordered, 0.99)
    print(f"  floor (one bare assignment-row insert and commit, {len(floor)} leads): p50 {percentile(floor, 0.50) * 1000:.2f} ms, "
          f"p99 {percentile(floor, 0.99) * 1000:.2f} ms; all leads p99 {p99 * 1000:.2f} ms vs target "
          f"{TARGET_P99 * 1000:.1f} ms ({'met' if p99 < TARGET_P99 else 'not met'}), p99 / floor p99 "
          f"{p99 / percentile(floor, 0.99):.1f}, p99 / target {p99 / TARGET_P99:.2f}")


if __name__ == "__main__":
    main()
