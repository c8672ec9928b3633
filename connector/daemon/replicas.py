"""Replicas: which daemons sharing the database are alive, and which lanes are this one's share.

Every replica holds a *membership lease*, the lease on the pseudo-lane `replica:<instance>`, for a
short TTL (half of `daemon.lease_seconds`) and renews it every sixth: the live replicas are the
holders of unexpired membership leases. Each replica sorts the lanes it knows and the live
replicas, and runs lane i only when it is replica i mod n: every replica runs ceil or floor of
lanes/n lanes, and a dead replica's lanes fall to the others as soon as its membership lapses.
The share decides who tries; the lane's own lease still decides who runs, so while replicas
disagree for a moment (one just started or died) a lane may run twice in a period, never twice at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from connector.daemon.lease import LeaseStore

log = logging.getLogger(__name__)

MEMBER_PREFIX = "replica:"


class Replicas:
    """This daemon's view of the live replicas, refreshed by `beat`."""

    def __init__(self, leases: LeaseStore, lease_seconds: float):
        self.owner = leases.owner
        self.lane = MEMBER_PREFIX + self.owner
        self.interval = lease_seconds / 6
        self._leases = LeaseStore(leases.db, self.owner, lease_seconds / 2, leases.clock)
        self._members: tuple[str, ...] = (self.owner,)
        self._lock = threading.Lock()

    @property
    def members(self) -> tuple[str, ...]:
        """The live replicas, sorted (always including this one)."""
        with self._lock:
            return self._members

    def beat(self) -> None:
        """Take or renew our membership lease and read who else is alive; a database error keeps
        the last view (our membership has slack until the next beat)."""
        try:
            self._leases.acquire(self.lane)
            live = self._leases.holders(MEMBER_PREFIX) | {self.owner}
        except Exception:
            log.warning("could not refresh the replica membership; keeping the last view", exc_info=True)
            return
        members = tuple(sorted(live))
        with self._lock:
            changed, self._members = members != self._members, members
        if changed:
            log.info("replicas changed", extra={"replicas": list(members)})

    def share(self, lanes: Iterable[str]) -> list[str]:
        """This replica's lanes among `lanes`: every n-th of them in sorted order, n live replicas."""
        members = self.members
        return sorted(set(lanes))[members.index(self.owner)::len(members)]

    def leave(self) -> None:
        """Give the membership up (a clean shutdown), so the others take our lanes at their next beat."""
        try:
            self._leases.release(self.lane)
        except Exception:
            log.warning("could not release the replica membership; it lapses on its own", exc_info=True)
