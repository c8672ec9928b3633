"""OAuth refresh through requests-oauthlib against the HubSpot emulator's real token endpoint:
single-flight, rotation stored at once, invalid_grant -> needs re-authorization, authorization code."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography.fernet import Fernet

from click.testing import CliRunner

from connector.adapters.base import AuthError
from connector.auth.keys import keyring, load_keys
from connector.auth.login import run_login
from connector.auth.oauth import OAuthClient, OAuthParams
from connector.auth.vault import TokenVault
from connector.cli import main
from connector.clock import ManualClock
from connector.config import load_settings
from crm_emulators.hubspot import EmulatorOptions, serve_in_background
from connector.store import Database
from connector.store.migrate import upgrade


@pytest.fixture
def hubspot() -> Iterator:  # type: ignore[type-arg]
    with serve_in_background(EmulatorOptions(invalidate_rotated_refresh_tokens=True)) as running:
        yield running


def params(creds: dict, refresh_token: str | None = None) -> OAuthParams:  # type: ignore[type-arg]
    return OAuthParams(
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        token_url=creds["token_url"],
        authorize_url=creds["authorize_url"],
        redirect_uri=creds["redirect_uri"],
        refresh_token=refresh_token if refresh_token is not None else creds["refresh_token"],
    )


def token_calls(running) -> int:  # type: ignore[no-untyped-def]
    return running.emulator.stats()["portals"][0]["api_calls"]["by_category"].get("token", 0)


def test_first_use_refreshes_and_stores_the_rotated_token(db: Database, hubspot) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), clock)
    client = OAuthClient("hs", params(hubspot.credentials), vault, clock)
    tokens = client.current()
    assert tokens.access_token and tokens.refresh_token and tokens.refresh_token != hubspot.credentials["refresh_token"]
    assert tokens.expires_at is not None and (tokens.expires_at - clock.now()).total_seconds() == 1800
    # The rotated refresh token was stored at once: the next refresh uses it (the old one is dead).
    again = client.refresh(tokens.generation)
    assert again.generation == tokens.generation + 1 and again.access_token != tokens.access_token
    assert token_calls(hubspot) == 2


def test_concurrent_refreshes_are_single_flight(db: Database, hubspot) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), clock)
    first = OAuthClient("hs", params(hubspot.credentials), vault, clock).current()
    before = token_calls(hubspot)
    clients = [OAuthClient("hs", params(hubspot.credentials), vault, clock) for _ in range(12)]
    barrier = threading.Barrier(len(clients))

    def refresh(client: OAuthClient) -> int:
        barrier.wait()
        return client.refresh(first.generation).generation

    with ThreadPoolExecutor(len(clients)) as pool:
        generations = list(pool.map(refresh, clients))
    assert token_calls(hubspot) == before + 1, "twelve callers who saw the same stale token cause one refresh"
    assert set(generations) == {first.generation + 1}
    stored = vault.get("hs")
    assert stored is not None and stored.status == "ok"


def test_invalid_grant_marks_needs_reauth_without_crash_loop(db: Database, hubspot) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), clock)
    client = OAuthClient("hs", params(hubspot.credentials, refresh_token="not-a-real-refresh-token"), vault, clock)
    with pytest.raises(AuthError, match="refresh refused"):
        client.current()
    stored = vault.get("hs")
    assert stored is not None and stored.status == "needs_reauth"
    assert "BAD_REFRESH_TOKEN" in (stored.status_reason or "") or "invalid_grant" in (stored.status_reason or "")
    calls = token_calls(hubspot)
    for _ in range(3):
        with pytest.raises(AuthError, match="needs re-authorization"):
            client.current()
    assert token_calls(hubspot) == calls, "a connection that needs re-authorization stops calling the token endpoint"


def test_authorization_code_flow(db: Database, hubspot) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), clock)
    client = OAuthClient("hs", params(hubspot.credentials, refresh_token=""), vault, clock)
    url, state = client.authorization_url()
    assert url.startswith(hubspot.credentials["authorize_url"]) and f"state={state}" in url
    # The person grants access; the authorization server redirects back with a code.
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303, 307)
    query = parse_qs(urlparse(answer.headers["location"]).query)
    assert query["state"] == [state]
    tokens = client.exchange_code(query["code"][0])
    assert tokens.access_token and tokens.refresh_token
    assert vault.get("hs") is not None



def login_config(tmp_path, database_url: str, credentials: dict) -> Path:  # type: ignore[no-untyped-def,type-arg]
    (tmp_path / "hubspot-credentials.json").write_text(json.dumps(credentials))
    (tmp_path / "profile.yaml").write_text("crm: hubspot\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
database: {{url: "{database_url}"}}
secrets: {{key_file: upm.key}}
connections:
  partner-hs:
    adapter: hubspot
    auth: {{type: credentials_file, file: hubspot-credentials.json}}
    mapping: profile.yaml
"""
    )
    return config


def test_auth_login_with_a_pasted_redirect(database_url: str, tmp_path, hubspot) -> None:  # type: ignore[no-untyped-def]
    config = login_config(tmp_path, database_url, hubspot.credentials)
    settings = load_settings(config)
    database = Database(database_url)
    upgrade(database)
    vault = TokenVault(database, keyring(load_keys(settings)), ManualClock())
    printed: list[str] = []

    def person_pastes_redirect(_question: str) -> str:
        url = next(line.strip() for text in printed for line in text.splitlines() if line.strip().startswith("http"))
        return requests.get(url, allow_redirects=False, timeout=10).headers["location"]

    tokens = run_login(settings, "partner-hs", vault, paste=True, timeout=5, echo=printed.append, prompt=person_pastes_redirect)
    assert tokens.access_token and tokens.refresh_token
    status = CliRunner().invoke(main, ["--config", str(config), "auth", "status"])
    assert status.exit_code == 0
    assert "partner-hs" in status.output and " ok " in status.output
    assert tokens.access_token not in status.output and tokens.refresh_token not in status.output
    database.dispose()


def test_auth_login_refuses_a_redirect_from_another_login(database_url: str, tmp_path, hubspot) -> None:  # type: ignore[no-untyped-def]
    config = login_config(tmp_path, database_url, hubspot.credentials)
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "auth", "login", "partner-hs", "--paste"], input="\n")
    url = next(line.strip() for line in first.output.splitlines() if line.strip().startswith("http"))
    stale_redirect = requests.get(url, allow_redirects=False, timeout=10).headers["location"]
    second = runner.invoke(main, ["--config", str(config), "auth", "login", "partner-hs", "--paste"], input=stale_redirect + "\n")
    assert second.exit_code == 1
    assert "state does not match" in second.output
    status = runner.invoke(main, ["--config", str(config), "auth", "status"])
    assert "no token" in status.output
