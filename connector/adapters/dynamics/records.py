"""Dataverse rows and values: rows as CrmRecords, values as the Web API writes them, lookups as binds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from connector.adapters.base import CrmRecord, FatalError

from .settings import ENTITY_SETS, LOOKUPS, MODIFIED


def parse_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def odata_instant(moment: datetime) -> str:
    """An instant as a $filter literal (UTC, whole seconds: what Dataverse keeps)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def crm_record(row: Mapping[str, Any], primary_id: str) -> CrmRecord:
    fields = {k: v for k, v in row.items() if not k.startswith("@")}
    return CrmRecord(id=str(row[primary_id]), modified_at=parse_instant(str(row[MODIFIED])), fields=fields,
                     modified_by=None)


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return odata_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def payload(table: str, fields: Mapping[str, Any], skip: str | None = None) -> dict[str, Any]:
    """The JSON body writing `fields` to a row of `table`: lookups (`_x_value`) become `@odata.bind`s;
    a note's `_objectid_value` points into the table its `objecttypecode` names."""
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if name == skip or (table, name) == ("annotation", "objecttypecode"):
            continue
        if (table, name) == ("annotation", "_objectid_value"):
            kind = str(fields.get("objecttypecode") or "")
            if kind not in ENTITY_SETS:
                raise FatalError(f"a note's regarding record needs objecttypecode (one of {', '.join(ENTITY_SETS)}), got {kind!r}")
            body[f"objectid_{kind}@odata.bind"] = None if value in (None, "") else f"/{ENTITY_SETS[kind]}({value})"
            continue
        lookup = LOOKUPS.get((table, name))
        if lookup is not None:
            navigation, target = lookup
            body[f"{navigation}@odata.bind"] = None if value in (None, "") else f"/{target}({value})"
        else:
            body[name] = json_value(value)
    return body


def quoted(value: Any) -> str:
    """A string key literal (`'it''s'`)."""
    return "'" + str(value).replace("'", "''") + "'"
