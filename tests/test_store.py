"""The datastore: migrations match the models, timestamps stay UTC, derived values are computed."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from connector.store import Base, Database
from connector.store.migrate import current_revision, head_revision
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember, PartnerUser
from connector.store.records import Account, LineItem, Opportunity, Prospect


@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning", "ignore:.*expression-based index")
def test_migrations_create_exactly_the_models(db: Database) -> None:
    assert current_revision(db) == head_revision(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        # SQLite cannot reflect expression indexes for the comparison: look the one we have up by hand
        catalog = ("SELECT sql FROM sqlite_master WHERE name = :name" if db.backend == "sqlite"
                   else "SELECT indexdef FROM pg_indexes WHERE indexname = :name")
        folded = conn.execute(text(catalog), {"name": "ix_accounts_name_folded"}).scalar()
    assert diff == [], f"models and migrations disagree: {diff}"
    assert folded is not None and "lower(" in folded.lower(), folded


def test_timestamps_are_utc_aware_whatever_went_in(db: Database) -> None:
    paris = timezone(timedelta(hours=1))
    with db.session() as s:
        p = Prospect(email="a@example.com", last_activity_at=datetime(2026, 3, 1, 13, 0, tzinfo=paris))
        s.add(p)
    with db.session() as s:
        loaded = s.get(Prospect, p.id)
        assert loaded is not None
        assert loaded.last_activity_at == datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
        assert loaded.last_activity_at.tzinfo is not None
        assert loaded.created_at.tzinfo is not None and loaded.updated_at >= loaded.created_at


def test_timestamps_are_stored_as_utc_in_the_backends_own_form(db: Database) -> None:
    """SQLite: the text its own DATETIME type writes (naive UTC with microseconds), so stamps order
    as text and compare with values SQLAlchemy writes; PostgreSQL: timestamptz of the same instant."""
    stamps = [datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
              datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=timezone.utc)]
    with db.session() as s:
        for n, at in enumerate(stamps):
            s.add(Prospect(email=f"t{n}@example.com", last_activity_at=at))
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT last_activity_at FROM prospects ORDER BY last_activity_at")).scalars().all()
    if db.backend == "sqlite":
        assert stored == ["2026-03-01 12:00:00.000000", "2026-03-01 12:00:00.000005"]
    else:
        assert stored == [at.astimezone(timezone.utc) for at in stamps]
    with db.session() as s:
        after = s.scalars(select(Prospect.email).where(Prospect.last_activity_at > stamps[0])).all()
        assert after == ["t1@example.com"]


@pytest.mark.parametrize("stored, instant", [
    ("2026-03-01 12:00:00.000005", datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=timezone.utc)),
    ("2026-03-01 12:00:00", datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)),  # SQLite's CURRENT_TIMESTAMP
    ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)),
    ("2026-03-01 13:00:00+01:00", datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)),
    ("2026-03-01", datetime(2026, 3, 1, tzinfo=timezone.utc)),
])
def test_sqlite_text_another_writer_left_reads_back_as_the_utc_instant(tmp_path: Path, stored: str,
                                                                       instant: datetime) -> None:
    """What the datastore reads from SQLite is always an aware UTC datetime, whatever form of the
    text another application wrote (its fast parse falls back to the general one)."""
    db = Database(f"sqlite:///{tmp_path / 'stamps.db'}")
    Base.metadata.create_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO prospects (email, status, distribution_state, previous_holder_ids, lead_score, "
                          "favorite, survey_sent, created_at, updated_at, last_activity_at) VALUES "
                          "('x@example.com', 'New', 'new', '[]', 0, 0, 0, :at, :at, :at)"), {"at": stored})
    with db.session() as s:
        read = s.scalars(select(Prospect.last_activity_at)).one()
    assert read == instant and read.tzinfo is timezone.utc
    db.dispose()


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with db.session() as s:
            s.add(Prospect(email="b@example.com", last_activity_at=datetime(2026, 3, 1)))


def test_updated_at_moves_on_change(db: Database) -> None:
    with db.session() as s:
        p = Prospect(email="c@example.com")
        s.add(p)
    first = p.updated_at
    with db.session() as s:
        loaded = s.get(Prospect, p.id)
        assert loaded is not None
        loaded.status = "Accepted"
    with db.session() as s:
        again = s.get(Prospect, p.id)
        assert again is not None and again.updated_at > first


def test_opportunity_amount_is_the_sum_of_line_items(db: Database) -> None:
    with db.session() as s:
        opp = Opportunity(name="Upgrade", sales_stage=3, currency="GBP")
        for price, qty, discount in ((Decimal("100.00"), Decimal("3"), Decimal("10")), (Decimal("19.99"), Decimal("2"), Decimal("0"))):
            item = LineItem(product="Widget", sku="W-1", sales_price=price, quantity=qty, discount=discount)
            item.compute()
            opp.line_items.append(item)
        opp.recompute_amount()
        s.add(opp)
    with db.session() as s:
        loaded = s.scalars(select(Opportunity)).one()
        assert [i.total for i in loaded.line_items] == [Decimal("300.00"), Decimal("39.98")]
        assert [i.net for i in loaded.line_items] == [Decimal("270.00"), Decimal("39.98")]
        assert loaded.amount == Decimal("309.98")


@pytest.mark.parametrize("field,value", [("sales_stage", 13), ("sales_stage", 0), ("currency", "EUR")])
def test_opportunity_constraints(db: Database, field: str, value: object) -> None:
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(Opportunity(name="Bad", **{field: value}))


def test_partner_hierarchy_users_and_groups(db: Database) -> None:
    with db.session() as s:
        dist = PartnerAccount(name="Distributor", account_type="Distributor", tier="Platinum", countries=["USA", "CAN"])
        reseller = PartnerAccount(name="Reseller", parent=dist, certifications=["Cloud"], ignored_companies=["Acme"])
        rep = PartnerUser(email="rep@reseller.example", account=reseller)
        group = PartnerGroup(name="Gold EMEA", distribution_model="shark_tank")
        s.add_all([dist, reseller, rep, group])
        s.flush()
        group.members.append(PartnerGroupMember(account_id=reseller.id, user_id=rep.id))
    with db.session() as s:
        loaded = s.scalars(select(PartnerAccount).where(PartnerAccount.name == "Distributor")).one()
        assert [c.name for c in loaded.children] == ["Reseller"]
        assert loaded.countries == ["USA", "CAN"]
        assert loaded.children[0].users[0].email == "rep@reseller.example"
        group_loaded = s.scalars(select(PartnerGroup)).one()
        assert group_loaded.members[0].user_id == loaded.children[0].users[0].id


def test_partner_user_email_is_unique(db: Database) -> None:
    with pytest.raises(IntegrityError):
        with db.session() as s:
            acct = PartnerAccount(name="P")
            s.add_all([PartnerUser(email="x@p.example", account=acct), PartnerUser(email="x@p.example", account=acct)])


def test_account_defaults_to_draft_and_inactive(db: Database) -> None:
    with db.session() as s:
        s.add(Account(name="New Co"))
    with db.session() as s:
        acct = s.scalars(select(Account)).one()
        assert (acct.approval_status, acct.active, acct.archived_at) == ("Draft", False, None)


def test_a_checkpoint_folds_the_write_ahead_log_back_on_sqlite_only(db: Database) -> None:
    if db.backend != "sqlite":
        assert db.checkpoint() is None
        return
    assert db.checkpoint() == 0, "the schema is now in the database file"
    with db.session() as s:
        s.add_all(Account(name=f"Co {n}") for n in range(200))
    file_only = f"file:{db.engine.url.database}?immutable=1"  # reads the database file, not the log

    def in_file() -> int:
        with closing(sqlite3.connect(file_only, uri=True)) as conn:
            return conn.execute("SELECT count(*) FROM accounts").fetchone()[0]

    assert in_file() == 0, "the new rows are still in the log"
    assert db.checkpoint() == 0
    assert in_file() == 200


def test_the_checkpoint_lane_is_scheduled_for_sqlite_only() -> None:
    from connector.config.settings import Settings
    from connector.jobs.registry import scheduled_jobs

    def lanes(url: str) -> list[str]:
        return [spec.lane for spec in scheduled_jobs(Settings.model_validate({"database": {"url": url}}))]

    assert "store:checkpoint" in lanes("sqlite:///upm.db")
    assert "store:checkpoint" not in lanes("postgresql://db.example/upm")


def test_partner_names_become_unique_keeping_every_partner(database_url: str) -> None:
    """Revision 0019 on a datastore where two partners share a name: the oldest keeps it, the
    other is renamed (nothing is lost), then the name is a unique key."""
    from connector.store.migrate import upgrade

    db = Database(database_url)
    try:
        upgrade(db, "0016")
        with db.engine.begin() as conn:
            for name in ("Acme Resellers", "Acme Resellers", "Globex"):
                conn.execute(text("INSERT INTO partner_accounts (name, countries, states, industries, competencies, "
                                  "certifications, products, auto_accept, ignored_companies, notification_recipients, "
                                  "active, settings, created_at, updated_at) VALUES (:name, '[]', '[]', '[]', '[]', "
                                  "'[]', '[]', false, '[]', '[]', true, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                             {"name": name})
        upgrade(db)
        with db.session() as s:
            assert [(p.id, p.name) for p in s.scalars(select(PartnerAccount).order_by(PartnerAccount.id))] == [
                (1, "Acme Resellers"), (2, "Acme Resellers (partner 2)"), (3, "Globex")]
        with pytest.raises(IntegrityError), db.session() as s:
            s.add(PartnerAccount(name="Globex"))
    finally:
        db.dispose()
