"""The quota guard: stop calling Salesforce before the org's daily API allocation runs dry.

Every response (errors included) carries `Sforce-Limit-Info: api-usage=N/M`, the whole org's calls in
the rolling 24 hours against its allocation. Once N/M reaches `stop_share`, or a call is refused with
403 REQUEST_LIMIT_EXCEEDED, calls fail with QuotaError without reaching Salesforce until
`recheck_seconds` have passed; then one call may go out and its header decides again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from simple_salesforce.api import Salesforce
from simple_salesforce.util import PerAppUsage

from connector.adapters.base import QuotaError
from connector.clock import Clock

from .errors import REQUEST_LIMIT


class QuotaGuard:
    """One connection's view of its org's daily API usage. Thread-safe."""

    def __init__(self, clock: Clock, stop_share: float, recheck_seconds: float):
        self.clock = clock
        self.stop_share = stop_share
        self.recheck = timedelta(seconds=recheck_seconds)
        self._lock = threading.Lock()
        self._stopped_until: datetime | None = None
        self._reason = ""
        self.used: int | None = None
        self.limit: int | None = None
        self.per_app: dict[str, tuple[int, int]] = {}

    def check(self) -> None:
        """Raise QuotaError while stopped; a call may go out otherwise."""
        with self._lock:
            if self._stopped_until is None:
                return
            if self.clock.now() < self._stopped_until:
                raise QuotaError(self._reason, code=REQUEST_LIMIT, resets_at=self._stopped_until)
            self._stopped_until = None

    def observe(self, limit_info: str | None) -> None:
        """Take in a response's `Sforce-Limit-Info` header."""
        if not limit_info:
            return
        usage = Salesforce.parse_api_usage(limit_info)
        with self._lock:
            for value in usage.values():
                if isinstance(value, PerAppUsage):
                    self.per_app[value.name] = (value.used, value.total)
                else:
                    self.used, self.limit = value.used, value.total
            if self.used is not None and self.limit and self.used / self.limit >= self.stop_share:
                self._stop(f"Salesforce API usage {self.used}/{self.limit} reached the guard's stop share "
                           f"({self.stop_share:.0%} of the daily allocation)")

    def refused(self, message: str) -> QuotaError:
        """Salesforce refused a call for the daily limit: stop, and the error to raise."""
        with self._lock:
            self._stop(f"Salesforce refused the call, daily API allocation spent: {message}")
            return QuotaError(self._reason, code=REQUEST_LIMIT, status=403, resets_at=self._stopped_until)

    def _stop(self, reason: str) -> None:
        self._reason = reason
        self._stopped_until = self.clock.now() + self.recheck
