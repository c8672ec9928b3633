"""The partner directory's version: one row whose token changes in every transaction that changes a
partner account, partner user, partner group, group membership or assignment rule.

Lead distribution keeps a decoded snapshot of that directory in memory (connector.leads.directory)
and reads this one row per transaction to know whether the snapshot is still the database's. The
token is random, so a rolled-back change never matches a committed one, and the hook below bumps
it in the same transaction as the change (installed on a Database by `install`), whichever
process or replica makes it through the ORM
(unit of work or ORM-enabled bulk insert/update/delete). A change written by hand in SQL must
bump it too: `UPDATE directory_version SET token = 'manual-<anything new>'`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, event, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

from connector.store.base import Base
from connector.store.database import Database, read_connection
from connector.store.distribution import AssignmentRule
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember, PartnerUser

DIRECTORY_MODELS: tuple[type[Base], ...] = (PartnerAccount, PartnerUser, PartnerGroup, PartnerGroupMember,
                                            AssignmentRule)
ROW_ID = 1


class DirectoryVersion(Base):
    """The single row holding the directory's current version token."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64))


def current_token(session: Session) -> str | None:
    """The directory's version as this transaction sees it (None before any change was recorded)."""
    return read_connection(session).execute(_TOKEN).scalar()


_TOKEN = select(DirectoryVersion.token).where(DirectoryVersion.id == ROW_ID)
"""Built once (its cache key with it): read in every distributing transaction."""


SNAPSHOT_KEY = "directory_snapshot"
"""Where a reader may keep the snapshot it made for the session's transaction (`session.info`);
`bump` drops it, so the transaction's own changes are read afresh."""


def bump(session: Session) -> None:
    """Give the directory a new version in the session's transaction."""
    session.info.pop(SNAPSHOT_KEY, None)
    dialect = session.connection().dialect.name
    insert: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
    token = uuid.uuid4().hex
    statement = insert(DirectoryVersion).values(id=ROW_ID, token=token)
    session.connection().execute(statement.on_conflict_do_update(index_elements=["id"], set_={"token": token}))


def _changes_directory(session: Session) -> bool:
    if any(isinstance(o, DIRECTORY_MODELS) for o in (*session.new, *session.deleted)):
        return True
    return any(isinstance(o, DIRECTORY_MODELS) and session.is_modified(o) for o in session.dirty)


def install(db: Database) -> None:
    """Bump the version in every session of `db` that changes the directory (install once)."""
    event.listen(db.sessions, "before_flush", _bump_on_flush)
    event.listen(db.sessions, "do_orm_execute", _bump_on_bulk_statement)


def _bump_on_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    if _changes_directory(session):
        bump(session)


def _bump_on_bulk_statement(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and state.bind_mapper is not None \
            and issubclass(state.bind_mapper.class_, DIRECTORY_MODELS):
        bump(state.session)
