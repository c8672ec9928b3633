"""The change log: writes to the UPM record tables made by other applications (PostgreSQL).

On PostgreSQL, migration 0012 puts a trigger on every CRM-synced record table (prospects,
companies, contacts, accounts, opportunities, line items, registered deals, notes, tasks,
campaigns) that adds one row here per inserted, updated or deleted record, in the writing
transaction, as Heroku Connect's trigger log does. The outbox relay turns pending rows into outbox
rows for every connection pushing that module and marks them done (`connector.sync.outbox`).

The connector's own connections carry `upm.origin = connector` (`mark_own_writes`): the trigger
skips their writes, which its session hook already queues (and routes, so a pulled record is not
pushed back to the CRM it came from). SQLite has no per-connection setting a trigger can read, so
there the table stays empty and only the connector's own writes reach the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, utcnow
from connector.store.database import Database

ORIGIN_SETTING = "upm.origin"
"""The PostgreSQL setting the capture trigger reads; `connector` on the connector's connections."""
OWN_ORIGIN = "connector"


class ChangeLogEntry(Base):
    """One record another application wrote. `processed_at`: None while the relay has not routed it."""

    __tablename__ = "upm_change_log"
    __table_args__ = (Index("ix_upm_change_log_pending", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    operation: Mapped[str] = mapped_column(String(10))  # upsert | delete
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


def mark_own_writes(db: Database) -> None:
    """PostgreSQL: every connection `db` opens from now on says its writes are the connector's, so
    the capture trigger skips them (set once per connection, kept across its transactions)."""
    if db.backend != "postgresql":
        return

    def _mark(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET {ORIGIN_SETTING} = '{OWN_ORIGIN}'")
        dbapi_connection.autocommit = autocommit

    event.listen(db.engine, "connect", _mark)
