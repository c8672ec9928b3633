"""What the adapter contract suite needs of each CRM: an adapter on a fresh emulator, and the
means to act as the CRM's own users (edit, delete) and to steer the emulator (clock, faults).

Each CRM provides one implementation (harness_salesforce.py, harness_hubspot.py); the contract
suite (test_contract.py) is parametrised over them and has no CRM-specific branches.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from connector.adapters.base import CrmAdapter


class CrmHarness(Protocol):
    name: str
    adapter: CrmAdapter
    obj: str
    """The object the suite reads and writes (Salesforce Lead, HubSpot contacts)."""
    external_id_field: str
    """Its external-id field (Salesforce UPM_Id__c, HubSpot upm_id)."""
    read_fields: list[str]
    """Fields to read, including the external id and `text_field`."""
    text_field: str
    """A plain text field the suite edits (e.g. Company / company)."""

    def new_record(self, n: int) -> dict[str, Any]:
        """A valid record for upsert with external id `upm-{n}` and text `text_field` = f"Company {n}"."""

    def crm_edit(self, crm_id: str, fields: Mapping[str, Any]) -> None:
        """Change a record as a CRM user would (not through the adapter; bumps the modified stamp)."""

    def crm_delete(self, crm_id: str) -> None:
        """Delete (archive) a record as a CRM user would."""

    def crm_records(self) -> list[dict[str, Any]]:
        """Every live record of `obj` in the emulator, as the emulator holds them."""

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock (token expiry, delete-log age, daily quotas)."""

    def now(self) -> datetime:
        """The emulator's current time (aware UTC)."""

    def api_calls(self) -> int:
        """API calls the emulator has counted so far, as the CRM counts them."""

    def fail_next_calls(self, count: int, status: int = 503) -> None:
        """The next `count` API calls answer `status` (a transient server error)."""

    def answer_next_calls(self, count: int, status: int, headers: Mapping[str, str] | None = None) -> None:
        """The next `count` API calls answer `status` with `headers` and the CRM's real body for it."""

    def drop_next_response(self) -> None:
        """The next API call is carried out (a write applied), then its answer is dropped mid-way."""

    def reset_next_connection(self) -> None:
        """The next API call's connection drops before the CRM carries it out."""

    def token_refreshes(self) -> int:
        """Token refreshes the emulator has answered so far."""

    def fail_record_once(self, external_id: str) -> None:
        """The next write of this record fails with a transient per-record error (Salesforce
        UNABLE_TO_LOCK_ROW), then succeeds."""

    def reject_record(self, external_id: str, message: str) -> None:
        """Writes of this record fail with a permanent validation error until `accept_record`."""

    def accept_record(self, external_id: str) -> None: ...

    def exhaust_daily_quota(self) -> None:
        """Spend the daily API allocation, so the next call is refused for quota."""

    def expire_tokens(self) -> None:
        """Move the clock past the access-token lifetime."""
