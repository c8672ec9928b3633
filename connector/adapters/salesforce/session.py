"""The simple-salesforce client of one connection, and the HTTP session under it.

- `HttpSession`: a requests.Session that verifies the instance against `ca_file` when one is given (per
  request, so that REQUESTS_CA_BUNDLE in the environment cannot override it: psf/requests#3829),
  applies a default timeout, counts responses, hands each to an observer (Sforce-Limit-Info) and keeps
  the last response's headers per thread (Retry-After of an error).
- `SalesforceSession`: `simple_salesforce.Salesforce` built from the current token set's access token
  and instance_url. Salesforce says nothing of expiry: after a 401 `refresh` gets new tokens (once,
  through `Tokens.refresh`, single-flight) and builds the client again on the same HTTP session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import requests
from simple_salesforce.api import Salesforce

from connector.adapters.base import AuthError, FatalError, Tokens


class HttpSession(requests.Session):
    """The HTTP session of one connection (see the module docstring)."""

    def __init__(self, ca_file: str | None, timeout: float, observe: Callable[[requests.Response], None]):
        super().__init__()
        self.ca_file = ca_file
        if ca_file:
            self.verify = ca_file
        self.timeout = timeout
        self.observe = observe
        self.responses = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        if self.ca_file:
            kwargs.setdefault("verify", self.ca_file)
        self._local.headers = None
        response = super().request(method, url, *args, **kwargs)
        with self._count_lock:
            self.responses += 1
        self._local.headers = response.headers
        self.observe(response)
        return response

    def last_headers(self) -> Mapping[str, str] | None:
        """The headers of this thread's last response (None when the last request got none)."""
        return getattr(self._local, "headers", None)


class SalesforceSession:
    """The current `Salesforce` client of one connection."""

    def __init__(self, tokens: Tokens, http: HttpSession, api_version: str, instance_url: str | None):
        self.tokens = tokens
        self.http = http
        self.api_version = api_version
        self.instance_url = instance_url
        self.refreshes = 0
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None
        self._token_set: Any = None

    def client(self) -> Salesforce:
        """The client to call with (built from `Tokens.current()` the first time)."""
        with self._lock:
            if self._sf is None:
                self._sf = self._build(self.tokens.current())
            return self._sf

    def refresh(self, refused: Salesforce) -> Salesforce:
        """A client with a new access token, after `refused` got a 401 (unless another thread already
        replaced it)."""
        with self._lock:
            if self._sf is not None and self._sf is not refused:
                return self._sf
            self.refreshes += 1
            self._sf = self._build(self.tokens.refresh(getattr(self._token_set, "generation", None)))
            return self._sf

    def _build(self, token_set: Any) -> Salesforce:
        access_token = getattr(token_set, "access_token", None)
        if not access_token:
            raise AuthError("no Salesforce access token: the connection needs authorization")
        instance_url = getattr(token_set, "instance_url", None) or self.instance_url
        if not instance_url:
            raise FatalError("no Salesforce instance_url: neither the tokens nor the options name one", code="NO_INSTANCE_URL")
        self._token_set = token_set
        return FastJsonSalesforce(instance_url=instance_url, session_id=access_token, version=self.api_version,
                                  session=self.http)


class FastJsonSalesforce(Salesforce):
    """simple-salesforce with its responses parsed by orjson into plain dicts (its default is the
    standard library's parser building OrderedDicts: a third of reading a 2,000-record query page)."""

    def parse_result_to_json(self, result: requests.Response) -> Any:
        return orjson.loads(result.content)
