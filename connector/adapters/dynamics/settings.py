"""Dataverse's limits and tables, and the adapter's tunable options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

API_PATH = "/api/data/v9.2"
MAX_PAGE_SIZE = 5000
"""Rows per page (`Prefer: odata.maxpagesize`): Dataverse's ceiling."""
BATCH_LIMIT = 1000
"""Requests per `$batch`."""
MODIFIED = "modifiedon"

ENTITY_SETS: dict[str, str] = {
    "lead": "leads", "account": "accounts", "contact": "contacts", "opportunity": "opportunities",
    "annotation": "annotations",
}
"""Logical name -> entity set for the tables the shipped profiles use (others: from EntityDefinitions)."""

LOOKUPS: dict[tuple[str, str], tuple[str, str]] = {
    ("contact", "_parentcustomerid_value"): ("parentcustomerid_account", "accounts"),
    ("opportunity", "_parentaccountid_value"): ("parentaccountid", "accounts"),
    ("opportunity", "_parentcontactid_value"): ("parentcontactid", "contacts"),
}
"""A lookup column as read (`_x_value`) -> how it is written (`nav@odata.bind: /set(id)`)."""


@dataclass(frozen=True)
class AdapterOptions:
    """What a connection's `options` may tune (unknown keys are refused).

    - `page_size`: rows per page, 1-5000 (`Prefer: odata.maxpagesize`).
    - `batch_size`: requests per `$batch`, 1-1000.
    - `max_attempts`, `backoff_initial`, `backoff_max`: the shared retry policy (connector.adapters.retry).
    - `max_retry_wait`: a 429 asking to wait longer than this many seconds stops the lane (QuotaError
      until then) instead of sleeping.
    - `timeout`: seconds before a request counts as timed out.
    """

    page_size: int = MAX_PAGE_SIZE
    batch_size: int = BATCH_LIMIT
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_wait: float = 60.0
    timeout: float = 120.0

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> AdapterOptions:
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"unknown Dynamics adapter options: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        parsed = cls(**{name: (int if known[name] == "int" else float)(value) for name, value in options.items()})
        if not 1 <= parsed.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, was {parsed.page_size}")
        if not 1 <= parsed.batch_size <= BATCH_LIMIT:
            raise ValueError(f"batch_size must be between 1 and {BATCH_LIMIT}, was {parsed.batch_size}")
        if parsed.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(parsed.backoff_initial, parsed.backoff_max, parsed.max_retry_wait, parsed.timeout) < 0:
            raise ValueError("backoff, max_retry_wait and timeout must not be negative")
        return parsed
