"""What a running job is given."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from connector.clock import Clock
from connector.config.settings import Settings
from connector.runtime import Runtime
from connector.store.database import Database


@dataclass
class JobContext:
    """A job's view of the daemon. Jobs work in batches and check `should_stop()` between them."""

    lane: str
    runtime: Runtime
    """The daemon's assembled parts (engines, the lead service) on its datastore."""
    log: logging.Logger
    shutdown: threading.Event
    lease_lost: threading.Event
    connection: str | None = None
    outcome: str = "ok"
    """How the run ended when it did not raise: `ok`, or `quota` / `auth` for a lane that paused."""
    report: dict[str, Any] = field(default_factory=dict)
    """What the run tells the datastore beside its outcome (`LaneRun` columns: counts, quota, error)."""

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def should_stop(self) -> bool:
        """True once the daemon is shutting down or this lane's lease could not be renewed."""
        return self.shutdown.is_set() or self.lease_lost.is_set()
