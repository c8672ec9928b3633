"""The HubSpot side of the adapter contract suite: a served emulator whose clock moves only when told
(so records written in one call share a stamp, and token expiry happens on demand), and per test a
reset emulator, a real token vault and OAuthClient, and a HubSpotAdapter talking real HTTP to it.

    with HubSpotBackend() as backend:                       # once per session (conftest)
        with backend.harness(db, sleep=sleep) as harness:   # once per test
            harness.adapter.upsert(...)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cryptography.fernet import Fernet

from connector.adapters.base import Tokens
from connector.adapters.hubspot import HubSpotAdapter, PrivateAppToken
from connector.auth.keys import keyring
from connector.auth.oauth import OAuthClient, OAuthParams
from connector.auth.vault import TokenVault
from connector.clock import Clock
from crm_emulators.hubspot import EmulatorOptions, HubSpotEmulator, RunningEmulator
from crm_emulators.hubspot.app import create_app
from crm_emulators.runner import BackgroundServer
from connector.store import Database

from .harness import START, HarnessBase, StillClock, adapter_options

OBJ = "contacts"
REJECTED_FOREVER = 1_000_000
INSECURE_TRANSPORT = "OAUTHLIB_INSECURE_TRANSPORT"


class HubSpotHarness(HarnessBase):
    """CrmHarness over one reset emulator (portal 0, contacts keyed by upm_id), plus what the
    HubSpot-specific tests need: the emulator itself, the vault, and more adapters."""

    name = "hubspot"
    obj = OBJ
    external_id_field = "upm_id"
    text_field = "company"
    read_fields = ["upm_id", "company", "email", "firstname", "lastname"]

    def __init__(self, running: RunningEmulator, vault: TokenVault, sleep: Callable[[float], None], options: Mapping[str, Any]):
        super().__init__(sleep, options)
        self.running = running
        self.emulator: HubSpotEmulator = running.emulator
        self.credentials = running.credentials
        self.vault = vault
        self.adapter = self.oauth_adapter()

    # ---- more adapters (HubSpot-specific tests)

    def oauth_client(self, portal: int = 0, clock: Clock | None = None) -> OAuthClient:
        creds = self.credentials["portals"][portal]
        params = OAuthParams(
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
            token_url=creds["token_url"],
            authorize_url=self.credentials["authorize_url"],
            redirect_uri=self.credentials["redirect_uri"],
            refresh_token=creds["refresh_token"],
        )
        return OAuthClient(f"hubspot-{portal}", params, self.vault, clock or self.emulator.clock)

    def oauth_adapter(self, portal: int = 0, *, clock: Clock | None = None, **options: Any) -> HubSpotAdapter:
        """An adapter on portal `portal` through OAuth (refresh token from the emulator's credentials)."""
        return self.make_adapter(self.oauth_client(portal, clock), clock=clock, **options)

    def private_app_adapter(self, portal: int = 0, token: str | None = None, **options: Any) -> HubSpotAdapter:
        return self.make_adapter(PrivateAppToken(token or self.credentials["portals"][portal]["private_app_token"]), **options)

    def make_adapter(self, tokens: Tokens, *, clock: Clock | None = None, **options: Any) -> HubSpotAdapter:
        return self._made(HubSpotAdapter(
            f"hubspot-test-{len(self._adapters)}",
            tokens,
            base_url=self.running.base_url,
            clock=clock or self.emulator.clock,
            sleep=self.sleep,
            options={**self.options, **options},
        ))

    def portal_stats(self, portal: int = 0) -> dict[str, Any]:
        return dict(self.emulator.stats()["portals"][portal])

    # ---- CrmHarness

    def new_record(self, n: int) -> dict[str, Any]:
        return {"upm_id": f"upm-{n}", "company": f"Company {n}", "email": f"lead{n}@example.com", "firstname": "Lead", "lastname": f"Number {n}"}

    def crm_edit(self, crm_id: str, fields: Mapping[str, Any]) -> None:
        self.emulator.admin_upsert(0, OBJ, dict(fields), id=crm_id)

    def crm_delete(self, crm_id: str) -> None:
        self.emulator.admin_archive(0, OBJ, crm_id)

    def crm_records(self) -> list[dict[str, Any]]:
        return [{"id": r["id"], **r["properties"]} for r in self.emulator.records(0, OBJ) if not r["archived"]]

    def api_calls(self) -> int:
        by_category = self.portal_stats()["api_calls"]["by_category"]
        return sum(count for category, count in by_category.items() if category != "token")

    def answer_next_calls(self, count: int, status: int, headers: Mapping[str, str] | None = None) -> None:
        self.emulator.add_fault({"type": "http_error", "status": status, "headers": dict(headers or {}), "count": count,
                                 "portal": 0})

    def drop_next_response(self) -> None:
        self.emulator.add_fault({"type": "drop", "count": 1, "portal": 0})

    def reset_next_connection(self) -> None:
        self.emulator.add_fault({"type": "reset", "count": 1, "portal": 0})

    def token_refreshes(self) -> int:
        return int(self.portal_stats()["api_calls"]["by_category"].get("token", 0))

    def fail_record_once(self, external_id: str) -> None:
        self.emulator.add_fault({"type": "record_error", "values": [external_id], "count": 1, "portal": 0,
                                 "category": "INTERNAL_ERROR", "message": f"Transient failure writing {external_id}"})

    def exhaust_daily_quota(self) -> None:
        """Lower portal 0's daily limit to what it has used today."""
        limiter = self.emulator.portals[0].limiter
        limiter.daily_limit = limiter.usage(self.emulator.now_ms())["daily"]

    def _clear_faults(self) -> None:
        self.emulator.clear_faults()

    def _arm_rejection(self, external_id: str, message: str) -> None:
        self.emulator.add_fault({"type": "record_error", "values": [external_id], "count": REJECTED_FOREVER, "portal": 0,
                                 "category": "VALIDATION_ERROR", "message": message})


class HubSpotBackend:
    """A HubSpot emulator served for a whole test session (two portals, HubSpot's default limits)."""

    def __init__(self, options: EmulatorOptions | None = None):
        # No search lag by default: the still clock never moves past it on its own, so every read right
        # after a write would see nothing. The lag is tested with the default on (test_hubspot_adapter.py).
        self.emulator = HubSpotEmulator(options or EmulatorOptions(portals=2, search_lag_seconds=0), clock=StillClock())
        self._server = BackgroundServer(create_app(self.emulator))

    def __enter__(self) -> HubSpotBackend:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @contextmanager
    def harness(self, db: Database, *, sleep: Callable[[float], None], page_size: int | None = None,
                options: Mapping[str, Any] | None = None) -> Iterator[HubSpotHarness]:
        """A harness on the emulator reset to its starting state, with a fresh vault in `db`; its
        adapters read `page_size` records a page and take `options` (see AdapterOptions)."""
        self.emulator.reset()
        insecure = os.environ.get(INSECURE_TRANSPORT)
        os.environ[INSECURE_TRANSPORT] = "1"  # the emulator serves plain http; oauthlib insists on https otherwise
        vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), self.emulator.clock)
        harness = HubSpotHarness(RunningEmulator(self.emulator, self._server), vault, sleep,
                                 adapter_options(page_size, options))
        try:
            yield harness
        finally:
            harness.close()
            if insecure is None:
                del os.environ[INSECURE_TRANSPORT]
            else:
                os.environ[INSECURE_TRANSPORT] = insecure
