"""The environment's rows: per table the live records, the alternate-key index, and one version
counter for all (each write takes the next, as SQL rowversion does); deletes are kept as change
tracking's removed entities and as audit rows (`audits`, action 3). Change tracking keeps its
changes for `retention` (the organization's setting): older delta tokens are refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .cursors import Cursors
from .errors import BAD_PROPERTY, DUPLICATE_KEY, DataverseError, bad_request, not_found
from .odata import parse_instant
from .schema import ALTERNATE_KEY, TABLES, Table

AUDIT_COLUMNS = {"auditid", "action", "objecttypecode", "_objectid_value", "createdon", "versionnumber"}
DELETE_ACTION = 3
Check = Callable[[Table, str | None, Mapping[str, Any]], None]
"""Called before a write (table, record id or None, values written); raises to refuse it."""


@dataclass
class TableRows:
    table: Table
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    removed: list[tuple[int, str]] = field(default_factory=list)
    """(version, id) of each delete, in order."""


class Store:
    """Every table's rows; the owner holds the emulator's lock around each call."""

    def __init__(self, now: Callable[[], datetime], user_id: str, retention: timedelta = timedelta(days=7)):
        self._clock = now
        self.user_id = user_id
        self.retention = retention
        self.cursors = Cursors()
        self.version = 1_000
        self.tables = {name: TableRows(table) for name, table in TABLES.items()}
        self.audits: list[dict[str, Any]] = []

    def now(self) -> datetime:
        """The time stamped on a write: Dataverse keeps date-times to the second."""
        return self._clock().replace(microsecond=0)

    def rows(self, logical_name: str) -> TableRows:
        return self.tables[logical_name]

    def _next_version(self) -> int:
        self.version += 1
        return self.version

    def _coerce(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        types = table.columns
        navigations = {nav: (column, target) for column, lookup in table.lookups.items() for nav, target in lookup.targets.items()}
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name.endswith("@odata.bind"):
                navigation = name[: -len("@odata.bind")]
                if navigation not in navigations:
                    raise DataverseError(400, BAD_PROPERTY, f"An undeclared property '{navigation}' which only has "
                                         f"property annotations in the payload but no property value was found in the payload.")
                column, target = navigations[navigation]
                out[column] = self._bound(target, value)
                continue
            kind = types.get(name)
            if kind is None:
                raise DataverseError(400, BAD_PROPERTY, f"Invalid property '{name}' was found in entity "
                                     f"'Microsoft.Dynamics.CRM.{table.logical_name}'.")
            out[name] = _typed(kind, name, value)
        return out

    def _bound(self, target_set: str, value: Any) -> str | None:
        if value is None:
            return None
        text = str(value)
        prefix = f"/{target_set}("
        if not (text.startswith(prefix) and text.endswith(")")):
            raise bad_request(f"The URI '{text}' in @odata.bind is not a reference to {target_set}.")
        target_id = text[len(prefix):-1].lower()
        table = next(t for t in TABLES.values() if t.entity_set == target_set)
        if target_id not in self.tables[table.logical_name].rows:
            raise not_found(table.logical_name, target_id)
        return target_id

    def _check_key(self, rows: TableRows, values: Mapping[str, Any], record_id: str | None) -> None:
        key = values.get(ALTERNATE_KEY)
        if key in (None, ""):
            return
        holder = rows.by_key.get(str(key))
        if holder is not None and holder != record_id:
            raise DataverseError(412, DUPLICATE_KEY, "A record that has the attribute values "
                                 f"{key} already exists. The entity key upm_key requires that this set of attributes contains unique values.")

    def create(self, logical_name: str, values: Mapping[str, Any], check: Check | None = None,
               record_id: str | None = None) -> str:
        rows = self.rows(logical_name)
        typed = self._coerce(rows.table, values)
        if check is not None:
            check(rows.table, None, typed)
        self._check_key(rows, typed, None)
        new_id = record_id or str(uuid.uuid4())
        now = self.now()
        record = {rows.table.primary_id: new_id, **dict.fromkeys(rows.table.columns), **dict.fromkeys(rows.table.lookups),
                  **typed, "createdon": now, "modifiedon": now, "versionnumber": self._next_version(), "statecode": 0,
                  "_ownerid_value": self.user_id}
        rows.rows[new_id] = record
        if typed.get(ALTERNATE_KEY) not in (None, ""):
            rows.by_key[str(typed[ALTERNATE_KEY])] = new_id
        return new_id

    def update(self, logical_name: str, record_id: str, values: Mapping[str, Any], check: Check | None = None) -> None:
        rows = self.rows(logical_name)
        record = rows.rows.get(record_id.lower())
        if record is None:
            raise not_found(logical_name, record_id)
        typed = self._coerce(rows.table, values)
        if check is not None:
            check(rows.table, record[rows.table.primary_id], {**record, **typed})
        self._check_key(rows, typed, record[rows.table.primary_id])
        old_key = record.get(ALTERNATE_KEY)
        record.update(typed)
        record["modifiedon"] = self.now()
        record["versionnumber"] = self._next_version()
        if record.get(ALTERNATE_KEY) != old_key:
            rows.by_key.pop(str(old_key), None)
            if record.get(ALTERNATE_KEY) not in (None, ""):
                rows.by_key[str(record[ALTERNATE_KEY])] = record[rows.table.primary_id]

    def upsert(self, logical_name: str, key: str, values: Mapping[str, Any], check: Check | None = None) -> tuple[str, bool]:
        """PATCH entityset(upm_id='key'): (id, created)."""
        rows = self.rows(logical_name)
        body = {name: value for name, value in values.items() if name != ALTERNATE_KEY}
        existing = rows.by_key.get(key)
        if existing is not None:
            self.update(logical_name, existing, body, check)
            return existing, False
        return self.create(logical_name, {**body, ALTERNATE_KEY: key}, check), True

    def delete(self, logical_name: str, record_id: str, check: Check | None = None) -> None:
        rows = self.rows(logical_name)
        record = rows.rows.get(record_id.lower())
        if record is None:
            raise not_found(logical_name, record_id)
        if check is not None:
            check(rows.table, record[rows.table.primary_id], record)
        del rows.rows[record[rows.table.primary_id]]
        if record.get(ALTERNATE_KEY) not in (None, ""):
            rows.by_key.pop(str(record[ALTERNATE_KEY]), None)
        version = self._next_version()
        rows.removed.append((version, record[rows.table.primary_id]))
        self.audits.append({"auditid": str(uuid.uuid4()), "action": DELETE_ACTION, "objecttypecode": logical_name,
                            "_objectid_value": record[rows.table.primary_id], "createdon": self.now(),
                            "versionnumber": version})

    def find(self, logical_name: str, record_id: str) -> dict[str, Any] | None:
        return self.rows(logical_name).rows.get(record_id.lower())


def _typed(kind: str, name: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind in ("Integer", "Picklist", "Status", "BigInt"):
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if kind == "Money":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "DateTime":
            return parse_instant(str(value)) if "T" in str(value) else parse_instant(f"{value}T00:00:00Z")
    except (TypeError, ValueError):
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.{kind}' for '{name}'.",
                          "0x80048d19") from None
    return str(value)
