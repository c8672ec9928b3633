"""The emulated environment and its front door: every Web API call passes the bearer token, the
injected faults and the service protection limits here, is counted, then runs, under one lock."""

from __future__ import annotations

import copy
import json
import math
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..clock import EmulatorClock
from . import batch
from .api import Answer, execute
from .auth import Authority, TokenError
from .errors import STATUS_ERRORS, THROTTLED, DataverseError
from .faults import Fault, FaultPlan
from .odata import Preferences, format_instant
from .schema import ALTERNATE_KEY, TABLES, Table
from .store import Store

TENANT_ID = "7f3c5a1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"
CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"
CLIENT_SECRET = "upm~emulator~dataverse~secret"
USER_ID = "a1b2c3d4-0000-4000-8000-00000000a001"


@dataclass(frozen=True)
class EmulatorOptions:
    """How the environment behaves. Service protection: at most `requests_per_window` requests (each
    request inside a `$batch` counts) per `window_seconds`, per app user; None switches it off."""

    token_ttl: int = 3599
    requests_per_window: int | None = 6000
    window_seconds: int = 300
    change_tracking_days: float = 7
    """How long change tracking keeps changes (Dataverse's organization setting, 7 days by default):
    a delta link older than this is refused with ExpiredVersionStamp."""
    seed_file: str | Path | None = None


