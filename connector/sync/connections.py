"""Open a configured connection: its credentials, its adapter, its mapping profile."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from connector.adapters.base import CrmAdapter, adapter_class
from connector.auth.keys import keyring, load_keys
from connector.auth.oauth import OAuthClient, oauth_params
from connector.auth.vault import TokenVault
from connector.clock import Clock, SystemClock
from connector.config.settings import Settings
from connector.mapping.loader import LoadedProfile, load_profile
from connector.store.database import Database
from connector.sync.engine import SyncEngine
from connector.sync.outbox import OutboxRouter


def token_source(settings: Settings, name: str, db: Database, clock: Clock) -> Any:
    """The Tokens a connection's adapter uses: OAuth through the vault, or a static token."""
    auth = settings.connections[name].auth
    if auth.type == "private_app":
        from connector.adapters.hubspot import PrivateAppToken  # private apps are HubSpot's

        assert auth.token is not None
        return PrivateAppToken(auth.token.get())
    vault = TokenVault(db, keyring(load_keys(settings)), clock)
    return OAuthClient(name, oauth_params(settings.connections[name], settings), vault, clock)


def open_adapter(
    settings: Settings, name: str, *, db: Database | None = None, clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CrmAdapter:
    """The adapter for connection `name`, ready to call the CRM."""
    conn = settings.connections[name]
    clock = clock or SystemClock()
    db = db or Database(settings.database.url)
    tokens = token_source(settings, name, db, clock)
    endpoint = conn.instance_url
    ca_file = None
    if conn.auth.type in ("oauth", "credentials_file", "emulator"):
        params = oauth_params(conn, settings)
        endpoint = endpoint or params.instance_url
        ca_file = params.ca_file
    return adapter_class(conn.adapter).open(name, tokens, endpoint=endpoint, ca_file=ca_file, clock=clock, sleep=sleep, options=conn.options)


def load_connection_profile(settings: Settings, name: str) -> LoadedProfile:
    """The connection's mapping profile, checked (raises ProfileError listing every problem)."""
    return load_profile(settings.resolve_mapping(settings.connections[name].mapping))


def outbox_router(settings: Settings) -> OutboxRouter:
    """Routes for every enabled connection whose profile pushes a module (unusable profiles are
    left out here; their lanes refuse to start and say why)."""
    router = OutboxRouter()
    for name, conn in settings.connections.items():
        if not conn.enabled:
            continue
        try:
            loaded = load_connection_profile(settings, name)
        except Exception:
            continue
        for obj in loaded.profile.objects:
            if obj.direction != "to_upm" and any(f.flow(obj.direction) != "to_upm" for f in obj.fields):
                router.add(obj.module, name)
    return router


def open_engine(settings: Settings, name: str, db: Database, *, clock: Clock | None = None,
                sleep: Callable[[float], None] = time.sleep) -> SyncEngine:
    """A sync engine for connection `name` on `db` (whose sessions must carry the outbox router)."""
    if name not in settings.connections:
        raise KeyError(f"no connection named '{name}' (configured: {', '.join(settings.connections) or 'none'})")
    clock = clock or SystemClock()
    loaded = load_connection_profile(settings, name)
    adapter = open_adapter(settings, name, db=db, clock=clock, sleep=sleep)
    return SyncEngine(name, db, adapter, loaded, clock, settings.leads)


def open_database(settings: Settings, clock: Clock | None = None) -> Database:
    """The datastore with its write hooks installed: every local change queues its pushes in the
    same transaction (outbox), and partners' leads are checked against their auto-registration
    rules whoever writes them (the sync engine included)."""
    from connector.leads import auto_registration

    db = Database(settings.database.url)
    outbox_router(settings).install(db)
    auto_registration.install(db, clock or SystemClock())
    return db
