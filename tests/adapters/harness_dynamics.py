"""The Dynamics 365 side of the adapter contract suite: a Dataverse emulator served over HTTPS (its
own test CA) whose clock moves only when told, and per test a reset emulator and a DynamicsAdapter
whose tokens come from msal's client-credentials flow against the emulator's tenant.

    with DynamicsBackend() as backend:                      # once per session (conftest)
        with backend.harness(db, sleep=sleep) as harness:   # once per test
            harness.adapter.upsert(...)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from connector.adapters.dynamics import ClientCredentials, DynamicsAdapter
from connector.store import Database
from crm_emulators.dynamics import DynamicsEmulator, EmulatorOptions, RunningEmulator, serve_in_background

from .harness import HarnessBase, StillClock, adapter_options

OBJ = "lead"
REJECTED_FOREVER = 1_000_000


class DynamicsHarness(HarnessBase):
    """CrmHarness over one reset emulator (leads keyed by the upm_id alternate key)."""

    name = "dynamics"
    obj = OBJ
    external_id_field = "upm_id"
    text_field = "companyname"
    read_fields = ["upm_id", "companyname", "emailaddress1", "firstname", "lastname"]

    def __init__(self, running: RunningEmulator, sleep: Callable[[float], None], options: Mapping[str, Any]):
        super().__init__(sleep, options)
        self.running = running
        self.emulator: DynamicsEmulator = running.emulator
        self.credentials = running.credentials
        self.adapter = self.make_adapter()

    def tokens(self) -> ClientCredentials:
        creds = self.credentials
        return ClientCredentials(creds["client_id"], creds["client_secret"], creds["authority"], ca_file=creds["ca_file"])

    def make_adapter(self, **options: Any) -> DynamicsAdapter:
        return self._made(DynamicsAdapter(
            f"dynamics-test-{len(self._adapters)}", self.tokens(), base_url=self.running.base_url,
            clock=self.emulator.clock, sleep=self.sleep, options={**self.options, **options},
            ca_file=self.credentials["ca_file"]))

    # ---- CrmHarness

    def new_record(self, n: int) -> dict[str, Any]:
        return {"upm_id": f"upm-{n}", "companyname": f"Company {n}", "emailaddress1": f"lead{n}@example.com",
                "firstname": "Lead", "lastname": f"Number {n}"}

    def crm_edit(self, crm_id: str, fields: Mapping[str, Any]) -> None:
        self.emulator.admin_upsert(OBJ, dict(fields), id=crm_id)

    def crm_delete(self, crm_id: str) -> None:
        self.emulator.admin_delete(OBJ, crm_id)

    def crm_records(self) -> list[dict[str, Any]]:
        return self.emulator.records(OBJ)

    def api_calls(self) -> int:
        return int(self.emulator.stats()["api_calls"]["total"])

    def answer_next_calls(self, count: int, status: int, headers: Mapping[str, str] | None = None) -> None:
        self.emulator.add_fault({"type": "http_error", "status": status, "headers": dict(headers or {}), "count": count})

    def drop_next_response(self) -> None:
        self.emulator.add_fault({"type": "drop"})

    def reset_next_connection(self) -> None:
        self.emulator.add_fault({"type": "reset"})

    def token_refreshes(self) -> int:
        return int(self.emulator.stats()["tokens_issued"])

    def fail_record_once(self, external_id: str) -> None:
        self.emulator.add_fault({"type": "record_error", "values": [external_id], "status": 503, "code": "0x80040216",
                                 "message": f"Transient failure writing {external_id}"})

    def exhaust_daily_quota(self) -> None:
        """Dataverse has no daily quota: spend the service protection window, whose Retry-After (up to
        5 minutes) is past what the adapter sleeps for."""
        self.emulator.exhaust_limits()

    def _clear_faults(self) -> None:
        self.emulator.clear_faults()

    def _arm_rejection(self, external_id: str, message: str) -> None:
        self.emulator.add_fault({"type": "record_error", "values": [external_id], "count": REJECTED_FOREVER,
                                 "code": "0x80040265", "message": message})


class DynamicsBackend:
    """A Dataverse emulator served for a whole test session."""

    def __init__(self, options: EmulatorOptions | None = None):
        self._options = options or EmulatorOptions()
        self._stack = ExitStack()
        self.running: RunningEmulator | None = None

    def __enter__(self) -> DynamicsBackend:
        self.running = self._stack.enter_context(serve_in_background(self._options, clock=StillClock()))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @contextmanager
    def harness(self, db: Database, *, sleep: Callable[[float], None], page_size: int | None = None,
                options: Mapping[str, Any] | None = None) -> Iterator[DynamicsHarness]:
        """A harness on the emulator reset to its starting state (no seed records)."""
        assert self.running is not None
        self.running.emulator.reset()
        harness = DynamicsHarness(self.running, sleep, adapter_options(page_size, options))
        try:
            yield harness
        finally:
            harness.close()
