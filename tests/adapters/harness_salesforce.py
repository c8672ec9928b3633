"""The Salesforce side of the adapter contract suite: an emulator served over HTTPS (its own test CA)
whose clock moves only when told (so records written in one call share a stamp, and token expiry
happens on demand), and per test a reset emulator, a real token vault and OAuthClient, and a
SalesforceAdapter talking real HTTPS to it through simple-salesforce.

    with SalesforceBackend() as backend:                    # once per session (conftest)
        with backend.harness(db, sleep=sleep) as harness:   # once per test
            harness.adapter.upsert(...)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from connector.adapters.base import Tokens
from connector.adapters.salesforce import SalesforceAdapter
from connector.auth.keys import keyring
from connector.auth.oauth import OAuthClient, OAuthParams
from connector.auth.vault import TokenVault
from crm_emulators.runner import BackgroundServer
from crm_emulators.salesforce import EmulatorOptions, SalesforceEmulator
from crm_emulators.salesforce.app import create_app
from crm_emulators.salesforce.server import credentials
from crm_emulators.core.tls import ensure_tls_files
from connector.store import Database

from .harness import START, HarnessBase, StillClock, adapter_options

OBJ = "Lead"


class SalesforceHarness(HarnessBase):
    """CrmHarness over one reset emulator (Leads keyed by UPM_Id__c), plus what the Salesforce-specific
    tests need: the emulator itself, the vault, the credentials, and more adapters."""

    name = "salesforce"
    obj = OBJ
    external_id_field = "UPM_Id__c"
    text_field = "Company"
    read_fields = ["UPM_Id__c", "Company", "FirstName", "LastName", "Email"]

    def __init__(self, emulator: SalesforceEmulator, credentials: Mapping[str, str], vault: TokenVault,
                 sleep: Callable[[float], None], options: Mapping[str, Any]):
        super().__init__(sleep, options)
        self.emulator = emulator
        self.credentials = dict(credentials)
        self.vault = vault
        self.adapter = self.oauth_adapter()

    # ---- more adapters (Salesforce-specific tests)

    def oauth_client(self, connection: str = "salesforce-test") -> OAuthClient:
        params = OAuthParams(
            client_id=self.credentials["client_id"],
            client_secret=self.credentials["client_secret"],
            token_url=self.credentials["token_url"],
            authorize_url=self.credentials["instance_url"] + "/services/oauth2/authorize",
            redirect_uri="http://127.0.0.1:8765/callback",
            refresh_token=self.credentials["refresh_token"],
            ca_file=self.credentials["ca_file"],
            instance_url=self.credentials["instance_url"],
        )
        return OAuthClient(connection, params, self.vault, self.emulator.clock)

    def oauth_adapter(self, **options: Any) -> SalesforceAdapter:
        """An adapter through OAuth (the emulator's refresh token, a vault in the test's datastore)."""
        return self.make_adapter(self.oauth_client(), **options)

    def make_adapter(self, tokens: Tokens, **options: Any) -> SalesforceAdapter:
        return self._made(SalesforceAdapter(
            f"salesforce-test-{len(self._adapters)}",
            tokens,
            clock=self.emulator.clock,
            sleep=self.sleep,
            options={**self.options, **options},
            ca_file=self.credentials["ca_file"],
        ))

    def calls_by_category(self) -> dict[str, int]:
        return dict(self.emulator.stats()["api_calls"]["by_category"])

    # ---- CrmHarness

    def new_record(self, n: int) -> dict[str, Any]:
        return {"UPM_Id__c": f"upm-{n}", "Company": f"Company {n}", "FirstName": "Lead", "LastName": f"Number {n}",
                "Email": f"lead{n}@example.com"}

    def crm_edit(self, crm_id: str, fields: Mapping[str, Any]) -> None:
        self.emulator.admin_upsert(OBJ, {"Id": crm_id, **fields})

    def crm_delete(self, crm_id: str) -> None:
        self.emulator.admin_delete(OBJ, crm_id)

    def crm_records(self) -> list[dict[str, Any]]:
        return self.emulator.records(OBJ)

    def api_calls(self) -> int:
        return int(self.emulator.stats()["api_calls"]["total"])

    def answer_next_calls(self, count: int, status: int, headers: Mapping[str, str] | None = None) -> None:
        self.emulator.faults.add({"kind": "status", "status": status, "headers": dict(headers or {}), "count": count})

    def drop_next_response(self) -> None:
        self.emulator.faults.add({"kind": "drop", "count": 1})

    def reset_next_connection(self) -> None:
        self.emulator.faults.add({"kind": "reset", "count": 1})

    def token_refreshes(self) -> int:
        return int(self.emulator.stats()["other_requests"].get("token", 0))

    def fail_record_once(self, external_id: str) -> None:
        self.emulator.faults.add({"kind": "lock_row", "keys": [external_id], "count": 1, "object": OBJ})

    def exhaust_daily_quota(self) -> None:
        """Lower the org's daily allocation to what it has used in the last 24 hours."""
        with self.emulator.lock:
            self.emulator.usage.daily_limit = self.emulator.usage.used()

    def _clear_faults(self) -> None:
        self.emulator.faults.clear()

    def _arm_rejection(self, external_id: str, message: str) -> None:
        self.emulator.faults.add({"kind": "validation", "keys": [external_id], "message": message, "object": OBJ})


class SalesforceBackend:
    """A Salesforce emulator served over HTTPS for a whole test session (or module)."""

    def __init__(self, options: EmulatorOptions | None = None):
        self._dir = Path(tempfile.mkdtemp(prefix="upm-sf-harness-"))
        tls = ensure_tls_files(self._dir)
        self.emulator = SalesforceEmulator(options or EmulatorOptions(), clock=StillClock())
        self._server = BackgroundServer(create_app(self.emulator), tls=tls.server_files())
        self.emulator.instance_url = f"https://127.0.0.1:{self._server.port}"
        self.credentials = credentials(self.emulator, tls)

    def __enter__(self) -> SalesforceBackend:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    @contextmanager
    def harness(self, db: Database, *, sleep: Callable[[float], None], page_size: int | None = None,
                options: Mapping[str, Any] | None = None) -> Iterator[SalesforceHarness]:
        """A harness on the emulator reset to its starting state (daily limit included), with a fresh
        vault in `db`; its adapters read `page_size` records a page and take `options`.

        REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE stay as the machine has them: the adapter and OAuthClient
        pass the emulator's CA on every request, which those variables cannot override."""
        self.emulator.reset(keep_tokens=False)  # the credentials' refresh token works again, rotated or not
        with self.emulator.lock:
            self.emulator.usage.daily_limit = self.emulator.options.daily_api_limit
        vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), self.emulator.clock)
        harness = SalesforceHarness(self.emulator, self.credentials, vault, sleep,
                                    {"bulk_poll_seconds": 0, **adapter_options(page_size, options)})
        try:
            yield harness
        finally:
            harness.close()
