"""The emulator's state and its front door: every API call passes auth, faults and rate limits here, under one lock."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..clock import EmulatorClock
from .associations import AssociationStore
from .auth import TokenAuthority
from .crm import CrmApi, conflict_message
from .errors import HubSpotError, error_body
from .faults import STATUS_ERRORS, Fault, FaultPlan
from .rate_limits import PortalRateLimiter
from . import schema
from .schema import CUSTOM_GROUP, OBJECT_TYPES, PropertyDefinition, epoch_ms, iso_ms
from .state import FIRST_ID_SPACING, ObjectStore, Portal

PORTAL_ID_BASE = 48_000_000

Operation = Callable[[CrmApi], tuple[int, Any]]


@dataclass(frozen=True)
class EmulatorOptions:
    """How the emulated HubSpot behaves. A limit of None switches that limit off. Search sees a write
    only `search_lag_seconds` after it, as real HubSpot's index lags a few seconds behind writes."""

    portals: int = 1
    token_ttl: int = 1800
    ten_second_limit: int | None = 110
    daily_limit: int | None = 500_000
    search_per_second: int | None = 5
    seed_file: str | Path | None = None
    invalidate_rotated_refresh_tokens: bool = False
    search_lag_seconds: float = 2.0


@dataclass
class CallResult:
    """An HTTP answer: status, JSON body (None for 204), headers, how long to hold it back, and whether
    to drop it on the way (the call was carried out all the same)."""

    status: int
    body: Any
    headers: dict[str, str]
    delay_seconds: float = 0.0
    dropped: bool = False


