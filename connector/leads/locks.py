"""Row locks for lead actions that read, decide and write (distribute, accept, pull back ...).

PostgreSQL: `SELECT ... FOR UPDATE` on the row; a second transaction waits on it, then reads the
committed row. SQLite locks the whole database: the transaction becomes a writer up front with
`BEGIN IMMEDIATE` (waiting out the busy timeout for the current writer), so what it reads next is
already the latest and no other writer can change it before the commit.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from connector.leads.errors import NotFound
from connector.store.base import Base

Row = TypeVar("Row", bound=Base)


def write_transaction(session: Session) -> None:
    """Make the session's transaction a writer now (SQLite); on PostgreSQL row locks do the work."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:  # pysqlite begins only at the first write
        dbapi.execute("BEGIN IMMEDIATE")  # the driver's own: no statement of SQLAlchemy's to build


_LOCKS: dict[type[Base], Select[Any]] = {}
"""Each model's lock statement, built once (its cache key with it)."""


def lock(session: Session, model: type[Row], key: int) -> Row:
    """Load one row for update, fresh from the database; NotFound when it does not exist."""
    write_transaction(session)
    statement = _LOCKS.get(model)
    if statement is None:
        statement = _LOCKS[model] = (select(model).where(model.__mapper__.primary_key[0] == bindparam("key"))
                                     .with_for_update().execution_options(populate_existing=True))
    row = session.scalars(statement, {"key": key}).first()
    if row is None:
        raise NotFound(f"{model.__tablename__} {key} does not exist")
    return row
