"""HTTP to the Web API: the bearer token (one refresh when refused), the shared retry policy, and
Dataverse's answers classified as the contract's errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import requests

from connector.adapters.base import AuthError, FatalError, QuotaError, RetriableError, Tokens
from connector.adapters.retry import RetryPolicy
from connector.clock import Clock

from .session import VerifyingSession
from .settings import API_PATH, AdapterOptions

_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def error_of(body: Any) -> tuple[str | None, str]:
    """(code, message) of Dataverse's `{"error": {"code": "0x...", "message": ...}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("code"), str(error.get("message") or "")
    return None, ""


class DataverseClient:
    """One environment's Web API (`{base_url}/api/data/v9.2/`)."""

    def __init__(self, tokens: Tokens, base_url: str, clock: Clock, sleep: Callable[[float], None],
                 options: AdapterOptions, ca_file: str | None):
        self.tokens = tokens
        self.api = base_url.rstrip("/") + API_PATH
        self.clock = clock
        self.options = options
        self.policy = RetryPolicy(options.max_attempts, options.backoff_initial, options.backoff_max)
        self.sleep = sleep
        self.session = VerifyingSession(ca_file)
        self.calls = 0
        self.refreshes = 0
        self.unauthorized = 0

    def url(self, path: str) -> str:
        return f"{self.api}/{path}"

    def request(self, method: str, url: str, *, params: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None, json: Any = None, data: bytes | None = None) -> requests.Response:
        """One call, retried under the policy for transient failures; raises the contract's errors."""
        return self.policy.retrying(self.sleep)(self._once, method, url, params, headers, json, data)

    def _once(self, method: str, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str] | None,
              body: Any, data: bytes | None) -> requests.Response:
        tokens = self.tokens.current()
        refreshed = False
        while True:
            sent = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0",
                    "Authorization": f"Bearer {tokens.access_token}", **(headers or {})}
            try:
                response = self.session.request(method, url, params=params, headers=sent, json=body, data=data,
                                                timeout=self.options.timeout)
            except _TRANSIENT as exc:
                self.calls += 1
                raise RetriableError(f"Dataverse {method} failed in transit: {type(exc).__name__}") from None
            self.calls += 1
            if response.status_code != 401:
                break
            self.unauthorized += 1
            if refreshed:
                raise AuthError("Dataverse refused a fresh access token (401)", status=401)
            tokens = self.tokens.refresh(tokens.generation)
            self.refreshes += 1
            refreshed = True
        return self._classified(response)

    def _classified(self, response: requests.Response) -> requests.Response:
        status = response.status_code
        if status < 400:
            return response
        try:
            code, message = error_of(response.json())
        except ValueError:
            code, message = None, response.text[:200]
        if status == 429:
            wait = float(response.headers.get("Retry-After") or 0)
            if wait > self.options.max_retry_wait:
                raise QuotaError(f"Dataverse service protection limit: {message} (retry after {wait:.0f}s)", code=code,
                                 status=status, resets_at=self.clock.now() + timedelta(seconds=wait))
            raise RetriableError(f"Dataverse service protection limit: {message}", retry_after=wait, code=code, status=status)
        if status >= 500:
            raise RetriableError(f"Dataverse answered {status}: {message}", code=code, status=status)
        raise FatalError(f"Dataverse refused the request ({status} {code}): {message}", code=code, status=status)

    def close(self) -> None:
        self.session.close()
