"""One Web API request against the store: what `/api/data/v9.2/...` answers directly and inside
`$batch`. Paths: `{set}`, `{set}({guid})`, `{set}(upm_id='key')`, `EntityDefinitions(LogicalName='x')`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DataverseError, bad_request, not_found
from .odata import Preferences
from .reads import API, read, render
from .schema import ALTERNATE_KEY, TABLES, Table, table_for_set
from .store import Check, Store

_PATH = re.compile(r"^(?P<set>[A-Za-z_]+)(?:\((?P<key>[^)]*)\))?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ALTERNATE = re.compile(rf"^{ALTERNATE_KEY}='(?P<value>(?:[^']|'')*)'$")
_DEFINITION = re.compile(r"^EntityDefinitions\(LogicalName='(?P<name>\w+)'\)$")


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise bad_request(f"Error parsing the request body: {exc.msg}", "0x80040216") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "0x80040216")
    return body


def _target(path: str) -> tuple[str, Table | None, str | None, str | None]:
    """(entity set, table, record id, alternate key value) of a path under /api/data/v9.2/."""
    match = _PATH.match(path)
    if match is None:
        raise bad_request(f"Resource not found for the segment '{path}'.")
    entity_set, key = match.group("set"), match.group("key")
    table = table_for_set(entity_set)
    if key is None:
        return entity_set, table, None, None
    if table is None:
        raise bad_request(f"Resource not found for the segment '{entity_set}'.")
    if _GUID.match(key):
        return entity_set, table, key.lower(), None
    alternate = _ALTERNATE.match(key)
    if alternate is None:
        raise bad_request(f"The key '{key}' is not an alternate key of {table.logical_name} (its key is {ALTERNATE_KEY}).",
                          "0x80060891")
    return entity_set, table, None, alternate.group("value").replace("''", "'")


def _entity_id(base_url: str, table: Table, record_id: str) -> dict[str, str]:
    return {"OData-EntityId": f"{base_url}{API}/{table.entity_set}({record_id})"}


def execute(store: Store, base_url: str, method: str, path: str, params: Mapping[str, str],
            headers: Mapping[str, str], raw: bytes, check: Check) -> Answer:
    """Carry out one request; DataverseError for an error answer."""
    prefs = Preferences.parse(headers.get("prefer"))
    definition = _DEFINITION.match(path)
    if definition is not None and method == "GET":
        return Answer(200, describe(base_url, definition.group("name")))
    entity_set, table, record_id, key = _target(path)
    if method == "GET" and record_id is None and key is None:
        return Answer(200, read(store, base_url, entity_set, params, prefs), {"Preference-Applied": prefs.applied()})
    if table is None:
        raise bad_request(f"Resource not found for the segment '{entity_set}'.")
    if method == "GET":
        row = store.find(table.logical_name, record_id) if record_id else _by_key(store, table, key)
        if row is None:
            raise not_found(table.logical_name, record_id or str(key))
        select = [s for s in params.get("$select", "").split(",") if s] or None
        return Answer(200, render(row, select, table.primary_id))
    if method == "POST" and record_id is None and key is None:
        new_id = store.create(table.logical_name, _json_body(raw), check)
        return _written(store, base_url, table, new_id, prefs, True, params)
    if method == "PATCH":
        body = _json_body(raw)
        if key is not None:
            if "if-match" in headers:
                existing = _by_key(store, table, key)
                if existing is None:
                    raise not_found(table.logical_name, key)
                store.update(table.logical_name, existing[table.primary_id], body, check)
                return _written(store, base_url, table, existing[table.primary_id], prefs, False, params)
            upserted, created = store.upsert(table.logical_name, key, body, check)
            return _written(store, base_url, table, upserted, prefs, created, params)
        assert record_id is not None
        if store.find(table.logical_name, record_id) is None:
            if "if-match" in headers:
                raise not_found(table.logical_name, record_id)
            store.create(table.logical_name, body, check, record_id=record_id)
            return _written(store, base_url, table, record_id, prefs, True, params)
        store.update(table.logical_name, record_id, body, check)
        return _written(store, base_url, table, record_id, prefs, False, params)
    if method == "DELETE":
        row = store.find(table.logical_name, record_id) if record_id else _by_key(store, table, key)
        if row is None:
            raise not_found(table.logical_name, record_id or str(key))
        store.delete(table.logical_name, row[table.primary_id], check)
        return Answer(204)
    raise DataverseError(405, "0x80060888", f"The HTTP method '{method}' is not allowed on '{path}'.")


def _by_key(store: Store, table: Table, key: str | None) -> dict[str, Any] | None:
    record_id = store.rows(table.logical_name).by_key.get(str(key))
    return store.find(table.logical_name, record_id) if record_id else None


def _written(store: Store, base_url: str, table: Table, record_id: str, prefs: Preferences, created: bool,
             params: Mapping[str, str]) -> Answer:
    headers = _entity_id(base_url, table, record_id)
    if prefs.return_representation:
        row = store.find(table.logical_name, record_id)
        assert row is not None
        select = [s for s in params.get("$select", "").split(",") if s] or None
        return Answer(201 if created else 200, render(row, select, table.primary_id), headers)
    return Answer(204, None, headers)


def describe(base_url: str, logical_name: str) -> dict[str, Any]:
    """`EntityDefinitions(LogicalName='x')?$expand=Attributes,Keys`, the parts the adapter reads."""
    table = TABLES.get(logical_name)
    if table is None:
        raise DataverseError(404, "0x80040217", f"Could not find an entity with name {logical_name}.")
    writable = set(table.columns)
    attributes = [
        {"LogicalName": name, "AttributeType": kind, "IsValidForUpdate": name in writable or name in table.lookups,
         "IsValidForCreate": name in writable or name in table.lookups,
         "RequiredLevel": {"Value": "ApplicationRequired" if name in table.required else "None"},
         "DisplayName": {"UserLocalizedLabel": {"Label": name}}}
        for name, kind in table.attribute_types().items()
    ]
    return {
        "@odata.context": f"{base_url}{API}/$metadata#EntityDefinitions(Attributes(),Keys())/$entity",
        "LogicalName": table.logical_name, "EntitySetName": table.entity_set,
        "PrimaryIdAttribute": table.primary_id, "ChangeTrackingEnabled": True,
        "Attributes": attributes,
        "Keys": [{"LogicalName": "upm_key", "KeyAttributes": [ALTERNATE_KEY], "EntityKeyIndexStatus": "Active"}],
    }
