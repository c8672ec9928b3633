"""SOQL built with `simple_salesforce.format_soql` only: values are quoted and escaped by it; object and
field names (which SOQL cannot quote) must be plain API names or the query is refused before it is sent."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from simple_salesforce.format import format_soql

from connector.adapters.base import FatalError

from .settings import MODIFIED_FIELD

_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")


def api_name(name: str) -> str:
    """`name` if it is a plain API name (`Lead`, `UPM_Id__c`); FatalError otherwise."""
    if not isinstance(name, str) or not _API_NAME.fullmatch(name):
        raise FatalError(f"not a Salesforce API name: {name!r}", code="INVALID_API_NAME")
    return name


def field_path(name: str) -> str:
    """A field to select: an API name or a relationship path (`Owner.Name`); FatalError otherwise."""
    if not isinstance(name, str) or not _FIELD_PATH.fullmatch(name):
        raise FatalError(f"not a Salesforce field name: {name!r}", code="INVALID_API_NAME")
    return name


def select_list(fields: Iterable[str]) -> str:
    """`Id, Name, ...`: each field once (Salesforce refuses duplicates, whatever their letter case)."""
    chosen: dict[str, str] = {}
    for name in fields:
        chosen.setdefault(field_path(name).lower(), name)
    return ", ".join(chosen.values())


def _condition(name: str, value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        return format_soql("{:literal} IN {}", field_path(name), list(value))
    return format_soql("{:literal} = {}", field_path(name), value)


def changes_query(obj: str, fields: Iterable[str], since: datetime | None, filters: Mapping[str, Any]) -> str:
    """Records of `obj` stamped at or after `since` (all when None) that match `filters`, ascending by
    (SystemModstamp, Id). format_soql drops the microseconds of `since`, so `>=` only widens."""
    conditions = [] if since is None else [format_soql("{:literal} >= {}", MODIFIED_FIELD, since)]
    conditions += [_condition(name, value) for name, value in filters.items()]
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    return format_soql(
        "SELECT {:literal} FROM {:literal}{:literal} ORDER BY {:literal}, Id",
        select_list(fields), api_name(obj), where, MODIFIED_FIELD,
    )


def deleted_query(obj: str, since: datetime) -> str:
    """Records of `obj` in the recycle bin deleted at or after `since` (for queryAll)."""
    return format_soql(
        "SELECT Id, {:literal} FROM {:literal} WHERE IsDeleted = true AND {:literal} >= {} ORDER BY {:literal}, Id",
        MODIFIED_FIELD, api_name(obj), MODIFIED_FIELD, since, MODIFIED_FIELD,
    )
