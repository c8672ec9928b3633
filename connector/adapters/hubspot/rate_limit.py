"""Pacing calls to stay inside HubSpot's limits, from what its responses report.

- Search: at most `search_per_second` searches in any one second (HubSpot: 5 per account, and its
  search answers carry no rate-limit headers), kept by this adapter's own sliding window.
- Everything else: the `X-HubSpot-RateLimit-*` headers. When the ten-second window reports no calls
  remaining, the next call waits for the interval; when the daily allocation reports none remaining
  (or a call was refused with `policyName: DAILY`), calls fail with QuotaError until midnight UTC
  without reaching HubSpot.

Time comes from the injected clock and waits go through the injected sleep, so tests never wait.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from connector.adapters.base import QuotaError
from connector.clock import Clock

from .errors import header, next_midnight_utc

SEARCH_MARGIN = timedelta(milliseconds=50)
"""Extra wait between searches, so that our clock and HubSpot's disagreeing slightly costs no 429.
(The ten-second window needs none: it is counted from our last call, which is after its oldest.)"""


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


class RateLimiter:
    """One connection's view of its HubSpot limits. Thread-safe."""

    def __init__(self, clock: Clock, sleep: Callable[[float], None], search_per_second: int):
        self.clock = clock
        self.sleep = sleep
        self.search_per_second = search_per_second
        self._lock = threading.Lock()
        self._searches: deque[datetime] = deque()
        self._window_clears_at: datetime | None = None
        self._quota_resets_at: datetime | None = None
        self.reported: dict[str, int] = {}
        """The last rate-limit headers seen: max, remaining, interval_ms, daily, daily_remaining."""

    def before_call(self, search: bool) -> None:
        """Wait until a call may go out; QuotaError while the daily allocation is known to be spent."""
        with self._lock:
            now = self.clock.now()
            if self._quota_resets_at is not None:
                if now < self._quota_resets_at:
                    raise QuotaError("HubSpot daily API limit spent", code="DAILY", status=429, resets_at=self._quota_resets_at)
                self._quota_resets_at = None
            wait = self._search_wait(now) if search else self._window_wait(now)
            if wait > 0:
                self.sleep(wait)
                now = self.clock.now()
            if search:
                self._searches.append(now)
            else:
                self._window_clears_at = None

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Take in the rate-limit headers of a response (success or error)."""
        names = {
            "max": "X-HubSpot-RateLimit-Max",
            "remaining": "X-HubSpot-RateLimit-Remaining",
            "interval_ms": "X-HubSpot-RateLimit-Interval-Milliseconds",
            "daily": "X-HubSpot-RateLimit-Daily",
            "daily_remaining": "X-HubSpot-RateLimit-Daily-Remaining",
        }
        seen = {key: value for key, name in names.items() if (value := _int(header(headers, name))) is not None}
        if not seen:
            return
        with self._lock:
            now = self.clock.now()
            self.reported.update(seen)
            if seen.get("remaining") == 0:
                self._window_clears_at = now + timedelta(milliseconds=self.reported.get("interval_ms", 10_000))
            if seen.get("daily_remaining") == 0:
                self._quota_resets_at = next_midnight_utc(now)

    def quota_spent(self, resets_at: datetime | None) -> None:
        """HubSpot refused a call for the daily limit: refuse locally until it resets."""
        with self._lock:
            self._quota_resets_at = resets_at or next_midnight_utc(self.clock.now())

    def usage(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.reported)

    def _search_wait(self, now: datetime) -> float:
        while self._searches and self._searches[0] <= now - timedelta(seconds=1):
            self._searches.popleft()
        if len(self._searches) < self.search_per_second:
            return 0.0
        clears_at = self._searches[-self.search_per_second] + timedelta(seconds=1) + SEARCH_MARGIN
        return max(0.0, (clears_at - now).total_seconds())

    def _window_wait(self, now: datetime) -> float:
        if self._window_clears_at is None:
            return 0.0
        return max(0.0, (self._window_clears_at - now).total_seconds())
