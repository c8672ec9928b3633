"""What every command gets from the invocation: the settings, the datastore, the token vault, a
connection's engine and adapter, and a lane lease. The one place the CLI assembles runtime parts."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

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
from connector.sync import connections
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


def database(loaded: Settings) -> Database:
    """The datastore with its write hooks installed (outbox, auto-registration)."""
    return connections.open_database(loaded)


def engine(loaded: Settings, connection: str, db: Database) -> SyncEngine:
    """The sync engine of `connection` on `db` (raises KeyError for an unknown name, ProfileError)."""
    return connections.open_engine(loaded, connection, db)


def migrated_engine(ctx: click.Context, connection: str) -> tuple[Database, SyncEngine]:
    """Database (migrated, hooks installed) and the connection's engine; usage errors exit 2."""
    loaded = settings(ctx)
    db = database(loaded)
    upgrade(db)
    try:
        return db, engine(loaded, connection, db)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from None
    except ProfileError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.exceptions.Exit(2) from None


def adapter(loaded: Settings, connection: str, db: Database) -> CrmAdapter:
    """The adapter of `connection`, ready to call its CRM."""
    return connections.open_adapter(loaded, connection, db=db)


def describer(loaded: Settings, connection: str) -> tuple[Describe | None, str]:
    """The connection's describe for `mappings check`, or None with the reason it is not available."""
    try:
        db = database(loaded)
        upgrade(db)
        crm = adapter(loaded, connection, db)
    except Exception as exc:  # unreachable or unauthorised: check what can be checked offline
        return None, f"not checked, {connection} unreachable ({type(exc).__name__}: {exc})"
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
