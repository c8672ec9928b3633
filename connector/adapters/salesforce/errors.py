"""Classify Salesforce failures into the adapter error kinds of `connector.adapters.base`.

Whole-call errors (`[{"message", "errorCode"}]` with an HTTP status, raised by simple-salesforce as
SalesforceError subclasses or answered to a /composite subrequest) and transport errors become
AdapterErrors; per-record errors (sObject Collections `errors[{statusCode, message, fields}]`, the
Bulk API 2.0 `sf__Error` column) become failed WriteResults, retriable for lock contention only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError, SalesforceOperationError

from connector.adapters.base import AdapterError, AuthError, FatalError, QuotaError, RetriableError, WriteResult

RETRIABLE_RECORD_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})
"""Per-record errors worth sending again; every other one needs a person (or a fix of the data)."""
INVALID_SESSION = "INVALID_SESSION_ID"
REQUEST_LIMIT = "REQUEST_LIMIT_EXCEEDED"


def error_detail(content: Any) -> tuple[str | None, str]:
    """(errorCode, message) of an error answer: `[{"errorCode", "message"}]`, an OAuth-style
    `{"error", "error_description"}`, or text."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        return first.get("errorCode") or first.get("statusCode"), str(first.get("message") or "")
    if isinstance(content, Mapping):
        return content.get("errorCode") or content.get("error"), str(content.get("message") or content.get("error_description") or "")
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return None, str(content or "")


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header (seconds, or an HTTP date) as seconds from `now`."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, (parsedate_to_datetime(text) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def from_answer(status: int, content: Any, retry_after: float | None = None) -> AdapterError:
    """The adapter error for an error answer of the REST API."""
    code, message = error_detail(content)
    message = message or f"HTTP {status}"
    if status == 401:
        return AuthError(message, code=code, status=status)
    if status == 403 and code == REQUEST_LIMIT:
        if "concurrent" in message.lower():  # too many long-running requests at once, not the daily allocation
            return RetriableError(message, code=code, status=status, retry_after=retry_after)
        return QuotaError(message, code=code, status=status)
    if status in (408, 429) or status >= 500:
        return RetriableError(message, code=code, status=status, retry_after=retry_after)
    return FatalError(message, code=code, status=status)


def classify(exc: BaseException, retry_after: float | None) -> AdapterError | None:
    """The adapter error for an exception out of simple-salesforce or requests; None when it is
    neither a Salesforce nor a transport failure (a bug of ours: let it propagate)."""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, SalesforceError):
        return from_answer(exc.status, exc.content, retry_after)
    if isinstance(exc, SalesforceOperationError):
        return FatalError(f"Bulk API 2.0 job did not complete: {exc}", code="BULK_JOB_FAILED")
    if isinstance(exc, requests.exceptions.SSLError):
        return FatalError(f"TLS failure talking to Salesforce (wrong CA file?): {exc}", code="TLS")
    if isinstance(exc, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return RetriableError(f"Salesforce unreachable: {type(exc).__name__}")
    return None


def record_failure(key: str, errors: Sequence[Mapping[str, Any]], crm_id: str | None = None) -> WriteResult:
    """A failed record of an sObject Collections call, with the CRM's code, message and fields."""
    codes = [str(error.get("statusCode") or "UNKNOWN_ERROR") for error in errors] or ["UNKNOWN_ERROR"]
    return WriteResult(
        key=key,
        outcome="failed",
        crm_id=crm_id,
        error_code=codes[0],
        error_message="; ".join(str(error.get("message") or "") for error in errors) or "Salesforce reported no message",
        error_fields=tuple(str(name) for error in errors for name in error.get("fields") or ()),
        retriable=all(code in RETRIABLE_RECORD_CODES for code in codes),
    )


def bulk_failure(key: str, text: str, crm_id: str | None = None) -> WriteResult:
    """A failed row of a Bulk API 2.0 job: `sf__Error` reads `CODE:message:Field1,Field2 --`."""
    code, _, rest = text.partition(":")
    message, _, fields = rest.rpartition(":") if rest.rstrip().endswith("--") else (rest, "", "")
    names = tuple(name.strip() for name in fields.replace("--", "").split(",") if name.strip())
    return record_failure(key, [{"statusCode": code.strip(), "message": message.strip(), "fields": names}], crm_id)
