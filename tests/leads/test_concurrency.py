"""Several processes on one PostgreSQL database: one winner per shark-tank lead, and a round robin
that stays fair and never assigns a lead twice."""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.clock import ManualClock
from connector.config.settings import LeadSettings
from connector.leads.errors import AlreadyClaimed, InvalidTransition
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.assignments import AssignmentHistory, RecordAssignment
from connector.store.migrate import upgrade
from connector.store.records import Prospect
from leads.conftest import START, Make

pytestmark = pytest.mark.postgres

SPAWN = multiprocessing.get_context("spawn")
CLAIM_PROCESSES, CLAIMANTS_PER_PROCESS, ROUNDS = 5, 10, 5
RR_PROCESSES, RR_PARTNERS, RR_LEADS = 4, 7, 1000


def _service(url: str, start: datetime) -> LeadService:
    return LeadService(Database(url), LeadSettings(), ManualClock(start))


def _claimants(url: str, start: datetime, user_ids: list[int], lead_ids: list[int], barrier: Any,
               results: Any) -> None:
    """One process: a thread per claimant; every claimant claims each lead as the barrier opens."""
    service = _service(url, start)

    def claimant(user_id: int) -> None:
        for round_, lead in enumerate(lead_ids):
            barrier.wait(timeout=60)
            try:
                service.claim(lead, user_id)
                outcome = "won"
            except AlreadyClaimed:
                outcome = "already claimed"
            except Exception as exc:  # reported to the test, which fails on anything else
                outcome = f"{type(exc).__name__}: {exc}"
            results.put((round_, user_id, outcome))

    threads = [threading.Thread(target=claimant, args=(u,)) for u in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _distributor(url: str, start: datetime, lead_ids: list[int], seed: int, results: Any) -> None:
    """One process: try to distribute these leads, in its own order; report how many it placed."""
    service = _service(url, start)
    order = list(lead_ids)
    random.Random(seed).shuffle(order)
    placed = 0
    for lead in order:
        try:
            service.distribute(lead)
            placed += 1
        except InvalidTransition:
            continue
    results.put(placed)


def _run(processes: list[Any], results: Any, expected: int) -> list[Any]:
    for process in processes:
        process.start()
    try:
        collected = [results.get(timeout=120) for _ in range(expected)]
    except queue.Empty:
        pytest.fail("the worker processes did not report in time")
    finally:
        for process in processes:
            process.join(timeout=30)
    assert all(p.exitcode == 0 for p in processes)
    return collected


def test_fifty_claimants_exactly_one_winner_each_time(postgres_url: str) -> None:
    db = Database(postgres_url)
    upgrade(db)
    make = Make(db)
    claimants = CLAIM_PROCESSES * CLAIMANTS_PER_PROCESS
    partners = [make.partner(f"Shark {n}") for n in range(claimants)]
    users = [make.users_of(p)[0] for p in partners]
    make.group("Tank", partners, model="shark_tank")
    service = _service(postgres_url, START)
    service.save_rules([{"name": "tank", "target": "group:Tank"}])
    leads = [make.lead() for _ in range(ROUNDS)]
    for lead in leads:
        service.distribute(lead)

    barrier, results = SPAWN.Barrier(claimants), SPAWN.Queue()
    per = CLAIMANTS_PER_PROCESS
    processes = [SPAWN.Process(target=_claimants, args=(postgres_url, START, users[i * per:(i + 1) * per], leads,
                                                        barrier, results)) for i in range(CLAIM_PROCESSES)]
    outcomes = _run(processes, results, claimants * ROUNDS)

    for round_, lead in enumerate(leads):
        this_round = [(user, outcome) for r, user, outcome in outcomes if r == round_]
        assert Counter(outcome for _, outcome in this_round) == {"won": 1, "already claimed": claimants - 1}
        (winner,) = [user for user, outcome in this_round if outcome == "won"]
        holder = partners[users.index(winner)]
        assert make.prospect(lead).partner_account_id == holder
        assert make.grants(lead) == {("account", holder, "Read-Write"), ("user", winner, "Read-Write")}
    db.dispose()


def test_round_robin_from_four_processes_is_fair_and_assigns_each_lead_once(postgres_url: str) -> None:
    db = Database(postgres_url)
    upgrade(db)
    make = Make(db)
    partners = [make.partner(f"Ring {n}") for n in range(RR_PARTNERS)]
    make.group("Ring", partners)
    _service(postgres_url, START).save_rules([{"name": "ring", "target": "group:Ring"}])
    with db.session() as s:
        fresh = [Prospect(email=f"lead{n}@customer.example", country="US", status="Open") for n in range(RR_LEADS)]
        s.add_all(fresh)
        s.flush()
        leads = [p.id for p in fresh]

    results = SPAWN.Queue()
    quarter = RR_LEADS // RR_PROCESSES
    shares = [leads[n * quarter:(n + 1) * quarter] for n in range(RR_PROCESSES)]
    processes = [SPAWN.Process(target=_distributor, args=(postgres_url, START, shares[n] + shares[n - 1], n, results))
                 for n in range(RR_PROCESSES)]  # every lead is raced for by two processes
    assert sum(_run(processes, results, RR_PROCESSES)) == RR_LEADS

    with db.session() as s:
        holders = Counter(s.scalars(select(Prospect.partner_account_id).where(Prospect.id.in_(leads))))
        assert set(holders) == set(partners)
        assert max(holders.values()) - min(holders.values()) <= 1, holders
        grants = s.execute(select(RecordAssignment.record_id, func.count()).where(
            RecordAssignment.record_module == "prospect", RecordAssignment.revoked_at.is_(None))
            .group_by(RecordAssignment.record_id)).all()
        assert len(grants) == RR_LEADS and {count for _, count in grants} == {1}
        assigned = s.scalar(select(func.count()).select_from(AssignmentHistory).where(
            AssignmentHistory.action == "assigned"))
        assert assigned == RR_LEADS
    db.dispose()
