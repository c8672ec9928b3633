"""Leases: at most one daemon runs a lane at a time, and a dead daemon's lanes are taken over.

A lease is one row per lane (owner, expires_at). Taking it is a single atomic statement
(INSERT ... ON CONFLICT DO UPDATE ... WHERE expired OR mine ... RETURNING), so two daemons racing
for a lane on one PostgreSQL (or SQLite) database can never both win. Time is the daemons' clock
in UTC: run them with NTP, and keep lease_seconds well above any skew.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from connector.clock import Clock
from connector.store.database import Database
from connector.store.leases import Lease

log = logging.getLogger(__name__)


class LeaseStore:
    """Take, renew and release lane leases for one owner (this daemon)."""

    def __init__(self, db: Database, owner: str, ttl_seconds: float, clock: Clock):
        self.db = db
        self.owner = owner
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock

    def _insert(self) -> type[Insert]:
        return postgresql.insert if self.db.backend == "postgresql" else sqlite.insert  # type: ignore[return-value]

    def acquire(self, lane: str) -> bool:
        """Take the lane if it is free, expired, or already ours. True when we hold it."""
        now = self.clock.now()
        table = Lease.__table__
        stmt = self._insert()(table).values(lane=lane, owner=self.owner, acquired_at=now, expires_at=now + self.ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.lane],
            set_={"owner": self.owner, "acquired_at": now, "expires_at": now + self.ttl},
            where=(table.c.expires_at <= now) | (table.c.owner == self.owner),
        ).returning(table.c.owner)
        with self.db.session() as session:
            return session.execute(stmt).scalar_one_or_none() == self.owner

    def renew(self, lane: str) -> bool:
        """Extend our lease; False if it is no longer ours (expired and taken over)."""
        now = self.clock.now()
        stmt = (
            update(Lease)
            .where(Lease.lane == lane, Lease.owner == self.owner, Lease.expires_at > now)
            .values(expires_at=now + self.ttl)
        )
        with self.db.session() as session:
            return session.execute(stmt).rowcount == 1

    def release(self, lane: str) -> None:
        """Give the lane up now, so another daemon need not wait for the expiry."""
        stmt = update(Lease).where(Lease.lane == lane, Lease.owner == self.owner).values(expires_at=self.clock.now())
        with self.db.session() as session:
            session.execute(stmt)

    def holders(self, prefix: str) -> set[str]:
        """The owners of the unexpired leases on lanes named `prefix...` (see `daemon.replicas`)."""
        now = self.clock.now()
        query = select(Lease.owner).where(Lease.lane.startswith(prefix, autoescape=True), Lease.expires_at > now)
        with self.db.session() as session:
            return set(session.scalars(query))

    @contextmanager
    def held(self, lane: str, lost: threading.Event) -> Iterator[None]:
        """Keep renewing `lane` (every third of the TTL) while the block runs; set `lost` if renewal fails.

        The caller must have acquired the lease. It is released on the way out.
        """
        done = threading.Event()
        interval = self.ttl.total_seconds() / 3

        def keep() -> None:
            while not done.wait(interval):
                try:
                    still_ours = self.renew(lane)
                except Exception:  # a database hiccup: try again next tick, the lease has slack
                    log.warning("lease renewal failed for lane %s; retrying", lane, exc_info=True)
                    continue
                if not still_ours:
                    log.error("lease on lane %s was lost; stopping the lane after this batch", lane)
                    lost.set()
                    return

        keeper = threading.Thread(target=keep, name=f"lease:{lane}", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()
            if not lost.is_set():
                self.release(lane)
