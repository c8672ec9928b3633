"""Every HubSpot call of one connection goes through here: the real `hubspot.HubSpot` client with a
fresh access token, paced by the rate limiter, classified, and retried by one tenacity layer.

- Tokens: refreshed AHEAD of expiry (when less than `refresh_margin` remains by the injected clock);
  HubSpot does not promise a 401 as the signal. If a 401 arrives anyway the token is refreshed once
  and the call sent once more; a second 401 is an AuthError. Tokens are never logged.
- Retries: urllib3 is configured with `Retry(total=0)`, so the only retry layer is tenacity here:
  RetriableError (429, 5xx, timeouts, refused connections) is retried under the one policy of
  connector.adapters.retry with this connection's AdapterOptions. QuotaError, AuthError and FatalError
  are never retried.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hubspot import HubSpot
from tenacity import RetryCallState, Retrying, retry_if_exception_type
from urllib3 import HTTPResponse
from urllib3.util.retry import Retry

from connector.adapters.base import AuthError, QuotaError, RetriableError, Tokens
from connector.adapters.retry import RetryPolicy
from connector.clock import Clock

from .errors import classify
from .rate_limit import RateLimiter
from .settings import DEFAULT_HOST, AdapterOptions

log = logging.getLogger(__name__)

Response = tuple[Any, int, Any]
"""What a client `*_with_http_info` method returns: (data, status, headers)."""


class HubSpotClient:
    """One connection's authenticated, paced, retried access to the HubSpot API."""

    def __init__(self, tokens: Tokens, base_url: str | None, clock: Clock, sleep: Callable[[float], None], options: AdapterOptions):
        self.tokens = tokens
        self.clock = clock
        self.sleep = sleep
        self.options = options
        self.limiter = RateLimiter(clock, sleep, options.search_per_second)
        self._client = HubSpot(host=(base_url or DEFAULT_HOST).rstrip("/"), retry=Retry(total=0, raise_on_redirect=False))
        self._apis: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._token_set: Any = None
        self.calls = 0
        self.refreshes = 0
        self.unauthorized = 0

    # ---- the client's API objects, built once (each holds its own connection pool)

    def api(self, path: str) -> Any:
        """A client API object by its path under `HubSpot`, e.g. `crm.objects.batch_api`."""
        with self._lock:
            found = self._apis.get(path)
            if found is None:
                found = self._client
                for part in path.split("."):
                    found = getattr(found, part)
                self._apis[path] = found
            return found

    def close(self) -> None:
        with self._lock:
            for api in self._apis.values():
                api.api_client.close()
                api.api_client.rest_client.pool_manager.clear()
            self._apis.clear()

    # ---- calls

    def call(self, method: Callable[..., Response], *args: Any, search: bool = False, **kwargs: Any) -> Response:
        """Send one API call (a client `*_with_http_info` method) with retries; (data, status, headers)."""
        retrying = self.retrying(retry_if_exception_type(RetriableError))
        return retrying(self._attempt, method, args, kwargs, search)

    def call_json(self, method: Callable[..., Response], *args: Any, search: bool = False, **kwargs: Any) -> Any:
        """`call` without the client's model deserialisation: the response body's JSON as plain data
        (the client's own request, auth, error classes and headers all still apply)."""
        raw = self.call(method, *args, search=search, _preload_content=False, **kwargs)
        try:
            return json.loads(raw.data)
        finally:
            raw.release_conn()

    def retrying(self, retry: Any, **kwargs: Any) -> Retrying:
        """The one backoff policy (connector.adapters.retry), for API calls and for re-sending records
        that failed transiently."""
        policy = RetryPolicy(self.options.max_attempts, self.options.backoff_initial, self.options.backoff_max)
        return policy.retrying(self.sleep, retry, before_sleep=_log_retry, **kwargs)

    def _attempt(self, method: Callable[..., Response], args: tuple[Any, ...], kwargs: dict[str, Any], search: bool) -> Response:
        """One try with a fresh token; a 401 anyway gets one refresh and one resend."""
        tokens = self._fresh_tokens()
        try:
            return self._send(tokens, method, args, kwargs, search)
        except AuthError as refused:
            if refused.status != 401:
                raise
            self.unauthorized += 1
        try:
            return self._send(self._refresh(tokens), method, args, kwargs, search)
        except AuthError as refused:
            if refused.status != 401:
                raise
            self.unauthorized += 1
            raise AuthError(f"HubSpot refused the access token even after a refresh: {refused}", code=refused.code, status=401) from None

    def _send(self, tokens: Any, method: Callable[..., Response], args: tuple[Any, ...], kwargs: dict[str, Any], search: bool) -> Response:
        """Pace, authorize and send one request; classify its failure."""
        self.limiter.before_call(search)
        self._authorize(tokens)
        self.calls += 1
        try:
            response = method(*args, _request_timeout=self.options.timeout, **kwargs)
            if isinstance(response, HTTPResponse):
                response.read(cache_content=True)  # the body read here: a dropped answer is classified and retried
        except Exception as exc:
            error = classify(exc, self.clock.now())
            if error is None:
                raise
            self.limiter.observe(getattr(exc, "headers", None))
            if isinstance(error, QuotaError):
                self.limiter.quota_spent(error.resets_at)
            raise error from None
        self.limiter.observe(response.headers if isinstance(response, HTTPResponse) else response[2])
        return response

    # ---- tokens

    def _fresh_tokens(self) -> Any:
        """The access token to use: the cached one, unless it is about to expire."""
        tokens = self._token_set
        if tokens is None or self._expiring(tokens):
            tokens = self.tokens.current()
            if self._expiring(tokens):
                tokens = self._refresh(tokens)
        return tokens

    def _refresh(self, seen: Any) -> Any:
        self.refreshes += 1
        return self.tokens.refresh(None if seen is None else seen.generation)

    def _expiring(self, tokens: Any) -> bool:
        expires_at = getattr(tokens, "expires_at", None)
        return expires_at is not None and expires_at - self.clock.now() < timedelta(seconds=self.options.refresh_margin)

    def _authorize(self, tokens: Any) -> None:
        with self._lock:
            if tokens is self._token_set:
                return
            access_token = getattr(tokens, "access_token", None)
            if not access_token:
                raise AuthError("no HubSpot access token: the connection needs authorization")
            self._token_set = tokens
            self._client.access_token = access_token
            for api in self._apis.values():
                api.api_client.configuration.access_token = access_token


def _log_retry(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome is not None else None
    reason = f"{type(failure).__name__}: {failure}" if failure is not None else "records failed transiently"
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning("HubSpot attempt %d failed (%s); retrying in %.1f s", state.attempt_number, reason, wait)
