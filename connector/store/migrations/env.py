"""Alembic environment: runs migrations on the connection the caller opened (see migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from connector.store import Base

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:  # the alembic command line, pointed at sqlalchemy.url
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
