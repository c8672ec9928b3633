"""Salesforce's limits, the per-object defaults, and the adapter's tunable options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_API_VERSION = "62.0"

COLLECTION_LIMIT = 200
"""Records per sObject Collections call (create, update, upsert, delete)."""
COMPOSITE_COLLECTIONS = 5
"""sObject Collections or query subrequests per /composite call (which counts as ONE API call)."""
UPSERT_BATCH = COLLECTION_LIMIT * COMPOSITE_COLLECTIONS
"""Records one /composite call can upsert: the batch size the engine should fill."""
QUERY_BATCH_MIN = 200
QUERY_BATCH_MAX = 2000
"""The range of `Sforce-Query-Options: batchSize` (records per query page)."""

MODIFIED_FIELD = "SystemModstamp"
"""The stamp incremental reads are ordered by (what getUpdated uses; it moves on system changes too)."""
SYSTEM_FIELDS = ("Id", MODIFIED_FIELD, "LastModifiedById")
"""Read with every record: the id, the stamp, and who changed it last (echo suppression)."""


@dataclass(frozen=True)
class ObjectSettings:
    """What is read of an object by default, and its external id field (always read, so records bind)."""

    external_id_field: str | None
    default_fields: tuple[str, ...]


OBJECTS: dict[str, ObjectSettings] = {
    "Lead": ObjectSettings(
        "UPM_Id__c", ("FirstName", "LastName", "Company", "Email", "Phone", "Status", "LeadSource", "OwnerId")
    ),
    "Contact": ObjectSettings("UPM_Id__c", ("FirstName", "LastName", "Email", "Phone", "AccountId", "OwnerId")),
    "Account": ObjectSettings("UPM_Id__c", ("Name", "Website", "Phone", "Industry", "OwnerId")),
    "Opportunity": ObjectSettings("UPM_Id__c", ("Name", "StageName", "Amount", "CloseDate", "AccountId", "OwnerId")),
}
OTHER_OBJECTS = ObjectSettings(None, ())
"""Any other object: no external id assumed, and the caller names the fields."""


def object_settings(obj: str) -> ObjectSettings:
    return OBJECTS.get(obj, OTHER_OBJECTS)


@dataclass(frozen=True)
class AdapterOptions:
    """What a connection's `options` may tune. Unknown keys are refused, so a typo fails at load time.

    - `api_version`: the REST API version, e.g. "62.0".
    - `instance_url`: used when the token set carries none (a static session id).
    - `page_size`: records per page `read_changes` yields, 1-2000; the query's batchSize is the same,
      raised to Salesforce's minimum of 200 (smaller pages are cut from one query page).
    - `bulk_threshold`: `upsert_many` given more records than this uses one Bulk API 2.0 job (about
      eight calls) instead of /composite calls of 1,000.
    - `bulk_poll_seconds`: simple-salesforce's wait between Bulk 2.0 job status polls (its own sleep).
    - `quota_stop_share`: stop calling once `Sforce-Limit-Info` reports this share of the daily allocation.
    - `quota_recheck_seconds`: after the guard stopped (or a 403 REQUEST_LIMIT_EXCEEDED), how long calls
      are refused before one may go out to see the usage again (Salesforce's window rolls over 24 h).
    - `max_attempts`: tries per API call on transient failures, and rounds of re-sending records that
      failed transiently (UNABLE_TO_LOCK_ROW).
    - `backoff_initial` / `backoff_max`: seconds of exponential backoff (with up to 50% jitter).
    - `timeout`: seconds before a request counts as timed out.
    - `filters`: `{object: {field: value or [values]}}`, equality (or IN) conditions every read of that
      object adds, e.g. `{"Lead": {"LeadSource": "Partner Referral"}}`.
    """

    api_version: str = DEFAULT_API_VERSION
    instance_url: str | None = None
    page_size: int = QUERY_BATCH_MAX
    bulk_threshold: int = 10_000
    bulk_poll_seconds: float = 5.0
    quota_stop_share: float = 0.9
    quota_recheck_seconds: float = 3600.0
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    timeout: float = 120.0
    filters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def query_batch_size(self) -> int:
        return max(QUERY_BATCH_MIN, self.page_size)

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> AdapterOptions:
        known = {f.name: str(f.type) for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"unknown Salesforce adapter options: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        converters = {"int": int, "float": float, "str": str}
        values = {
            name: converters[known[name]](value) if known[name] in converters else value
            for name, value in options.items()
        }
        parsed = cls(**values)
        if not 1 <= parsed.page_size <= QUERY_BATCH_MAX:
            raise ValueError(f"page_size must be between 1 and {QUERY_BATCH_MAX}, was {parsed.page_size}")
        if not 0 < parsed.quota_stop_share <= 1:
            raise ValueError(f"quota_stop_share must be in (0, 1], was {parsed.quota_stop_share}")
        if parsed.max_attempts < 1 or parsed.bulk_threshold < 1:
            raise ValueError("max_attempts and bulk_threshold must be at least 1")
        if min(parsed.backoff_initial, parsed.backoff_max, parsed.timeout, parsed.bulk_poll_seconds,
               parsed.quota_recheck_seconds) < 0:
            raise ValueError("backoff, timeout, poll and recheck seconds must not be negative")
        if not all(isinstance(conditions, Mapping) for conditions in parsed.filters.values()):
            raise ValueError("filters must map each object to {field: value}")
        return parsed
