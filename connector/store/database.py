"""Engine and sessions for the datastore, with the per-backend settings a daemon needs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from connector.extras import require


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


InsertHook = Callable[[Session, str, Sequence[int]], None]
"""(session, table name, new row ids): see `Database.inserted`."""

SQLITE_AUTOCHECKPOINT_PAGES = 10_000
"""The write-ahead log size (pages of 4 KiB) at which a committing transaction folds it into the
database file itself. The daemon checkpoints in the background long before (`Database.checkpoint`,
run by the `store:checkpoint` lane), so no commit pays for it; this is the safety net."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the HTTP API read while a lane writes; the busy timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
    cursor.close()


def json_text(value: Any) -> str:
    """JSON columns' text, by orjson (several times the standard library's speed; a bulk pull
    writes one echo-values document per record). Non-string keys become strings, as json.dumps
    makes them; what orjson refuses (an integer beyond 64 bits) goes to json.dumps, which takes it
    or names what it cannot write. Reading stays the standard library's, which keeps such integers
    exact."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def read_connection(session: Session) -> Connection:
    """The session's connection for a Core read, after what an ORM query's autoflush would do
    (pending changes flushed unless autoflush is off), so the read sees the same rows; Core skips
    the ORM's per-query overhead."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection()


class Database:
    """One engine and its session factory.

    Use `with db.session() as s:` for a unit of work: it commits on success and rolls back on error.
    """

    def __init__(self, url: str, *, echo: bool = False):
        self.url = normalise_url(url)
        backend = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True, "json_serializer": json_text}
        if backend == "postgresql":
            require("psycopg", "postgres", "a PostgreSQL database")
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.backend = backend
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        """The session factory (event hooks such as the outbox router attach here)."""
        self.insert_hooks: list[InsertHook] = []
        """Called by `inserted` for rows a bulk INSERT wrote, which no session hook sees."""

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    def inserted(self, session: Session, table: str, ids: Sequence[int]) -> None:
        """Tell the insert hooks that a bulk INSERT wrote rows `ids` of `table` in `session`'s
        transaction (they run in it)."""
        for hook in self.insert_hooks:
            hook(session, table, ids)

    def new_session(self) -> Session:
        """A session whose transactions the caller manages."""
        return self.sessions()

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def checkpoint(self) -> int | None:
        """SQLite: fold the write-ahead log into the database file without blocking readers or
        writers (a PASSIVE checkpoint); returns the log pages still not written back (0: all; more
        while a reader holds an older snapshot). PostgreSQL: None (it checkpoints itself)."""
        if self.backend != "sqlite":
            return None
        with self.engine.connect() as conn:
            _busy, logged, written = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            return max(0, int(logged) - int(written))

    def is_empty(self) -> bool:
        """True when no table of ours exists yet (a fresh database)."""
        return not inspect(self.engine).get_table_names()

    def has_table(self, name: str) -> bool:
        """Whether the table exists (raises OperationalError when the database does not answer)."""
        return inspect(self.engine).has_table(name)

    def dispose(self) -> None:
        self.engine.dispose()
