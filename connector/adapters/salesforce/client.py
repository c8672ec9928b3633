"""Every Salesforce call of one connection goes through here: the quota guard first, the current
simple-salesforce client, one token refresh after a 401, classification, and one tenacity retry layer.

- Auth: simple-salesforce built from a session id never refreshes by itself; Salesforce sends no
  `expires_in`, so the signal is 401 INVALID_SESSION_ID (SalesforceExpiredSession): the tokens are
  refreshed, the client rebuilt and the call sent once more; a second 401 is an AuthError.
- Retries: RetriableError (5xx, timeouts, refused connections, too many concurrent requests) is retried
  under the one policy of connector.adapters.retry with this connection's AdapterOptions. QuotaError,
  AuthError and FatalError are never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from simple_salesforce.api import Salesforce
from tenacity import Retrying, retry_if_exception_type

from connector.adapters.base import AuthError, QuotaError, RetriableError
from connector.adapters.retry import RetryPolicy
from connector.clock import Clock

from .errors import INVALID_SESSION, classify, retry_after_seconds
from .quota import QuotaGuard
from .session import SalesforceSession
from .settings import AdapterOptions

T = TypeVar("T")


class SalesforceClient:
    """One connection's guarded, authenticated, classified and retried access to Salesforce."""

    def __init__(self, session: SalesforceSession, guard: QuotaGuard, clock: Clock, sleep: Callable[[float], None],
                 options: AdapterOptions):
        self.session = session
        self.guard = guard
        self.clock = clock
        self.sleep = sleep
        self.options = options
        self.unauthorized = 0

    @property
    def version(self) -> str:
        return self.session.api_version

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run `operation` (one or a few requests through the given client) with the retry policy."""
        result: T = self.retrying(retry_if_exception_type(RetriableError))(self._attempt, operation)
        return result

    def retrying(self, retry: Any, **kwargs: Any) -> Retrying:
        """The one backoff policy (connector.adapters.retry), for calls and for re-sending records that
        failed transiently."""
        policy = RetryPolicy(self.options.max_attempts, self.options.backoff_initial, self.options.backoff_max)
        return policy.retrying(self.sleep, retry, **kwargs)

    def _attempt(self, operation: Callable[[Salesforce], T]) -> T:
        self.guard.check()
        sf = self.session.client()
        try:
            return self._send(operation, sf)
        except AuthError as refused:
            if refused.code != INVALID_SESSION:
                raise
            self.unauthorized += 1
        sf = self.session.refresh(sf)
        try:
            return self._send(operation, sf)
        except AuthError as refused:
            if refused.code != INVALID_SESSION:
                raise
            self.unauthorized += 1
            raise AuthError("Salesforce refused the session even after a token refresh", code=INVALID_SESSION,
                            status=401) from None

    def _send(self, operation: Callable[[Salesforce], T], sf: Salesforce) -> T:
        try:
            return operation(sf)
        except Exception as exc:
            headers = self.session.http.last_headers()
            retry_after = retry_after_seconds(headers.get("Retry-After") if headers else None, self.clock.now())
            error = classify(exc, retry_after)
            if error is None:
                raise
            if isinstance(error, QuotaError) and error.status == 403:
                raise self.guard.refused(str(error)) from None
            raise error from None
