"""API request accounting: the rolling 24-hour daily allocation, `Sforce-Limit-Info`, and `/limits`."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import ApiError

WINDOW_MINUTES = 24 * 60

# The other entries of GET /limits (sf_limits.json): reported, never consumed.
_STATIC_LIMITS: dict[str, int] = {
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentSyncReportRuns": 20,
    "DailyAsyncApexExecutions": 250000,
    "DailyBulkApiRequests": 5000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 390,
    "DataStorageMB": 5,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 20,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyODataCallout": 10000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 50,
    "MassEmail": 10,
    "SingleEmail": 15,
    "StreamingApiConcurrentClients": 20,
}


class ApiUsage:
    """Counts API calls per minute over a rolling 24 hours (emulator clock) and by endpoint category."""

    def __init__(self, now: Callable[[], datetime], daily_limit: int) -> None:
        self._now = now
        self.daily_limit = daily_limit
        self._minutes: deque[list[int]] = deque()  # [minute number, calls in that minute]
        self._in_window = 0
        self.by_category: Counter[str] = Counter()

    def used(self) -> int:
        """Calls in the last 24 hours."""
        self._expire(self._minute())
        return self._in_window

    def charge(self, category: str) -> None:
        """Count one call, or raise 403 REQUEST_LIMIT_EXCEEDED when the allocation is spent."""
        minute = self._minute()
        self._expire(minute)
        if self._in_window >= self.daily_limit:
            raise ApiError(
                403,
                [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                {"Sforce-Limit-Info": self.header_value()},
            )
        if self._minutes and self._minutes[-1][0] == minute:
            self._minutes[-1][1] += 1
        else:
            self._minutes.append([minute, 1])
        self._in_window += 1
        self.by_category[category] += 1

    def header_value(self) -> str:
        """`api-usage=N/LIMIT`, the `Sforce-Limit-Info` header."""
        return f"api-usage={self.used()}/{self.daily_limit}"

    def limits_document(self) -> dict[str, Any]:
        """GET /limits: sf_limits.json's shape, with DailyApiRequests from the real count."""
        document = {name: {"Max": value, "Remaining": value} for name, value in _STATIC_LIMITS.items()}
        document["DailyApiRequests"] = {"Max": self.daily_limit, "Remaining": max(0, self.daily_limit - self.used())}
        return dict(sorted(document.items()))

    def reset(self) -> None:
        """Forget every counted call."""
        self._minutes.clear()
        self._in_window = 0
        self.by_category.clear()

    def _minute(self) -> int:
        return int(self._now().timestamp() // 60)

    def _expire(self, minute: int) -> None:
        while self._minutes and self._minutes[0][0] <= minute - WINDOW_MINUTES:
            self._in_window -= self._minutes.popleft()[1]
