"""What the adapter contract suite needs of each CRM: an adapter on a fresh emulator, and the
means to act as the CRM's own users (edit, delete) and to steer the emulator (clock, faults).

Each CRM provides one implementation (harness_salesforce.py, harness_hubspot.py,
harness_dynamics.py) on HarnessBase below, which holds what they do alike; the contract suite
(test_contract.py) is parametrised over them and has no CRM-specific branches.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

from connector.adapters.base import CrmAdapter
from crm_emulators.clock import EmulatorClock

A = TypeVar("A", bound=CrmAdapter)


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


START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
"""Where every harness's emulator clock stands after a reset."""


class StillClock(EmulatorClock):
    """Emulator time that stands still until advanced (reset: back to START)."""

    def now(self) -> datetime:
        with self._lock:
            return START + self._offset


def adapter_options(page_size: int | None, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A backend's per-test adapter options: `page_size` records a page (when given), then `options`."""
    return {**({"page_size": page_size} if page_size else {}), **(options or {})}


class HarnessBase(ABC):
    """What every CrmHarness does alike over its emulator (`self.emulator`, with `advance_clock`,
    `clock` and `options.token_ttl`): the adapters it made (closed together), the clock, and
    permanent rejections, which each CRM arms and clears its own way (`_arm_rejection`,
    `_clear_faults`: the emulators clear faults all at once, so the other rejections are re-armed)."""

    emulator: Any

    def __init__(self, sleep: Callable[[float], None], options: Mapping[str, Any]):
        self.sleep = sleep
        self.options = dict(options)
        self._adapters: list[CrmAdapter] = []
        self._rejected: dict[str, str] = {}

    def _made(self, adapter: A) -> A:
        """Keep an adapter to close with the harness."""
        self._adapters.append(adapter)
        return adapter

    def close(self) -> None:
        for adapter in self._adapters:
            adapter.close()

    def advance_clock(self, seconds: float) -> None:
        self.emulator.advance_clock(seconds)

    def now(self) -> datetime:
        return self.emulator.clock.now()  # type: ignore[no-any-return]

    def expire_tokens(self) -> None:
        self.advance_clock(self.emulator.options.token_ttl + 1)

    def fail_next_calls(self, count: int, status: int = 503) -> None:
        self.answer_next_calls(count, status)

    @abstractmethod
    def answer_next_calls(self, count: int, status: int, headers: Mapping[str, str] | None = None) -> None:
        ...

    def reject_record(self, external_id: str, message: str) -> None:
        self._rejected[external_id] = message
        self._arm_rejection(external_id, message)

    def accept_record(self, external_id: str) -> None:
        self._rejected.pop(external_id, None)
        self._clear_faults()
        for other, message in self._rejected.items():
            self._arm_rejection(other, message)

    @abstractmethod
    def _arm_rejection(self, external_id: str, message: str) -> None:
        ...

    @abstractmethod
    def _clear_faults(self) -> None:
        ...
