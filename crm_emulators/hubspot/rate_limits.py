"""HubSpot's per-portal API limits: the rolling ten-second limit, the daily limit and the search limit.

All windows run on the emulator clock, so a test can hit a limit and then clear it with `/__emulator/clock`.
Search calls are exempt from the ten-second limit (HubSpot's own rule) but have their own per-second one,
and count towards the daily limit. The daily limit resets at midnight UTC.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timezone

from .errors import HubSpotError, correlation_id, error_body

TEN_SECONDS_MS = 10_000
ONE_SECOND_MS = 1_000


class PortalRateLimiter:
    """Counts one portal's calls and refuses those over its limits with HubSpot's 429 bodies."""

    def __init__(self, ten_second_limit: int | None, daily_limit: int | None, search_per_second: int | None, group_name: str) -> None:
        self.ten_second_limit = ten_second_limit
        self.daily_limit = daily_limit
        self.search_per_second = search_per_second
        self.group_name = group_name
        self._recent: deque[int] = deque()
        self._recent_searches: deque[int] = deque()
        self._day = ""
        self._daily_used = 0

    def reset(self) -> None:
        self._recent.clear()
        self._recent_searches.clear()
        self._day = ""
        self._daily_used = 0

    def admit(self, now_ms: int, search: bool) -> None:
        """Record a call, or raise the 429 HubSpot answers with when a limit is spent."""
        self._roll(now_ms)
        if self.daily_limit is not None and self._daily_used >= self.daily_limit:
            raise HubSpotError(429, _daily_body(), self.headers(now_ms))
        if search:
            if self.search_per_second is not None and len(self._recent_searches) >= self.search_per_second:
                raise HubSpotError(429, error_body("You have reached your secondly limit.", "RATE_LIMITS"))
            self._recent_searches.append(now_ms)
        else:
            if self.ten_second_limit is not None and len(self._recent) >= self.ten_second_limit:
                raise HubSpotError(429, self._ten_secondly_body(), self.headers(now_ms))
            self._recent.append(now_ms)
        self._daily_used += 1

    def headers(self, now_ms: int) -> dict[str, str]:
        """The X-HubSpot-RateLimit-* headers of a non-search response."""
        self._roll(now_ms)
        headers: dict[str, str] = {}
        if self.ten_second_limit is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(self.ten_second_limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.ten_second_limit - len(self._recent)))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(TEN_SECONDS_MS)
        if self.daily_limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - self._daily_used))
        return headers

    def usage(self, now_ms: int) -> dict[str, int]:
        """Calls in the current windows, for `/__emulator/stats`."""
        self._roll(now_ms)
        return {"ten_second_window": len(self._recent), "search_second_window": len(self._recent_searches), "daily": self._daily_used}

    def _roll(self, now_ms: int) -> None:
        while self._recent and self._recent[0] <= now_ms - TEN_SECONDS_MS:
            self._recent.popleft()
        while self._recent_searches and self._recent_searches[0] <= now_ms - ONE_SECOND_MS:
            self._recent_searches.popleft()
        day = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
        if day != self._day:
            self._day = day
            self._daily_used = 0

    def _ten_secondly_body(self) -> dict[str, str]:
        return {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": self.group_name,
        }


def _daily_body() -> dict[str, str]:
    return {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": "DAILY",
        "requestId": correlation_id(),
    }
