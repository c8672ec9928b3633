"""Scheduled faults, set through `POST /__emulator/faults`.

Request faults hit the next API calls:
    {"kind": "unavailable", "count": 2}                      -> 503 SERVER_UNAVAILABLE (not counted)
    {"kind": "timeout", "count": 1, "delay_seconds": 5}      -> the call is held that long, then answered
    {"kind": "status", "status": 429, "headers": {"Retry-After": "3"}, "count": 1}
                                                             -> that status and headers (not counted), with the
                                                                real body for it (401 INVALID_SESSION_ID, 403
                                                                REQUEST_LIMIT_EXCEEDED, 400 MALFORMED_QUERY...)
                                                                unless "body" gives one
    {"kind": "drop", "count": 1}                             -> the call is carried out (a write is applied),
                                                                then the connection drops before the answer
    {"kind": "reset", "count": 1}                            -> the connection drops before the call is carried out
Each takes an optional "category" (query, sobject, collections, composite, bulk2...) to hit only those calls.

Record faults hit API writes of chosen records, matched by id or by any external id value:
    {"kind": "lock_row", "keys": ["UPM-1", "00Q..."], "count": 1}  -> UNABLE_TO_LOCK_ROW, `count` times per key
    {"kind": "validation", "keys": ["UPM-2"], "message": "...", "fields": ["Status"]}
                                                             -> FIELD_CUSTOM_VALIDATION_EXCEPTION until cleared
Either takes an optional "object" to hit only that sObject type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.faults import FaultQueue, header_strings, http_status
from .errors import RecordError
from .ids import normalize_id

REQUEST_KINDS = ("unavailable", "timeout", "status", "drop", "reset")
RECORD_KINDS = ("lock_row", "validation")
UNAVAILABLE_BODY = [
    {"message": "Server is temporarily unavailable. Please try again later.", "errorCode": "SERVER_UNAVAILABLE"}
]
STATUS_BODIES: dict[int, list[dict[str, str]]] = {
    400: [{"message": "The request could not be understood", "errorCode": "MALFORMED_QUERY"}],
    401: [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    403: [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    404: [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}],
    429: [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
}


@dataclass
class RequestFault:
    """The next `count` matching calls fail (503) or are held `delay_seconds` (timeout)."""

    kind: str
    count: int
    delay_seconds: float = 0.0
    category: str | None = None
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def describe(self) -> dict[str, Any]:
        """This fault as JSON."""
        return {"kind": self.kind, "remaining": self.count, "delay_seconds": self.delay_seconds,
                "category": self.category, "status": self.status, "headers": self.headers, "body": self.body}


@dataclass
class RecordFault:
    """Writes of records matching `keys` fail; `remaining[key]` is None for "until cleared"."""

    kind: str
    remaining: dict[str, int | None]
    object_name: str | None = None
    message: str = ""
    fields: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """This fault as JSON."""
        return {"kind": self.kind, "remaining": dict(self.remaining), "object": self.object_name,
                "message": self.message, "fields": self.fields}


def _key(value: Any) -> str:
    normalized = normalize_id(value)
    return (normalized or str(value)).lower()


class FaultPlan:
    """The faults still to happen."""

    def __init__(self) -> None:
        self._requests: FaultQueue[RequestFault] = FaultQueue()
        self._records: list[RecordFault] = []

    def add(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Schedule a fault (see the module docstring); returns its description. Raises ValueError."""
        kind = str(spec.get("kind", ""))
        if kind in REQUEST_KINDS:
            count = int(spec.get("count", 1))
            delay = float(spec.get("delay_seconds", 0))
            if count < 1 or delay < 0 or (kind == "timeout" and delay <= 0):
                raise ValueError("count must be >= 1 and a timeout needs delay_seconds > 0")
            status = int(spec.get("status", 503))
            if kind == "status":
                try:
                    http_status(status)
                except ValueError:
                    raise ValueError("a status fault needs a status from 400 to 599") from None
            headers = header_strings(spec.get("headers"))
            body = spec.get("body", STATUS_BODIES.get(status, UNAVAILABLE_BODY))
            request_fault = RequestFault(kind, count, delay, spec.get("category"), status, headers, body)
            return self._requests.add(request_fault).describe()
        if kind in RECORD_KINDS:
            keys = spec.get("keys")
            if not isinstance(keys, list) or not keys:
                raise ValueError("a record fault needs a non-empty list of keys (ids or external id values)")
            count = None if kind == "validation" else int(spec.get("count", 1))
            if count is not None and count < 1:
                raise ValueError("count must be >= 1")
            record_fault = RecordFault(
                kind,
                {_key(key): count for key in keys},
                spec.get("object"),
                str(spec.get("message") or "Record failed a custom validation rule"),
                list(spec.get("fields") or []),
            )
            self._records.append(record_fault)
            return record_fault.describe()
        raise ValueError(f"unknown fault kind {kind!r}: use one of {', '.join(REQUEST_KINDS + RECORD_KINDS)}")

    def next_request_fault(self, category: str) -> RequestFault | None:
        """The request fault this call suffers (consumed), if any."""
        return self._requests.take(lambda fault: fault.category in (None, category))

    def record_error(
        self, object_name: str, record_id: str | None, keys: Iterable[Any], saving: bool
    ) -> RecordError | None:
        """The error a write of this record suffers (lock faults are consumed), if any.

        `keys` are the record's external id values; `saving` is False for deletes, which validation rules
        do not see.
        """
        given = [key for key in keys if key is not None]
        wanted = {_key(key) for key in given}
        if record_id:
            wanted.add(_key(record_id))
        for fault in self._records:
            if fault.object_name not in (None, object_name) or (fault.kind == "validation" and not saving):
                continue
            hit = next((key for key in fault.remaining if key in wanted), None)
            if hit is None:
                continue
            if fault.kind == "validation":
                return RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", fault.message, fault.fields)
            remaining = fault.remaining[hit]
            assert remaining is not None
            if remaining <= 1:
                del fault.remaining[hit]
                if not fault.remaining:
                    self._records.remove(fault)
            else:
                fault.remaining[hit] = remaining - 1
            shown = record_id or next(str(key) for key in given if _key(key) == hit)
            return RecordError(
                "UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record or 1 records: {shown}"
            )
        return None

    def describe(self) -> list[dict[str, Any]]:
        """The pending faults."""
        return [fault.describe() for fault in self._requests] + [fault.describe() for fault in self._records]

    def clear(self) -> None:
        """Cancel every pending fault."""
        self._requests.clear()
        self._records.clear()
