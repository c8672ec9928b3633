"""The emulated Salesforce org: all its state behind one lock, the save pipeline API calls share, and the
direct Python API tests use to play "a CRM admin editing in the UI"."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import EmulatorClock
from .auth import OAuthServer
from .bulk2 import Bulk2Jobs
from .cursors import CursorStore
from .errors import ApiError, RecordError
from .faults import FaultPlan, RequestFault
from .ids import IdFactory, normalize_id
from .limits import ApiUsage
from .restapi import RestRequest, RestResponse, Route, Router
from .routes import ROUTES
from .schema import ObjectDef, build_schema
from .state import RecordStore, record_id_of
from .timefmt import format_datetime

DEFAULT_CLIENT_ID = "3MVG9UPMConnectorEmulatorConsumerKey"
DEFAULT_CLIENT_SECRET = "UPMEmulatorConsumerSecret"


@dataclass
class EmulatorOptions:
    """How the emulated org behaves.

    `extra_fields` adds custom fields: `{"Lead": [{"name": "Score__c", "type": "double"}, ...]}` (see
    schema.extra_field). `seed_file` is JSON `{"Lead": [{field: value, ...}, ...], ...}` loaded at start and on
    reset. `refresh_token` None mints a random one.
    """

    token_ttl: int = 7200
    daily_api_limit: int = 100_000
    rotate_refresh_tokens: bool = False
    seed_file: str | Path | None = None
    extra_fields: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    refresh_token: str | None = None
    delete_log_days: int = 15


class SalesforceEmulator:
    """A stateful, in-memory Salesforce org. Thread-safe: every entry point takes `lock`."""

    def __init__(
        self, options: EmulatorOptions | None = None, clock: EmulatorClock | None = None, instance_url: str = ""
    ) -> None:
        self.options = options or EmulatorOptions()
        self.clock = clock or EmulatorClock()
        self.instance_url = instance_url or "https://127.0.0.1"
        self.lock = threading.RLock()
        self.schema = build_schema(self.options.extra_fields)
        self.ids = IdFactory()
        self.org_id = self.ids.new("00D")
        self.admin_user_id = self.ids.new("005")
        self.integration_user_id = self.ids.new("005")
        self.oauth = OAuthServer(
            self.clock.now,
            self.org_id,
            self.options.client_id,
            self.options.client_secret,
            self.options.token_ttl,
            self.options.rotate_refresh_tokens,
        )
        self.refresh_token = self.oauth.add_refresh_token(self.integration_user_id, self.options.refresh_token)
        self.usage = ApiUsage(self.clock.now, self.options.daily_api_limit)
        self.faults = FaultPlan()
        self.router = Router(ROUTES)
        self.other_requests: Counter[str] = Counter()
        self.store = RecordStore(self.schema, self.ids, self.clock.now, self.options.delete_log_days)
        self.cursors = CursorStore(self.ids, self.clock.now)
        self.bulk = Bulk2Jobs()
        self._load_initial_records()

    # ---- the HTTP gateway's steps -----------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> str:
        """The user behind a bearer token; raises 401 INVALID_SESSION_ID."""
        with self.lock:
            try:
                return self.oauth.authenticate(authorization)
            except ApiError:
                self.other_requests["rejected_invalid_session"] += 1
                raise

    def take_request_fault(self, category: str) -> RequestFault | None:
        """The scheduled request fault this call suffers, if any (consumed)."""
        with self.lock:
            fault = self.faults.next_request_fault(category)
            if fault is not None:
                self.other_requests[f"fault_{fault.kind}"] += 1
            return fault

    def call(self, route: Route, match: Any, request: RestRequest) -> RestResponse:
        """Count the call against the daily allocation, run it, and add `Sforce-Limit-Info`."""
        with self.lock:
            try:
                self.usage.charge(route.category)
            except ApiError:
                self.other_requests["rejected_request_limit_exceeded"] += 1
                raise
            try:
                response = route.handler(self, request, match)
            except ApiError as exc:
                exc.headers.setdefault("Sforce-Limit-Info", self.usage.header_value())
                raise
            response.headers["Sforce-Limit-Info"] = self.usage.header_value()
            return response

    # ---- the save pipeline of API writes (REST, collections, composite, Bulk 2.0) ------------------------------

    def _check_save(self, definition: ObjectDef, record_id: str | None, record: Mapping[str, Any]) -> None:
        keys = [record.get(f.name) for f in definition.external_id_fields]
        error = self.faults.record_error(definition.name, record_id, keys, saving=True)
        if error:
            raise error

    def _check_delete(self, definition: ObjectDef, record_id: str | None, record: Mapping[str, Any]) -> None:
        keys = [record.get(f.name) for f in definition.external_id_fields]
        error = self.faults.record_error(definition.name, record_id, keys, saving=False)
        if error:
            raise error

    def api_create(self, object_name: str, values: Mapping[str, Any], user_id: str) -> str:
        """Create through the API (faults apply); raises RecordError."""
        return self.store.create(object_name, values, user_id, self._check_save)

    def api_update(self, object_name: str, record_id: str, values: Mapping[str, Any], user_id: str) -> None:
        """Update through the API (faults apply); raises RecordError."""
        self.store.update(object_name, record_id, values, user_id, self._check_save)

    def api_delete(self, object_name: str, record_id: str, user_id: str) -> None:
        """Delete through the API (lock faults apply); raises RecordError."""
        self.store.delete(object_name, record_id, user_id, self._check_delete)

    def api_upsert(
        self, object_name: str, field_name: str, value: Any, values: Mapping[str, Any], user_id: str
    ) -> tuple[str, bool]:
        """Upsert by an external id field (or Id): (id, created). Raises RecordError, DUPLICATE_EXTERNAL_ID
        included when several records match."""
        definition = self.schema.objects[object_name]
        field = definition.field(field_name)
        assert field is not None
        body = {name: v for name, v in values.items() if name.lower() != field.name.lower()}
        if field.type == "id":
            if value in (None, ""):
                return self.api_create(object_name, body, user_id), True
            record_id = normalize_id(value)
            if record_id is None or self.store.get(object_name, record_id) is None:
                raise RecordError("MALFORMED_ID", f"{definition.name} ID: id value of incorrect type: {value}", ["Id"])
            self.api_update(object_name, record_id, body, user_id)
            return record_id, False
        if value in (None, ""):
            raise RecordError("MISSING_ARGUMENT", f"{field.name} not specified")
        matches = self.store.match_external(object_name, field.name, value)
        if len(matches) > 1:
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID",
                f"{field.name}: more than one record found for external id field: [{', '.join(matches)}]",
                [field.name],
            )
        if matches:
            self.api_update(object_name, matches[0], body, user_id)
            return matches[0], False
        return self.api_create(object_name, {**body, field.name: value}, user_id), True

    # ---- direct API: a CRM admin at work, and inspection ------------------------------------------------------

    def sobject(self, object_name: str) -> ObjectDef:
        """The sObject type `object_name` (any letter case); KeyError when unknown."""
        definition = self.schema.get(object_name)
        if definition is None:
            raise KeyError(f"no sObject type {object_name!r}")
        return definition

    def admin_upsert(self, object_name: str, fields: Mapping[str, Any]) -> str:
        """Create or change a record as an admin in the UI would: no API usage, no faults, LastModifiedById is
        the admin user. Matches by `Id`, else by any unique external id value given, else creates.
        Returns the id; raises RecordError for values Salesforce would refuse, KeyError for an unknown object
        or Id.
        """
        with self.lock:
            definition = self.sobject(object_name)
            record_id, raw_id = record_id_of(fields)
            body = {name: value for name, value in fields.items() if name.lower() != "id"}
            if raw_id is not None:
                if record_id is None or self.store.get(definition.name, record_id) is None:
                    raise KeyError(f"no {definition.name} with Id {raw_id!r}")
                self.store.update(definition.name, record_id, body, self.admin_user_id)
                return record_id
            lowered = {name.lower(): value for name, value in body.items()}
            for field in definition.external_id_fields:
                value = lowered.get(field.name.lower())
                if field.unique and value not in (None, ""):
                    matches = self.store.match_external(definition.name, field.name, value)
                    if matches:
                        self.store.update(definition.name, matches[0], body, self.admin_user_id)
                        return matches[0]
            return self.store.create(definition.name, body, self.admin_user_id)

    def admin_delete(self, object_name: str, record_id: str) -> None:
        """Delete a record as an admin would (recycle bin + delete log); raises RecordError."""
        with self.lock:
            definition = self.sobject(object_name)
            self.store.delete(definition.name, normalize_id(record_id) or record_id, self.admin_user_id)

    def records(self, object_name: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Copies of the records of `object_name`, in creation order."""
        with self.lock:
            definition = self.sobject(object_name)
            return [dict(record) for record in self.store.all(definition.name, include_deleted)]

    def record(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """A copy of one record (deleted ones too), or None."""
        with self.lock:
            definition = self.sobject(object_name)
            record = self.store.get(definition.name, normalize_id(record_id) or record_id)
            return dict(record) if record is not None else None

    def seed(self, data: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[str]]:
        """admin_upsert every record of `{"Lead": [{...}, ...], ...}`; returns the ids per object."""
        return {name: [self.admin_upsert(name, fields) for fields in rows] for name, rows in data.items()}

    def purge_delete_log(self, object_name: str | None = None) -> None:
        """Empty the recycle bin and delete log now (one object or all): getDeleted's earliestDateAvailable
        moves to now."""
        with self.lock:
            names = [self.sobject(object_name).name] if object_name else list(self.schema.objects)
            now = self.clock.now()
            for name in names:
                self.store.purge_delete_log(name, now)

    def issue_access_token(self) -> str:
        """A fresh access token for the integration user (tests that skip the token endpoint)."""
        with self.lock:
            return self.oauth.issue_access_token(self.integration_user_id)

    def advance_clock(self, seconds: float) -> str:
        """Move the emulator clock forward; returns the new time as Salesforce writes it."""
        return format_datetime(self.clock.advance(seconds))

    def reset(self, keep_tokens: bool = True) -> None:
        """Back to the initial state: records (users + seed file), usage, cursors, bulk jobs, faults, clock.

        With keep_tokens, issued access and refresh tokens stay valid; without, every token is forgotten
        except the initial refresh token, so the credentials file works again.
        """
        with self.lock:
            self.clock.reset()
            self.usage.reset()
            self.faults.clear()
            self.other_requests.clear()
            self.cursors.clear()
            self.bulk.clear()
            if not keep_tokens:
                self.oauth.forget_all()
                self.oauth.add_refresh_token(self.integration_user_id, self.refresh_token)
            self.store = RecordStore(self.schema, self.ids, self.clock.now, self.options.delete_log_days)
            self._load_initial_records()

    def control_reset(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /__emulator/reset` (`keep_tokens`, default true): answers the stats."""
        self.reset(keep_tokens=bool(options.get("keep_tokens", True)))
        return self.stats()

    def control_armed(self) -> list[dict[str, Any]]:
        """`GET /__emulator/faults`."""
        with self.lock:
            return self.faults.describe()

    def control_faults(self, payload: Any) -> tuple[int, dict[str, Any]]:
        """`POST /__emulator/faults`: one fault (faults.py); 201 with its description."""
        if not isinstance(payload, dict):
            raise ValueError("The request body must be a JSON object")
        with self.lock:
            return 201, self.faults.add(payload)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def stats(self) -> dict[str, Any]:
        """API calls (total, by category), daily usage, other requests, records per object, pending faults."""
        with self.lock:
            counts = self.store.counts()
            return {
                "now": format_datetime(self.clock.now()),
                "api_calls": {
                    "total": sum(self.usage.by_category.values()),
                    "by_category": dict(sorted(self.usage.by_category.items())),
                },
                "api_usage": {"used": self.usage.used(), "limit": self.usage.daily_limit},
                "other_requests": dict(sorted(self.other_requests.items())),
                "records": {name: count["live"] for name, count in counts.items()},
                "deleted_records": {name: count["deleted"] for name, count in counts.items()},
                "bulk_jobs": self.bulk.count(),
                "faults": self.faults.describe(),
            }

    def _load_initial_records(self) -> None:
        admin, integration = self.admin_user_id, self.integration_user_id
        for user_id, first, alias in ((admin, "Admin", "admin"), (integration, "Integration", "integ")):
            self.store.create(
                "User",
                {
                    "FirstName": first,
                    "LastName": "User",
                    "Alias": alias,
                    "Username": f"{alias}@upm-emulator.example.com",
                    "Email": f"{alias}@upm-emulator.example.com",
                },
                admin,
                record_id=user_id,
            )
        if self.options.seed_file:
            self.seed(json.loads(Path(self.options.seed_file).read_text(encoding="utf-8")))
