"""HubSpot's objects, limits and association types, and the adapter's tunable options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_HOST = "https://api.hubapi.com"

BATCH_LIMIT = 100
"""Inputs per batch read/create/update/upsert/archive call."""
SEARCH_PAGE_LIMIT = 200
"""Results per search page."""
SEARCH_RESULT_CAP = 10_000
"""A search query returns at most this many results (`after + limit` past it is a 400)."""
LIST_PAGE_LIMIT = 100
"""Results per page of the list endpoint (archived records)."""
ASSOCIATION_BATCH_LIMIT = 1_000
"""Inputs per v4 association batch call."""
ARCHIVE_RETENTION_DAYS = 90
"""How long HubSpot keeps archived records (and so can report them as deleted)."""
RECORD_ID = "hs_object_id"

TRANSIENT_CATEGORIES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR"})
"""Per-record error categories worth sending again; every other category needs a person."""


@dataclass(frozen=True)
class ObjectSettings:
    """How one object type is read: the property its changes are ordered by, and what to read by default."""

    modified_property: str
    default_properties: tuple[str, ...]


OBJECTS: dict[str, ObjectSettings] = {
    "contacts": ObjectSettings("lastmodifieddate", ("email", "firstname", "lastname", "company", "phone")),
    "companies": ObjectSettings("hs_lastmodifieddate", ("name", "domain", "website", "phone")),
    "deals": ObjectSettings("hs_lastmodifieddate", ("dealname", "amount", "dealstage", "pipeline", "closedate")),
    "notes": ObjectSettings("hs_lastmodifieddate", ("hs_note_body", "hs_timestamp")),
}
OTHER_OBJECTS = ObjectSettings("hs_lastmodifieddate", ())
"""Any other object type (tickets, custom objects) is ordered by hs_lastmodifieddate."""


def object_settings(obj: str) -> ObjectSettings:
    return OBJECTS.get(obj, OTHER_OBJECTS)


_DEFAULT_ASSOCIATIONS = [
    # HubSpot-defined unlabeled association type ids: (from, to, forward id, reverse id)
    ("contacts", "companies", 279, 280),
    ("deals", "contacts", 3, 4),
    ("deals", "companies", 341, 342),
    ("notes", "contacts", 202, 201),
    ("notes", "companies", 190, 189),
    ("notes", "deals", 214, 213),
]
ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    pair: type_id
    for a, b, forward, reverse in _DEFAULT_ASSOCIATIONS
    for pair, type_id in (((a, b), forward), ((b, a), reverse))
}


@dataclass(frozen=True)
class AdapterOptions:
    """What a connection's `options` may tune. Unknown keys are refused, so a typo fails at load time.

    - `page_size`: search results per page, 1-200 (small pages keep tests fast).
    - `max_attempts`: tries per API call on transient failures (429, 5xx, timeouts), and rounds of
      re-sending records that failed transiently.
    - `backoff_initial` / `backoff_max`: seconds of exponential backoff (plus up to half of itself at random; connector.adapters.retry).
    - `timeout`: seconds before a request counts as timed out.
    - `refresh_margin`: refresh an OAuth access token when fewer seconds than this remain.
    - `search_per_second`: searches per second this adapter allows itself (HubSpot allows 5 per account).
    """

    page_size: int = SEARCH_PAGE_LIMIT
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 60.0
    refresh_margin: float = 300.0
    search_per_second: int = 5

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> AdapterOptions:
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"unknown HubSpot adapter options: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {name: (int if known[name] == "int" else float)(value) for name, value in options.items()}
        parsed = cls(**values)
        if not 1 <= parsed.page_size <= SEARCH_PAGE_LIMIT:
            raise ValueError(f"page_size must be between 1 and {SEARCH_PAGE_LIMIT}, was {parsed.page_size}")
        if parsed.max_attempts < 1 or parsed.search_per_second < 1:
            raise ValueError("max_attempts and search_per_second must be at least 1")
        if min(parsed.backoff_initial, parsed.backoff_max, parsed.timeout, parsed.refresh_margin) < 0:
            raise ValueError("backoff, timeout and refresh margin must not be negative")
        return parsed
