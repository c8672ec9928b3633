"""Salesforce records at the adapter edge: REST rows in as CrmRecords with aware UTC stamps, values out
as JSON (sObject Collections) or CSV text (Bulk API 2.0)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any

from connector.adapters.base import CrmRecord

from .settings import MODIFIED_FIELD

BULK_NULL = "#N/A"
"""How a Bulk API 2.0 CSV sets a field to null (an empty cell leaves it unchanged)."""


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@lru_cache(maxsize=4096)
def parse_datetime(text: str) -> datetime:
    """Salesforce's datetimes, REST `2011-07-07T00:37:00.000+0000` or Bulk `...000Z`, as aware UTC
    (remembered: a page's records mostly share a few stamps, a bulk load's one)."""
    return utc(datetime.fromisoformat(text))


_FLAT = frozenset({str, int, float, bool, type(None)})
"""JSON scalars: a row holding only these has no nested objects to flatten."""


def crm_record(row: Mapping[str, Any]) -> CrmRecord:
    """A query row as a CrmRecord: its fields without `attributes`, stamped by SystemModstamp. A parent's
    fields, nested under the relationship (`"Account": {"Name": ...}`, null for an empty lookup), come out
    flat under their SOQL paths (`Account.Name`); a row without nested objects is copied as it is."""
    values = dict(row)
    values.pop("attributes", None)
    if not _FLAT.issuperset(map(type, values.values())):  # a parent's fields, or a compound field
        values = {}
        for name, value in row.items():
            if name == "attributes":
                continue
            if isinstance(value, dict) and "attributes" in value:  # a parent's fields
                values.update((f"{name}.{key}", inner) for key, inner in value.items() if key != "attributes")
            else:
                values[name] = value
    return CrmRecord(
        id=str(values["Id"]),
        modified_at=parse_datetime(str(values[MODIFIED_FIELD])),
        fields=values,
        modified_by=values.get("LastModifiedById"),
    )


def json_value(value: Any) -> Any:
    """A value for a JSON write: datetimes as aware ISO 8601 (UTC), dates as ISO dates."""
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_value(value: Any) -> str:
    """A value for a Bulk API 2.0 CSV cell (None and "" set the field to null, as they do in JSON)."""
    if value is None or value == "":
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(json_value(value))
