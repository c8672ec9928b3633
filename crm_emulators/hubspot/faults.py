"""Injected failures: gateway errors, slow responses, and per-record write errors, each for a set number of times.

A fault is a JSON object posted to `/__emulator/faults`:

    {"type": "http_error", "status": 503, "count": 2}          # the next 2 API calls get a 503
    {"type": "http_error", "status": 429, "headers": {"Retry-After": "2"}}
                                                                # any status 400-599 with these headers and the
                                                                # real body for it (429 RATE_LIMIT, 401
                                                                # INVALID_AUTHENTICATION, 400 VALIDATION_ERROR...)
    {"type": "timeout", "delay_seconds": 3, "count": 1}         # the next call is processed, then held 3 s
    {"type": "drop", "count": 1}                                # the next call is processed (a write applied),
                                                                # then the connection drops before the answer
    {"type": "reset", "count": 1}                               # the connection drops before the call is processed
    {"type": "record_error", "values": ["U-17"], "count": 1}    # the next write naming U-17 fails for that record:
                                                                # as its id, idProperty value, a unique property
                                                                # value it already has, or a value being written
Optional filters: `portal` (index), `method`, `path_contains`, and for record errors `object_type`,
`category` (default VALIDATION_ERROR) and `message`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ..core.faults import FaultQueue, header_strings, http_status
from .schema import object_type

KINDS = ("http_error", "timeout", "record_error", "drop", "reset")
STATUS_ERRORS: dict[int, tuple[str, dict[str, str]]] = {
    400: ("Property values were not valid", {"category": "VALIDATION_ERROR"}),
    401: ("Authentication credentials not found.", {"category": "INVALID_AUTHENTICATION"}),
    403: ("This app hasn't been granted all required scopes", {"category": "MISSING_SCOPES"}),
    429: ("You have reached your ten_secondly_rolling limit.", {"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}),
    500: ("Internal Server Error", {}),
    502: ("Bad Gateway", {}),
    503: ("Service Unavailable", {}),
    504: ("Gateway Timeout", {}),
}
"""The message and extra keys of HubSpot's body for each status a fault can inject (else a plain error)."""


@dataclass
class Fault:
    """One armed fault and how many more times it fires."""

    type: str
    count: int = 1
    status: int = 503
    delay_seconds: float = 0.0
    portal: int | None = None
    method: str | None = None
    path_contains: str | None = None
    object_type: str | None = None
    values: list[str] = field(default_factory=list)
    category: str = "VALIDATION_ERROR"
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> "Fault":
        """A fault from its JSON form; ValueError when it makes no sense."""
        known = set(cls.__dataclass_fields__) | {"ids"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        values = [str(v) for v in [*spec.get("values", []), *spec.get("ids", [])]]
        try:
            fault = cls(**{k: v for k, v in spec.items() if k not in ("values", "ids")}, values=values)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        if fault.type not in KINDS:
            raise ValueError(f"type must be one of {KINDS}")
        if fault.count < 1:
            raise ValueError("count must be at least 1")
        if fault.type == "http_error":
            http_status(fault.status)
        fault.headers = header_strings(fault.headers)
        if fault.type == "timeout" and fault.delay_seconds <= 0:
            raise ValueError("delay_seconds must be positive")
        if fault.type == "record_error" and not fault.values:
            raise ValueError("record_error needs ids or values")
        if fault.object_type is not None:
            fault.object_type = object_type(fault.object_type).name
        if fault.method is not None:
            fault.method = fault.method.upper()
        return fault


class FaultPlan:
    """The armed faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._queue: FaultQueue[Fault] = FaultQueue()

    @property
    def fired(self) -> int:
        return self._queue.fired

    def add(self, fault: Fault) -> None:
        self._queue.add(fault)

    def clear(self) -> None:
        self._queue.clear()

    def armed(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self._queue]

    def take_call_fault(self, portal: int, method: str, path: str) -> Fault | None:
        """The http_error, timeout, drop or reset fault this API call triggers, if any (consumes one use)."""
        def hits(fault: Fault) -> bool:
            return (fault.type != "record_error" and fault.portal in (None, portal) and fault.method in (None, method)
                    and (fault.path_contains is None or fault.path_contains in path))
        return self._queue.take(hits)

    def take_record_fault(self, portal: int, object_name: str, keys: Iterable[str]) -> Fault | None:
        """The record_error fault a write of a record with these keys (id, idProperty value, values) triggers."""
        key_set = set(keys)

        def hits(fault: Fault) -> bool:
            return (fault.type == "record_error" and fault.portal in (None, portal)
                    and fault.object_type in (None, object_name) and bool(key_set.intersection(fault.values)))
        return self._queue.take(hits)
