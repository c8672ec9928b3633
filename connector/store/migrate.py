"""Schema migrations through Alembic, driven from Python (`upm-connector db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sqlalchemy import Connection, text

from connector.store.database import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


MIGRATION_LOCK = 0x55504D  # the PostgreSQL advisory lock key replicas queue on while migrating


def alembic_config(db: Database, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision` (idempotent).

    On PostgreSQL, replicas starting together queue on an advisory lock, so exactly one migrates
    and the others find the schema already at head.
    """
    with db.engine.connect() as connection:
        if db.backend == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        try:
            command.upgrade(alembic_config(db, connection), revision)
            connection.commit()
        finally:
            if db.backend == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()
