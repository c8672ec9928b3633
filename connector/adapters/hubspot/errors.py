"""Classify what the HubSpot client raises into the adapter error kinds of `connector.adapters.base`.

Each hubspot-api-client package has its own `ApiException` class, so an API error is recognised by
shape (an HTTP `status` and a `body`). Transport failures arrive as urllib3 errors: the client runs
with `Retry(total=0)`, so a refused connection or a read timeout is a `MaxRetryError` at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError

from connector.adapters.base import AdapterError, AuthError, FatalError, QuotaError, RetriableError

TEN_SECONDS = 10.0
SEARCH_WINDOW = 1.0


class InvalidValues(FatalError):
    """A write refused as a whole because some property values are invalid (which input is not said)."""

    def __init__(self, message: str, *, fields: tuple[str, ...], **kwargs: Any):
        super().__init__(message, **kwargs)
        self.fields = fields


def is_api_exception(exc: BaseException) -> bool:
    """An HTTP error answer from any hubspot-api-client package."""
    return hasattr(exc, "status") and hasattr(exc, "body") and hasattr(exc, "headers")


def error_body(body: Any) -> dict[str, Any]:
    """An error response body as a dict (empty when it is not JSON)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


def next_midnight_utc(now: datetime) -> datetime:
    """When HubSpot's daily limit resets."""
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A response header, case-insensitively."""
    if not headers:
        return None
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def classify(exc: BaseException, now: datetime) -> AdapterError | None:
    """The adapter error for a failed call (`now` dates a daily-quota reset); None when `exc` is not a
    HubSpot or transport failure (a bug of ours: let it propagate)."""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, MaxRetryError):
        return RetriableError(f"HubSpot unreachable: {type(exc.reason).__name__}")
    if isinstance(exc, Urllib3Error):
        return RetriableError(f"HubSpot unreachable: {type(exc).__name__}")
    if not is_api_exception(exc):
        return None
    status = int(getattr(exc, "status", 0) or 0)
    body = error_body(getattr(exc, "body", None))
    message = str(body.get("message") or getattr(exc, "reason", None) or f"HTTP {status}")
    code = body.get("category") or body.get("errorType")
    if status == 429:
        return _rate_limited(body, message, getattr(exc, "headers", None), now)
    if status in (401, 403):
        return AuthError(message, code=code, status=status)
    if status in (408, 423) or status >= 500:
        return RetriableError(message, code=code, status=status)
    if status == 0:
        return RetriableError(f"HubSpot request failed: {getattr(exc, 'reason', '')}", status=status)
    property_errors = [e for e in body.get("errors") or [] if isinstance(e, dict) and (e.get("context") or {}).get("propertyName")]
    if status == 400 and property_errors:
        names = tuple(name for e in property_errors for name in e["context"]["propertyName"])
        first = property_errors[0]
        return InvalidValues(str(first.get("message") or message), code=first.get("code") or code, status=status, fields=names)
    return FatalError(message, code=code, status=status)


def _rate_limited(body: dict[str, Any], message: str, headers: Mapping[str, str] | None, now: datetime) -> AdapterError:
    policy = body.get("policyName")
    if policy == "DAILY":
        return QuotaError(message, code=policy, status=429, resets_at=next_midnight_utc(now))
    if policy is None:
        # the search endpoints' per-second limit: no policy name and no rate-limit headers
        return RetriableError(message, code=body.get("category") or "RATE_LIMITS", status=429, retry_after=SEARCH_WINDOW)
    interval = header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    retry_after = int(interval) / 1000 if interval and interval.isdigit() else TEN_SECONDS
    return RetriableError(message, code=policy, status=429, retry_after=retry_after)
