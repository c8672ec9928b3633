"""The one retry policy of every CRM adapter, on tenacity: a RetriableError is tried again up to
`max_attempts` times in all, after an exponential backoff (`backoff_initial` doubling up to
`backoff_max`, plus up to `jitter` of itself at random) and never sooner than the `retry_after` the CRM
asked for; the sleep is injected, so tests observe the waits instead of waiting. Each CRM gives its own
parameters (its AdapterOptions); AuthError, QuotaError and FatalError are never retried by it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from connector.adapters.base import RetriableError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one CRM's transient failures."""

    max_attempts: int
    backoff_initial: float
    backoff_max: float
    jitter: float = 0.5

    def wait(self, state: RetryCallState) -> float:
        """Seconds before the next try: the backoff, or the CRM's Retry-After when that is longer."""
        exponential = self.backoff_initial * 2.0 ** (state.attempt_number - 1)
        backoff = min(self.backoff_max, exponential * (1 + random.uniform(0, self.jitter)))
        failure = state.outcome.exception() if state.outcome is not None else None
        return max(backoff, float(getattr(failure, "retry_after", None) or 0.0))

    def retrying(self, sleep: Callable[[float], None], retry: Any = None, **kwargs: Any) -> Retrying:
        """A tenacity Retrying under this policy (by default: retry RetriableError only)."""
        return Retrying(
            retry=retry if retry is not None else retry_if_exception_type(RetriableError),
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait,
            sleep=sleep,
            reraise=True,
            **kwargs,
        )