class HubSpotEmulator:
    """Several in-memory HubSpot portals behind one OAuth app, with limits, faults and call statistics.

    Thread-safe: every call runs under one lock. `admin_*` methods act like a person in HubSpot's UI:
    they change records without counting as API calls.
    """

    def __init__(self, options: EmulatorOptions | None = None, clock: EmulatorClock | None = None) -> None:
        self.options = options or EmulatorOptions()
        if self.options.portals < 1:
            raise ValueError("an emulator needs at least one portal")
        self.clock = clock or EmulatorClock()
        self._lock = threading.RLock()
        self._seed = json.loads(Path(self.options.seed_file).read_text()) if self.options.seed_file else {}
        portal_ids = [PORTAL_ID_BASE + i + 1 for i in range(self.options.portals)]
        self.auth = TokenAuthority(portal_ids, self.options.token_ttl, self.options.invalidate_rotated_refresh_tokens)
        self.faults = FaultPlan()
        self.portals: list[Portal] = []
        self._build_portals()

    # ---- time

    def now_ms(self) -> int:
        return epoch_ms(self.clock.now())

    def advance_clock(self, seconds: float) -> str:
        """Move emulator time forward (token expiry, rate-limit windows, modified dates)."""
        return iso_ms(epoch_ms(self.clock.advance(seconds)))

    # ---- the API front door

    def call(self, authorization: str | None, category: str, operation: Operation, *, method: str, path: str,
             search: bool = False) -> CallResult:
        """Authenticate, apply faults and limits, count, then run one CRM operation."""
        with self._lock:
            now = self.now_ms()
            try:
                portal = self.portals[self.auth.portal_for(authorization, now)]
            except HubSpotError as exc:
                return CallResult(exc.status, exc.body, {})
            fault = self.faults.take_call_fault(portal.index, method, path)
            if fault is not None and fault.type == "http_error":
                portal.rejected[f"fault_{fault.status}"] += 1
                return _gateway_error(fault)
            if fault is not None and fault.type == "reset":
                portal.rejected["fault_reset"] += 1
                return CallResult(200, None, {}, dropped=True)
            try:
                portal.limiter.admit(now, search)
            except HubSpotError as exc:
                portal.rejected[str(exc.body.get("policyName", "SECONDLY"))] += 1
                return CallResult(exc.status, exc.body, exc.headers)
            portal.calls[category] += 1
            headers = {} if search else portal.limiter.headers(now)
            api = CrmApi(portal, now, self.faults, int(self.options.search_lag_seconds * 1000))
            try:
                status, body = operation(api)
            except HubSpotError as exc:
                status, body = exc.status, exc.body
            dropped = fault is not None and fault.type == "drop"
            return CallResult(status, body, headers, fault.delay_seconds if fault is not None else 0.0, dropped)

    def token(self, form: dict[str, str]) -> CallResult:
        """`POST /oauth/v1/token`."""
        with self._lock:
            fault = self.faults.take_call_fault(-1, "POST", "/oauth/v1/token")
            if fault is not None and fault.type == "http_error":
                return _gateway_error(fault)
            try:
                portal, body = self.auth.exchange(form, self.now_ms())
            except HubSpotError as exc:
                return CallResult(exc.status, exc.body, {})
            self.portals[portal].calls["token"] += 1
            return CallResult(200, body, {}, fault.delay_seconds if fault is not None else 0.0)

    def authorize(self, params: dict[str, str]) -> str:
        """Where `GET /oauth/authorize` redirects (raises HubSpotError for a bad client or redirect)."""
        with self._lock:
            return self.auth.authorize(params)

    def access_token_info(self, token: str) -> CallResult:
        with self._lock:
            try:
                return CallResult(200, self.auth.access_token_info(token, self.now_ms()), {})
            except HubSpotError as exc:
                return CallResult(exc.status, exc.body, {})

    # ---- control

    def stats(self) -> dict[str, Any]:
        """Per-portal call counts by category, refusals, rate-limit usage and record counts."""
        with self._lock:
            now = self.now_ms()
            return {
                "now": iso_ms(now),
                "portals": [{**p.stats(), "rate_limit_usage": p.limiter.usage(now)} for p in self.portals],
                "faults": {"armed": self.faults.armed(), "fired": self.faults.fired},
            }

    def reset(self) -> None:
        """Back to the starting state: seed data only, no issued tokens, no faults, counters and clock at zero."""
        with self._lock:
            self.clock.reset()
            self.faults = FaultPlan()
            self.auth.reset()
            self._build_portals()

    def add_fault(self, spec: dict[str, Any]) -> None:
        """Arm a fault (see `faults.py` for the JSON form); ValueError when the spec is invalid."""
        fault = Fault.parse(spec)
        if fault.portal is not None and not 0 <= fault.portal < len(self.portals):
            raise ValueError(f"no portal with index {fault.portal}")
        with self._lock:
            self.faults.add(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def control_reset(self, options: dict[str, Any]) -> dict[str, Any]:
        """`POST /__emulator/reset` (takes no options)."""
        self.reset()
        return {"reset": True}

    def control_armed(self) -> dict[str, Any]:
        """`GET /__emulator/faults`."""
        return {"faults": self.armed_faults()}

    def control_faults(self, payload: Any) -> tuple[int, dict[str, Any]]:
        """`POST /__emulator/faults`: one fault, `{"faults": [...]}`, or a list of faults."""
        specs = payload.get("faults", [payload]) if isinstance(payload, dict) else payload
        try:
            for spec in specs:
                self.add_fault(spec)
        except HubSpotError as exc:
            raise ValueError(str(exc)) from None
        return 200, self.control_armed()

    def armed_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.faults.armed()

    def credentials(self, base_url: str) -> dict[str, Any]:
        """What a connector needs to reach each portal: URLs, OAuth app, initial refresh token, private-app token."""
        app = self.auth.app
        portals = [
            {
                "base_url": base_url,
                "token_url": f"{base_url}/oauth/v1/token",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "refresh_token": self.auth.initial_refresh_tokens[p.index],
                "portal_id": p.portal_id,
                "private_app_token": self.auth.private_app_tokens[p.index],
            }
            for p in self.portals
        ]
        return {
            **{k: portals[0][k] for k in ("base_url", "token_url", "client_id", "client_secret", "refresh_token")},
            "redirect_uri": app.redirect_uri,
            "authorize_url": f"{base_url}/oauth/authorize",
            "portals": portals,
        }

    # ---- a person in HubSpot's UI (no API calls counted)

    def admin_upsert(self, portal_index: int, object_type: str, properties: dict[str, Any], id: str | int | None = None,
                     at_ms: int | None = None) -> str:
        """Create a record (id None) or edit one, bumping its modified date (to `at_ms`, default now);
        returns the record id."""
        with self._lock:
            store = self._store(portal_index, object_type)
            values, problems = store.check(properties)
            if problems:
                raise ValueError("; ".join(f"{p.name}: {p.message}" for p in problems))
            record = None if id is None else store.get(str(id))
            if id is not None and record is None:
                raise KeyError(f"no active {store.kind.singular} with id {id}")
            conflict = store.conflict(values, record.id if record else None)
            if conflict is not None:
                raise ValueError(conflict_message(store.kind, conflict))
            stamp = self.now_ms() if at_ms is None else at_ms
            if record is None:
                record = store.create(values, stamp)
            else:
                store.update(record, values, stamp)
            return str(record.id)

    def add_owner(self, portal_index: int, email: str, first_name: str = "", last_name: str = "") -> str:
        """Add a user to a portal (a HubSpot owner, as `/crm/v3/owners` lists it); returns the owner id."""
        with self._lock:
            self._store(portal_index, "contacts")  # checks the index
            portal = self.portals[portal_index]
            owner_id = str(portal.portal_id * 1000 + len(portal.owners) + 1)
            stamp = iso_ms(self.now_ms())
            portal.owners.append({"id": owner_id, "email": email, "firstName": first_name, "lastName": last_name,
                                  "userId": int(owner_id) + 7_000_000, "createdAt": stamp, "updatedAt": stamp,
                                  "archived": False, "teams": []})
            return owner_id

    def admin_archive(self, portal_index: int, object_type: str, id: str | int) -> None:
        """Archive a record as a user deleting it would (its modified date does not move)."""
        with self._lock:
            store = self._store(portal_index, object_type)
            record = store.get(str(id))
            if record is None:
                raise KeyError(f"no active {store.kind.singular} with id {id}")
            store.archive(record, self.now_ms())

    def records(self, portal_index: int, object_type: str) -> list[dict[str, Any]]:
        """Every record of a type, archived ones included, as the API would show them with all properties."""
        with self._lock:
            store = self._store(portal_index, object_type)
            api = CrmApi(self.portals[portal_index], self.now_ms(), self.faults, 0)
            return [api.record_json(store.kind, store.records[i], None) for i in sorted(store.records)]

    # ---- internals

    def _store(self, portal_index: int, object_type: str) -> ObjectStore:
        if not 0 <= portal_index < len(self.portals):
            raise KeyError(f"no portal with index {portal_index}")
        return self.portals[portal_index].store(schema.object_type(object_type))

    def _build_portals(self) -> None:
        now = self.now_ms()
        app_id = self.auth.app.app_id
        self.portals = []
        for index, portal_id in enumerate(self.auth.portal_ids):
            stores = {
                name: ObjectStore(kind, FIRST_ID_SPACING * (position + 1) + 1, now)
                for position, (name, kind) in enumerate(OBJECT_TYPES.items())
            }
            limiter = PortalRateLimiter(
                self.options.ten_second_limit,
                self.options.daily_limit,
                self.options.search_per_second,
                f"publicapi:oauth-app-api-calls-ten-secondly:{app_id}:{portal_id}",
            )
            self.portals.append(Portal(index, portal_id, stores, AssociationStore(), limiter))
        for index, seed in enumerate(self._seed.get("portals", [])[: len(self.portals)]):
            self._apply_seed(index, seed)

    def _apply_seed(self, index: int, seed: dict[str, Any]) -> None:
        """The seed is the portal's data from before the emulator started: stamped far enough back
        that search has indexed it (only later writes wait out the search lag)."""
        now = self.now_ms()
        seeded_at = now - int(self.options.search_lag_seconds * 1000) - 1
        for name, definitions in seed.get("properties", {}).items():
            store = self._store(index, name)
            for body in definitions:
                store.add_definition(PropertyDefinition.from_request(
                    {"label": body.get("name"), "type": "string", "fieldType": "text", "groupName": CUSTOM_GROUP, **body}, now
                ))
        for name, rows in seed.get("records", {}).items():
            for properties in rows:
                self.admin_upsert(index, name, properties, at_ms=seeded_at)


def _gateway_error(fault: Fault) -> CallResult:
    message, extra = STATUS_ERRORS.get(fault.status, ("Error", {}))
    category = extra.get("category")
    body = error_body(fault.message or message, category, **{k: v for k, v in extra.items() if k != "category"})
    return CallResult(fault.status, body, dict(fault.headers))
