"""HubSpot records at the adapter edge: property strings in and out, timestamps as aware UTC."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from connector.adapters.base import CrmRecord


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_instant(value: str) -> datetime:
    """HubSpot's timestamp forms, `2026-01-02T03:04:05.123Z` or epoch milliseconds, as aware UTC."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    return utc(datetime.fromisoformat(text))


def epoch_ms(moment: datetime) -> int:
    """A datetime as the epoch milliseconds HubSpot's search filters take."""
    return int(round(utc(moment).timestamp() * 1000))


def property_value(value: Any) -> str:
    """A value as the string HubSpot stores ("" clears the property)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return str(epoch_ms(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def crm_record(result: Mapping[str, Any], modified_property: str) -> CrmRecord:
    """A search result, as the API's JSON has it, as a CrmRecord."""
    properties: Mapping[str, str | None] = result.get("properties") or {}
    stamp = properties.get(modified_property) or result["updatedAt"]
    return CrmRecord(id=str(result["id"]), modified_at=parse_instant(str(stamp)), fields=dict(properties))


def sort_key(record: CrmRecord) -> tuple[datetime, int]:
    """Ascending by modified stamp, then by record id (numeric)."""
    return record.modified_at, int(record.id) if record.id.isdigit() else 0
