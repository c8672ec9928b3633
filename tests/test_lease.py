"""Leases: one holder at a time, takeover after expiry, renewal and release."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from connector.clock import ManualClock
from connector.daemon.lease import LeaseStore
from connector.store import Database
from connector.store.migrate import upgrade


def test_one_holder_until_expiry_then_takeover(db: Database) -> None:
    clock = ManualClock()
    a = LeaseStore(db, "daemon-a", 30, clock)
    b = LeaseStore(db, "daemon-b", 30, clock)
    assert a.acquire("sync:crm")
    assert not b.acquire("sync:crm")
    assert a.acquire("sync:crm"), "the holder may take its own lease again"
    clock.advance(seconds=29)
    assert not b.acquire("sync:crm")
    clock.advance(seconds=2)
    assert b.acquire("sync:crm"), "an expired lease is free"
    assert not a.renew("sync:crm"), "the old holder learns it lost the lane"
    assert not a.acquire("sync:crm")


def test_renew_extends_and_release_frees(db: Database) -> None:
    clock = ManualClock()
    a = LeaseStore(db, "daemon-a", 30, clock)
    b = LeaseStore(db, "daemon-b", 30, clock)
    assert a.acquire("lane")
    clock.advance(seconds=20)
    assert a.renew("lane")
    clock.advance(seconds=20)
    assert not b.acquire("lane"), "renewed 20 s ago for 30 s: still held"
    a.release("lane")
    assert b.acquire("lane")


def test_lanes_are_independent(db: Database) -> None:
    clock = ManualClock()
    assert LeaseStore(db, "a", 30, clock).acquire("sync:one")
    assert LeaseStore(db, "b", 30, clock).acquire("sync:two")


def test_racing_owners_exactly_one_wins(postgres_url: str) -> None:
    database = Database(postgres_url)
    upgrade(database)
    clock = ManualClock()
    stores = [LeaseStore(database, f"daemon-{i}", 30, clock) for i in range(8)]
    for round_ in range(20):
        lane = f"race-{round_}"
        barrier = threading.Barrier(len(stores))

        def attempt(store: LeaseStore) -> bool:
            barrier.wait()
            return store.acquire(lane)

        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(attempt, stores))
        assert results.count(True) == 1, f"round {round_}: {results}"
    database.dispose()


def test_keeper_renews_while_running_and_reports_loss(db: Database) -> None:
    clock = ManualClock()
    a = LeaseStore(db, "daemon-a", 0.3, clock)
    b = LeaseStore(db, "daemon-b", 0.3, clock)
    assert a.acquire("lane")
    lost = threading.Event()
    with a.held("lane", lost):
        # Move time past expiry between two renewals and let another daemon steal the lane.
        clock.advance(seconds=1)
        assert b.acquire("lane")
        assert lost.wait(2), "the keeper must notice the lease is gone"
    assert b.renew("lane"), "the loser must not release the winner's lease"
