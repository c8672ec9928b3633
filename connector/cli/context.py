"""What every command gets from the invocation: the settings, the Runtime (the datastore with its
hooks, engines, adapters, the lead service), the token vault, and a lane lease. The one place the
CLI assembles runtime parts: one Runtime per invocation."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from connector.adapters.base import CrmAdapter
from connector.auth.keys import keyring, load_keys
from connector.auth.vault import TokenVault
from connector.clock import SystemClock
from connector.config import ConfigError, Settings, load_settings
from connector.daemon.lease import LeaseStore
from connector.logs import configure_logging
from connector.mapping.loader import Describe, ProfileError
from connector.store.database import Database
from connector.store.migrate import upgrade
from connector.store.partner_connections import PartnerConnection
from connector.leads.service import LeadService
from connector.runtime import Runtime
from connector.sync.engine import SyncEngine


def settings(ctx: click.Context) -> Settings:
    """Load the configuration once per invocation; on bad input print every problem and exit 2."""
    obj = ctx.find_root().ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config_path"))
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(2)
        loaded = obj["settings"]
        configure_logging(loaded.logging.level, loaded.logging.format)
    result: Settings = obj["settings"]
    return result


def bare_database(loaded: Settings) -> Database:
    """The datastore without write hooks (schema commands, exports, the token vault)."""
    return Database(loaded.database.url)


def token_vault(loaded: Settings) -> TokenVault:
    """The token vault on the (migrated) datastore, under the configured keys."""
    db = bare_database(loaded)
    upgrade(db)
    return TokenVault(db, keyring(load_keys(loaded)), SystemClock())


def runtime(loaded: Settings) -> Runtime:
    """This invocation's Runtime (built once, on first use)."""
    obj = click.get_current_context().find_root().ensure_object(dict)
    if "runtime" not in obj:
        fresh = Runtime(loaded)
        try:
            if fresh.db.has_table(PartnerConnection.__tablename__):  # a datastore not migrated yet has none
                fresh.refresh_connections()  # the stored partner connections: engines, outbox routes
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            url = make_url(fresh.db.url).render_as_string(hide_password=True)
            click.echo(f"error: database.url: the datastore {url} does not answer ({type(exc).__name__}: {reason})", err=True)
            raise click.exceptions.Exit(1) from None
        obj["runtime"] = fresh
    built: Runtime = obj["runtime"]
    return built


def database(loaded: Settings) -> Database:
    """The datastore with its write hooks installed (outbox, directory version, auto-registration)."""
    return runtime(loaded).db


def lead_service(loaded: Settings) -> LeadService:
    """The lead distribution service on this invocation's datastore."""
    return runtime(loaded).leads


def engine(loaded: Settings, connection: str) -> SyncEngine:
    """The sync engine of `connection` on this invocation's datastore (raises KeyError for an
    unknown name, ProfileError)."""
    return runtime(loaded).engine(connection)


def migrated_engine(ctx: click.Context, connection: str) -> tuple[Database, SyncEngine]:
    """Database (migrated, hooks installed) and the connection's engine; usage errors exit 2."""
    loaded = settings(ctx)
    db = database(loaded)
    upgrade(db)
    try:
        return db, engine(loaded, connection)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from None
    except ProfileError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.exceptions.Exit(2) from None


def adapter(loaded: Settings, connection: str) -> CrmAdapter:
    """The adapter of `connection`, ready to call its CRM."""
    return runtime(loaded).adapter(connection)


def describer(loaded: Settings, connection: str) -> tuple[Describe | None, str]:
    """The connection's describe for `mappings check`, or None with the reason it is not available."""
    try:
        db = database(loaded)
        upgrade(db)
        crm = adapter(loaded, connection)
    except Exception as exc:  # unreachable or unauthorised: check what can be checked offline
        return None, f"{connection} unreachable ({type(exc).__name__}: {exc})"
    return crm.describe, f"checked against {connection}"


@contextmanager
def lane_lease(loaded: Settings, db: Database, lane: str) -> Iterator[None]:
    """Hold `lane`'s lease while a command does that lane's work, as the daemon's lanes do, so a
    command and a daemon never run one lane at once."""
    leases = LeaseStore(db, f"cli:{socket.gethostname()}:{os.getpid()}", loaded.daemon.lease_seconds, SystemClock())
    if not leases.acquire(lane):
        raise click.ClickException(f"lane {lane} is running in a daemon right now; try again when it finishes")
    with leases.held(lane, threading.Event()):
        yield
