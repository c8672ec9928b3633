"""Lead distribution fixtures: the datastore, a LeadService on a ManualClock, and a factory of
partners and leads."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import pytest
from conftest import PostgresSchema
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from connector.clock import ManualClock
from connector.config.settings import LeadSettings, Settings
from connector.leads.service import LeadService
from connector.runtime import Runtime
from connector.store import Database
from connector.store.assignments import AssignmentHistory, LeadStatusHistory, RecordAssignment
from connector.store.migrate import upgrade
from connector.store.notifications import Notification
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember, PartnerUser
from connector.store.records import Account, Prospect

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
CAM = "cam@vendor.example"


class Make:
    """Creates partners, users, groups, named accounts and leads; reads back what tests check."""

    def __init__(self, db: Database):
        self.db = db

    def partner(self, name: str, *, users: int = 1, countries: Sequence[str] = ("US",), **fields: Any) -> int:
        """A partner account with `users` approved active users (name@partner.example)."""
        slug = name.lower().replace(" ", "-")
        with self.db.session() as s:
            account = PartnerAccount(name=name, countries=list(countries), **fields)
            s.add(account)
            s.flush()
            for n in range(users):
                s.add(PartnerUser(account_id=account.id, email=f"rep{n}@{slug}.example"))
            return account.id

    def user(self, account_id: int, email: str, **fields: Any) -> int:
        with self.db.session() as s:
            user = PartnerUser(account_id=account_id, email=email, **fields)
            s.add(user)
            s.flush()
            return user.id

    def partner_ids(self) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(select(PartnerAccount.id).order_by(PartnerAccount.id)))

    def users_of(self, account_id: int) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(select(PartnerUser.id).where(PartnerUser.account_id == account_id)
                                  .order_by(PartnerUser.id)))

    def group(self, name: str, account_ids: Iterable[int], *, model: str = "round_robin",
              reps: dict[int, int] | None = None) -> int:
        with self.db.session() as s:
            group = PartnerGroup(name=name, distribution_model=model)
            for position, account_id in enumerate(account_ids):
                group.members.append(PartnerGroupMember(account_id=account_id, position=position,
                                                        user_id=(reps or {}).get(account_id)))
            s.add(group)
            s.flush()
            return group.id

    def named_account(self, name: str, partner_id: int, rep_id: int | None = None) -> int:
        with self.db.session() as s:
            account = Account(name=name, named=True, partner_account_id=partner_id, named_rep_id=rep_id)
            s.add(account)
            s.flush()
            return account.id

    def lead(self, **fields: Any) -> int:
        values: dict[str, Any] = {"email": "lead@customer.example", "first_name": "Lee", "last_name": "Ead",
                                  "country": "US", "status": "Open", "company_name": "Customer Inc"}
        values.update(fields)
        with self.db.session() as s:
            prospect = Prospect(**values)
            s.add(prospect)
            s.flush()
            return prospect.id

    def update(self, model: type[Any], key: int, **fields: Any) -> None:
        with self.db.session() as s:
            row = s.get(model, key)
            for name, value in fields.items():
                setattr(row, name, value)

    def prospect(self, prospect_id: int) -> Prospect:
        with self.db.session() as s:
            found = s.get(Prospect, prospect_id)
            assert found is not None
            return found

    def grants(self, record_id: int, module: str = "prospect") -> set[tuple[str, int, str]]:
        """Active grants as (assignee type, assignee id, access type)."""
        with self.db.session() as s:
            return {(g.assignee_type, g.assignee_id, g.access_type) for g in s.scalars(
                select(RecordAssignment).where(RecordAssignment.record_module == module,
                                               RecordAssignment.record_id == record_id,
                                               RecordAssignment.revoked_at.is_(None)))}

    def statuses(self, prospect_id: int) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(LeadStatusHistory.status).where(LeadStatusHistory.prospect_id == prospect_id)
                                  .order_by(LeadStatusHistory.id)))

    def assignment_actions(self, prospect_id: int) -> list[tuple[str, str, int]]:
        with self.db.session() as s:
            return [(h.action, h.assignee_type, h.assignee_id) for h in s.scalars(
                select(AssignmentHistory).where(AssignmentHistory.record_module == "prospect",
                                                AssignmentHistory.record_id == prospect_id)
                .order_by(AssignmentHistory.id))]

    def emails(self, kind: str | None = None) -> list[tuple[str, str]]:
        """Queued notifications as (kind, recipient), in order."""
        with self.db.session() as s:
            query = select(Notification).order_by(Notification.id)
            if kind is not None:
                query = query.where(Notification.kind == kind)
            return [(n.kind, n.recipient) for n in s.scalars(query)]


class MigratedSchema:
    """One PostgreSQL schema migrated once per run, emptied before each test: the same fresh
    datastore the suite's `db` gives, without migrating a schema per test (about a second each)."""

    def __init__(self, schema: PostgresSchema):
        self.url = schema.url
        database = Database(self.url)
        upgrade(database)
        with database.engine.connect() as conn:
            self.tables = list(conn.scalars(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'")))
            self.sequences = list(conn.scalars(text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")))
        database.dispose()

    def emptied(self) -> Database:
        database = Database(self.url)
        with database.engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))  # a test left a transaction open: fail, not hang
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # no FK checks while emptying
            for table in self.tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            for sequence in self.sequences:
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        return database


@pytest.fixture(scope="session")
def migrated_schema() -> Iterator[MigratedSchema | None]:
    url = os.environ.get("UPM_TEST_DATABASE_URL")
    if not url or make_url(url).get_backend_name() != "postgresql":
        yield None
        return
    with PostgresSchema(url) as schema:
        yield MigratedSchema(schema)


@pytest.fixture
def db(request: pytest.FixtureRequest, migrated_schema: MigratedSchema | None, clock: ManualClock,
       settings: LeadSettings) -> Iterator[Database]:
    """A migrated, empty datastore on the run's backend (the suite's `db`, faster on PostgreSQL),
    with the session hooks the Runtime installs."""
    if migrated_schema is None:
        database = Database(request.getfixturevalue("database_url"))
        upgrade(database)
    else:
        database = migrated_schema.emptied()
    Runtime(Settings(leads=settings), clock=clock, db=database).install_hooks(database)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings() -> LeadSettings:
    return LeadSettings()


@pytest.fixture
def service(db: Database, settings: LeadSettings, clock: ManualClock) -> LeadService:
    return LeadService(db, settings, clock, review_recipients=[CAM])


@pytest.fixture
def make(db: Database) -> Make:
    return Make(db)
