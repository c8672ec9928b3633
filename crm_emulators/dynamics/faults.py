"""Injected failures, posted to `/__emulator/faults` (one object, or `{"faults": [...]}`):

    {"type": "http_error", "status": 503, "count": 2}         # the next 2 API calls answer 503 with Dataverse's body
    {"type": "http_error", "status": 429, "headers": {"Retry-After": "7"}}
    {"type": "timeout", "delay_seconds": 3}                   # carried out, then held 3 s
    {"type": "drop"}                                          # carried out, then the connection drops mid-answer
    {"type": "reset"}                                         # the connection drops before it is carried out
    {"type": "record_error", "values": ["upm-7"], "status": 400, "code": "0x80040265", "message": "..."}
                                                              # a write of the record with that upm_id (or id) fails
Optional: `count` (default 1), `path_contains` (API calls whose path contains it; inside `$batch`, the part's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.faults import FaultQueue, header_strings, http_status
from .errors import VALIDATION

KINDS = ("http_error", "timeout", "drop", "reset", "record_error")


@dataclass
class Fault:
    type: str
    count: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    path_contains: str | None = None
    values: list[str] = field(default_factory=list)
    code: str = VALIDATION
    message: str | None = None

    @classmethod
    def parse(cls, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(spec) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        fault = cls(**spec)
        if fault.type not in KINDS:
            raise ValueError(f"type must be one of {KINDS}")
        if fault.type == "http_error" or (fault.type == "record_error" and "status" in spec):
            http_status(fault.status)
        elif fault.type == "record_error":
            fault.status = 400
        if fault.type == "timeout" and fault.delay_seconds <= 0:
            raise ValueError("delay_seconds must be positive")
        if fault.type == "record_error" and not fault.values:
            raise ValueError("record_error needs values (upm_id values or record ids)")
        fault.headers = header_strings(fault.headers)
        fault.values = [str(v).lower() for v in fault.values]
        return fault


class FaultPlan:
    def __init__(self) -> None:
        self.queue: FaultQueue[Fault] = FaultQueue()

    def call_fault(self, path: str) -> Fault | None:
        return self.queue.take(lambda f: f.type != "record_error" and (f.path_contains is None or f.path_contains in path))

    def record_fault(self, keys: set[str]) -> Fault | None:
        return self.queue.take(lambda f: f.type == "record_error" and bool(keys.intersection(f.values)))

    def armed(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.queue]