@dataclass
class Result:
    """An HTTP answer: status, headers, JSON body or raw bytes, a hold-back, and whether to drop it."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw: bytes | None = None
    media_type: str = "application/json; odata.metadata=minimal"
    delay_seconds: float = 0.0
    dropped: bool = False
    reset: bool = False


def _error(exc: DataverseError) -> Result:
    return Result(exc.status, {"OData-Version": "4.0", **exc.headers}, exc.body())


class ServiceProtection:
    """The number-of-requests limit over a sliding window."""

    def __init__(self, limit: int | None, window: int):
        self.limit = limit
        self.window = timedelta(seconds=window)
        self.spent: deque[tuple[datetime, int]] = deque()

    def admit(self, now: datetime, weight: int) -> None:
        while self.spent and self.spent[0][0] <= now - self.window:
            self.spent.popleft()
        if self.limit is None:
            return
        used = sum(w for _, w in self.spent)
        if used + weight > self.limit:
            oldest = self.spent[0][0] if self.spent else now
            wait = max(1, math.ceil((oldest + self.window - now).total_seconds()))
            raise DataverseError(429, THROTTLED, f"Number of requests exceeded the limit of {self.limit} over time "
                                 f"window of {int(self.window.total_seconds())} seconds.", {"Retry-After": str(wait)})
        self.spent.append((now, weight))

    def exhaust(self, now: datetime) -> None:
        """Spend what is left of the window (tests of a long Retry-After)."""
        if self.limit is not None:
            self.spent.append((now, self.limit))


class DynamicsEmulator:
    """One Dataverse environment behind one tenant and app registration. Thread-safe. `admin_*` act
    as a person in the Dynamics 365 UI: no API calls counted, no faults."""

    def __init__(self, options: EmulatorOptions | None = None, clock: EmulatorClock | None = None,
                 resource: str = "https://127.0.0.1") -> None:
        self.options = options or EmulatorOptions()
        self.clock = clock or EmulatorClock()
        self.lock = threading.RLock()
        self.authority = Authority(TENANT_ID, CLIENT_ID, CLIENT_SECRET, resource, self.options.token_ttl)
        self._seed = json.loads(Path(self.options.seed_file).read_text()) if self.options.seed_file else {}
        self._fresh()

    def _fresh(self) -> None:
        retention = timedelta(days=self.options.change_tracking_days)
        self.store = Store(lambda: self.clock.now(), USER_ID, retention)  # looked up each time: tests pin `clock.now`
        self.faults = FaultPlan()
        self.calls: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.limits = ServiceProtection(self.options.requests_per_window, self.options.window_seconds)
        for name, rows in self._seed.items():
            for values in rows:
                self.admin_upsert(name, values)

    # ---- the identity platform

    def token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            try:
                body = self.authority.token(tenant, form, self.clock.now())
            except TokenError as exc:
                return exc.status, exc.body
            return 200, body

    # ---- the Web API

    def api(self, authorization: str | None, method: str, path: str, params: Mapping[str, str],
            headers: Mapping[str, str], raw: bytes, base_url: str) -> Result:
        """Authenticate, apply faults and limits, count, run."""
        with self.lock:
            now = self.clock.now()
            if not self.authority.valid(authorization, now):
                self.rejected["unauthorized"] += 1
                return Result(401, {"WWW-Authenticate": f'Bearer authorization_uri={base_url}/{TENANT_ID}/oauth2/authorize, '
                                    f'resource_id={self.authority.resource}'}, raw=b"")
            fault = self.faults.call_fault(path)
            if fault is not None and fault.type == "http_error":
                self.rejected[f"fault_{fault.status}"] += 1
                code, message = STATUS_ERRORS.get(fault.status, ("0x80040216", "Error"))
                return _error(DataverseError(fault.status, code, fault.message or message, fault.headers))
            if fault is not None and fault.type == "reset":
                self.rejected["fault_reset"] += 1
                return Result(200, reset=True)
            groups = None
            try:
                if path == "$batch" and method == "POST":
                    groups = batch.parse(raw, headers.get("content-type"))
                weight = sum(len(g.parts) for g in groups) if groups is not None else 1
                self.limits.admit(now, weight)
            except DataverseError as exc:
                self.rejected["throttled" if exc.status == 429 else "refused"] += 1
                return _error(exc)
            self.calls["batch" if groups is not None else _category(method, path, params)] += 1
            if groups is not None:
                result = self._batch(groups, headers, base_url)
            else:
                try:
                    answer = execute(self.store, base_url, method, path, params, headers, raw, self._check)
                    result = Result(answer.status, {"OData-Version": "4.0", **answer.headers}, answer.body,
                                    raw=None if answer.body is not None else b"")
                except DataverseError as exc:
                    result = _error(exc)
            result.dropped = fault is not None and fault.type == "drop"
            result.delay_seconds = fault.delay_seconds if fault is not None else 0.0
            return result

    def _check(self, table: Table, record_id: str | None, values: Mapping[str, Any]) -> None:
        keys = {str(k).lower() for k in (record_id, values.get(ALTERNATE_KEY)) if k}
        fault = self.faults.record_fault(keys)
        if fault is not None:
            code, message = (fault.code, fault.message or "The record failed a business rule.")
            raise DataverseError(fault.status, code, message)

    def _batch(self, groups: list[batch.Group], headers: Mapping[str, str], base_url: str) -> Result:
        go_on = Preferences.parse(headers.get("prefer")).continue_on_error
        answers: list[list[batch.PartAnswer] | batch.PartAnswer] = []
        for group in groups:
            saved = copy.deepcopy((self.store.tables, self.store.audits, self.store.version)) if group.change_set else None
            results = [self._part(part, base_url) for part in group.parts] if not group.change_set else []
            if group.change_set:
                for part in group.parts:
                    results.append(self._part(part, base_url))
                    if results[-1].status >= 400:
                        assert saved is not None
                        self.store.tables, self.store.audits, self.store.version = saved
                        results = [results[-1]]
                        break
                answers.append(results if results[-1].status < 400 else results[-1])
            else:
                answers.append(results[0])
            if results[-1].status >= 400 and not go_on:
                break
        content_type, body = batch.render(answers)
        return Result(200, {"OData-Version": "4.0"}, raw=body, media_type=content_type)

    def _part(self, part: batch.Part, base_url: str) -> batch.PartAnswer:
        fault = self.faults.queue.take(lambda f: f.type == "http_error" and f.path_contains is not None
                                       and f.path_contains in part.path)
        if fault is not None:
            code, message = STATUS_ERRORS.get(fault.status, ("0x80040216", "Error"))
            return batch.PartAnswer(fault.status, dict(fault.headers), DataverseError(fault.status, code, message).body(),
                                    part.content_id)
        try:
            answer: Answer = execute(self.store, base_url, part.method, part.path, part.params, part.headers, part.body,
                                     self._check)
        except DataverseError as exc:
            return batch.PartAnswer(exc.status, dict(exc.headers), exc.body(), part.content_id)
        return batch.PartAnswer(answer.status, answer.headers, answer.body, part.content_id)

    # ---- a person in the UI, and inspection

    def table(self, name: str) -> Table:
        table = TABLES.get(name) or next((t for t in TABLES.values() if t.entity_set == name), None)
        if table is None:
            raise KeyError(f"no table {name!r} (tables: {', '.join(TABLES)})")
        return table

    def admin_upsert(self, name: str, values: Mapping[str, Any], id: str | None = None) -> str:
        """Create (id None: matched by upm_id when given) or edit a record; returns its id."""
        with self.lock:
            table = self.table(name)
            body = {k: v for k, v in values.items() if k != table.primary_id}
            record_id = id or values.get(table.primary_id)
            if record_id:
                self.store.update(table.logical_name, str(record_id), body)
                return str(record_id).lower()
            key = body.get(ALTERNATE_KEY)
            if key:
                return self.store.upsert(table.logical_name, str(key), body)[0]
            return self.store.create(table.logical_name, body)

    def admin_delete(self, name: str, record_id: str) -> None:
        with self.lock:
            self.store.delete(self.table(name).logical_name, record_id)

    def records(self, name: str) -> list[dict[str, Any]]:
        """Copies of the live records, in creation order, date-times as the API writes them."""
        with self.lock:
            rows = self.store.rows(self.table(name).logical_name).rows.values()
            return [{k: format_instant(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]

    def advance_clock(self, seconds: float) -> str:
        return format_instant(self.clock.advance(seconds))

    def reset(self) -> None:
        """Seed records only, no tokens issued, no faults, counters and clock at zero."""
        with self.lock:
            self.clock.reset()
            self.authority.reset()
            self._fresh()

    def add_fault(self, spec: Any) -> None:
        fault = Fault.parse(spec)
        with self.lock:
            self.faults.queue.add(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.queue.clear()

    def exhaust_limits(self) -> None:
        with self.lock:
            self.limits.exhaust(self.clock.now())

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": format_instant(self.clock.now()),
                "api_calls": {"total": sum(self.calls.values()), "by_category": dict(sorted(self.calls.items()))},
                "rejected": dict(sorted((k, v) for k, v in self.rejected.items() if v)),
                "tokens_issued": self.authority.issued,
                "records": {name: len(self.store.rows(name).rows) for name in TABLES},
                "faults": {"armed": self.faults.armed(), "fired": self.faults.queue.fired},
            }

    def credentials(self, base_url: str) -> dict[str, Any]:
        """What a connection needs: the environment URL, the tenant's token endpoint, the app, and a
        refresh token for the shared OAuth flow."""
        return {"instance_url": base_url, "tenant_id": TENANT_ID, "authority": f"{base_url}/{TENANT_ID}",
                "token_url": f"{base_url}/{TENANT_ID}/oauth2/v2.0/token", "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "refresh_token": self.authority.initial_refresh_token,
                "resource": self.authority.resource}

    # ---- control endpoints (crm_emulators.core.control)

    def control_reset(self, options: Mapping[str, Any]) -> dict[str, Any]:
        self.reset()
        return self.stats()

    def control_armed(self) -> dict[str, Any]:
        with self.lock:
            return {"faults": self.faults.armed()}

    def control_faults(self, payload: Any) -> tuple[int, dict[str, Any]]:
        specs = payload.get("faults", [payload]) if isinstance(payload, dict) else payload
        if not isinstance(specs, list):
            raise ValueError("send a fault, {\"faults\": [...]}, or a list of faults")
        for spec in specs:
            self.add_fault(spec)
        return 201, self.control_armed()


def _category(method: str, path: str, params: Mapping[str, str]) -> str:
    if path.startswith("EntityDefinitions"):
        return "metadata"
    if method == "GET":
        if path == "audits":
            return "audit"
        return "delta" if "$deltatoken" in params else "query"
    return {"POST": "create", "PATCH": "upsert", "DELETE": "delete"}.get(method, method.lower())
