"""The one place that assembles the parts: the datastore with every session hook it carries, and
each connection's adapter and sync engine, the outbox router and the lead service, all built from
the Settings. The CLI, the daemon, the API and the benchmarks start here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.adapters.base import CrmAdapter, Tokens, adapter_class
from connector.auth.keys import keyring, load_keys
from connector.auth.oauth import OAuthClient, oauth_params
from connector.auth.vault import TokenVault
from connector.clock import Clock, SystemClock
from connector.config.settings import SHARED_AUTH_TYPES, ConnectionSettings, Settings
from connector.leads import auto_registration, scoring
from connector.leads.service import LeadService
from connector.mapping.loader import LoadedProfile, load_connection_profile, load_profile
from connector.store import directory_version
from connector.store.database import Database
from connector.store.partner_connections import PartnerConnection
from connector.store.partners import PartnerAccount
from connector.sync.engine import SyncEngine
from connector.sync.outbox import OutboxRouter
from connector.sync.scope import PartnerScope

log = logging.getLogger(__name__)


class Runtime:
    """Built from the Settings: opens the datastore and installs its session hooks (`install_hooks`),
    then hands out adapters, engines, the outbox router and the lead service.

    `db`: a datastore that a Runtime on the same settings already opened (its hooks installed), for
    a part that is handed the database, such as a daemon job."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep, db: Database | None = None):
        self.settings = settings
        self.configured = dict(settings.connections)
        """The config file's connections; `settings.connections` adds the stored partner connections."""
        self.clock = clock or SystemClock()
        self.sleep = sleep
        if db is None:
            db = Database(settings.database.url)
            self.install_hooks(db)
        self.db = db

    def install_hooks(self, db: Database) -> None:
        """Every hook the datastore's sessions carry, each in the writing transaction: the partner
        directory's version moves with every directory change; each local change queues its pushes
        (outbox); partners' leads are checked against their auto-registration rules, whoever writes
        them (the sync engine included); new activities, new leads and changed lead fields are scored."""
        directory_version.install(db)
        self.outbox.install(db)
        auto_registration.install(db, self.clock)
        scoring.install(db, self.clock, self.settings.leads.review_recipients)

    def refresh_connections(self) -> bool:
        """Read the stored partner connections (enabled ones, of active partners) into
        `settings.connections` beside the configured ones, each as a `role: partner` connection, and
        rebuild the outbox routes when the set changed. Returns whether it changed. A row that no
        longer validates is logged and left out."""
        stored: dict[str, ConnectionSettings] = {}
        with self.db.session() as session:
            rows = session.execute(select(PartnerConnection, PartnerAccount.name)
                                   .join(PartnerAccount, PartnerAccount.id == PartnerConnection.partner_account_id)
                                   .where(PartnerConnection.enabled.is_(True), PartnerAccount.active.is_(True))
                                   .order_by(PartnerConnection.id)).all()
            for row, partner in rows:
                if row.name in self.configured:
                    continue
                try:
                    stored[row.name] = connection_settings(row, partner)
                except ValidationError as exc:
                    log.error("stored connection %s left out: %s", row.name, exc.errors()[0]["msg"])
        merged = {**self.configured, **stored}
        if merged == self.settings.connections:
            return False
        self.settings = self.settings.model_copy(update={"connections": merged})
        if "outbox" in self.__dict__:
            self.outbox.replace(self._routes())
        return True

    def profile(self, name: str) -> LoadedProfile:
        """The connection's mapping profile, checked (raises ProfileError listing every problem)."""
        return load_connection_profile(self.settings, name)

    @cached_property
    def outbox(self) -> OutboxRouter:
        """Routes for every enabled connection whose profile pushes a module (unusable profiles are
        left out here; their lanes refuse to start and say why); a partner connection's routes
        carry its scope. `refresh_connections` replaces them when the stored connections change."""
        return self._routes()

    def _routes(self) -> OutboxRouter:
        router = OutboxRouter()
        profiles: dict[Path, LoadedProfile | None] = {}  # one load a file: partners share shipped profiles
        for name, conn in self.settings.connections.items():
            if not conn.enabled:
                continue
            path = self.settings.resolve_mapping(conn.mapping)
            if path not in profiles:
                try:
                    profiles[path] = load_profile(path)
                except Exception:
                    profiles[path] = None
            loaded = profiles[path]
            if loaded is None:
                continue
            for obj in loaded.profile.objects:
                if obj.direction != "to_upm" and any(f.flow(obj.direction) != "to_upm" for f in obj.fields):
                    router.add(obj.module, name, self.scope(name))
                if obj.writeback is not None:
                    router.add(obj.module, name, self.scope(name), fate=True)
        return router

    def scope(self, name: str) -> PartnerScope | None:
        """What a partner connection may receive (None: a vendor connection, which receives all)."""
        conn = self.settings.connections[name]
        if conn.role != "partner" or conn.partner_account is None:
            return None
        return PartnerScope(name, conn.partner_account)

    @cached_property
    def leads(self) -> LeadService:
        """The lead distribution service on this runtime's datastore."""
        return LeadService(self.db, self.settings.leads, self.clock)

    def tokens(self, name: str) -> Tokens:
        """The Tokens a connection's adapter uses: an auth variant its adapter supplies itself (a
        static token), else OAuth through the vault."""
        conn = self.settings.connections[name]
        static = adapter_class(conn.adapter).static_tokens(conn.auth)
        if static is not None:
            return static
        vault = TokenVault(self.db, keyring(load_keys(self.settings)), self.clock)
        return OAuthClient(name, oauth_params(conn, self.settings), vault, self.clock)

    def adapter(self, name: str) -> CrmAdapter:
        """The adapter for connection `name`, ready to call the CRM."""
        conn = self.settings.connections[name]
        endpoint = conn.instance_url
        ca_file = None
        if conn.auth.type in SHARED_AUTH_TYPES:
            params = oauth_params(conn, self.settings)
            endpoint = endpoint or params.instance_url
            ca_file = params.ca_file
        return adapter_class(conn.adapter).open(name, self.tokens(name), endpoint=endpoint, ca_file=ca_file,
                                                clock=self.clock, sleep=self.sleep, options=conn.options)

    def engine(self, name: str) -> SyncEngine:
        """A sync engine for connection `name` on this runtime's datastore; the leads its pulls create
        are distributed by the lead service."""
        if name not in self.settings.connections:
            self.refresh_connections()
        if name not in self.settings.connections:
            raise KeyError(f"no connection named '{name}' (configured: {', '.join(self.settings.connections) or 'none'})")
        actor = f"crm:{name}"

        def distribute(session: Session, prospects: list[Any]) -> None:
            for prospect in prospects:
                self.leads.place(session, prospect, actor=actor)

        return SyncEngine(name, self.db, self.adapter(name), self.profile(name), self.clock,
                          outbox=self.outbox, on_new_prospects=distribute,
                          scope=self.outbox.scopes.get(name) or self.scope(name))


def connection_settings(row: PartnerConnection, partner: str) -> ConnectionSettings:
    """A stored partner connection as the settings of a `role: partner` connection of `partner`
    (raises ValidationError)."""
    return ConnectionSettings.model_validate({
        "adapter": row.adapter, "role": "partner", "partner_account": partner, "instance_url": row.instance_url,
        "auth": row.auth, "mapping": row.profile, "options": row.options, "enabled": row.enabled,
        **({"schedule": row.schedule} if row.schedule else {}),
    })
