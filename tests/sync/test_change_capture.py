"""Writes from outside the connector: on PostgreSQL a row another application inserts or updates
with plain SQL (its own connection, no ORM) is captured by the change log's triggers and reaches the
CRM after one sync; the connector's own writes are queued once (by its session hook, never again by
the triggers), and a record pulled from the CRM is not pushed back. On SQLite only the connector's
writes are seen."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from connector.config import load_settings
from connector.runtime import Runtime
from connector.store.change_log import ChangeLogEntry
from connector.store.migrate import upgrade
from connector.store.outbox import OutboxEntry
from connector.store.records import Contact

from .conftest import SalesforceSetup, write_config


@pytest.fixture
def pg_sf(tmp_path: Path, postgres_url: str) -> Iterator[SalesforceSetup]:
    """The connection `sf` (Salesforce emulator, advanced) on a PostgreSQL schema, whatever the run's backend."""
    from crm_emulators.salesforce import EmulatorOptions, serve_in_background

    with serve_in_background(EmulatorOptions(), state_dir=tmp_path / "sf-state") as running:
        config = write_config(tmp_path, postgres_url, running.credentials, "advanced.yaml", crm="salesforce", name="sf")
        settings = load_settings(config)
        db = Runtime(settings).db
        upgrade(db)
        yield SalesforceSetup(running, settings, db, config, "sf")
        db.dispose()


def plain_sql(url: str) -> psycopg.Connection:
    """Another application's connection: psycopg straight to the same schema, no ORM, no connector setting."""
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                           password=parsed.password, dbname=parsed.database, options=parsed.query["options"],
                           autocommit=True)


def outbox_rows(sf: SalesforceSetup, record_id: int) -> int:
    with sf.db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxEntry)
                        .where(OutboxEntry.module == "contact", OutboxEntry.record_id == record_id)) or 0


def sf_contact(sf: SalesforceSetup, last_name: str) -> dict:
    (record,) = [r for r in sf.emulator.records("Contact") if r.get("LastName") == last_name]
    return record


def test_rows_written_by_plain_sql_reach_the_crm_after_one_sync(pg_sf: SalesforceSetup) -> None:
    sf = pg_sf
    with sf.db.session() as s:
        alpha = Contact(last_name="Alpha", email="alpha@acme.example")
        s.add(alpha)
    sf.run()
    assert sf_contact(sf, "Alpha")["UPM_Id__c"] == f"upm-contact-{alpha.id}"
    now = datetime.now(timezone.utc)
    with plain_sql(sf.settings.database.url) as conn:
        conn.execute("INSERT INTO contacts (last_name, email, created_at, updated_at) VALUES (%s, %s, %s, %s)",
                     ("Beta", "beta@acme.example", now, now))
        conn.execute("UPDATE contacts SET title = %s, updated_at = %s WHERE id = %s", ("CTO", now, alpha.id))
    with sf.db.session() as s:
        logged = s.execute(select(ChangeLogEntry.module, ChangeLogEntry.operation, ChangeLogEntry.processed_at)).all()
    assert sorted(logged) == [("contact", "upsert", None)] * 2
    counts = sf.run()
    assert counts.pushed == 2 and counts.failed == 0
    assert sf_contact(sf, "Beta")["Email"] == "beta@acme.example"
    assert sf_contact(sf, "Alpha")["Title"] == "CTO"
    with sf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ChangeLogEntry).where(ChangeLogEntry.processed_at.is_(None))) == 0
    assert sf.run().pushed == 0, "relayed changes are done: the next cycle sends nothing"


def test_the_connectors_own_writes_are_queued_once_and_not_logged(pg_sf: SalesforceSetup) -> None:
    sf = pg_sf
    with sf.db.session() as s:
        created = Contact(last_name="Own", email="own@acme.example")
        s.add(created)
    with sf.db.session() as s:
        s.get(Contact, created.id).title = "VP"
    assert Runtime(sf.settings, db=sf.db).outbox.relay_changes(sf.db) == 0
    with sf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ChangeLogEntry)) == 0
    assert outbox_rows(sf, created.id) == 2, "one row for the insert, one for the update, none from the trigger"


def test_a_pulled_record_is_not_pushed_back(pg_sf: SalesforceSetup) -> None:
    sf = pg_sf
    crm_id = sf.emulator.admin_upsert("Contact", {"LastName": "Gamma", "Email": "gamma@crm.example"})
    assert sf.run().created == 1
    stamp = sf.emulator.record("Contact", crm_id)["SystemModstamp"]
    with sf.db.session() as s:
        gamma = s.scalars(select(Contact).where(Contact.last_name == "Gamma")).one()
        assert s.scalar(select(func.count()).select_from(ChangeLogEntry)) == 0
    assert outbox_rows(sf, gamma.id) == 0
    assert sf.run().pushed == 0
    assert sf.emulator.record("Contact", crm_id)["SystemModstamp"] == stamp, "the CRM record was not written again"


def test_deleting_a_row_by_plain_sql_is_logged_as_a_delete(pg_sf: SalesforceSetup) -> None:
    sf = pg_sf
    with sf.db.session() as s:
        doomed = Contact(last_name="Doomed")
        s.add(doomed)
    with plain_sql(sf.settings.database.url) as conn:
        conn.execute("DELETE FROM contacts WHERE id = %s", (doomed.id,))
    assert Runtime(sf.settings, db=sf.db).outbox.relay_changes(sf.db) == 1
    with sf.db.session() as s:
        row = s.scalars(select(OutboxEntry).where(OutboxEntry.record_id == doomed.id).order_by(OutboxEntry.id.desc())).first()
        assert (row.connection, row.operation) == ("sf", "delete")
        assert s.scalar(select(ChangeLogEntry.processed_at)) is not None


def test_on_sqlite_only_the_connectors_writes_are_seen(sf: SalesforceSetup, tmp_path: Path) -> None:
    """On the run's backend the connector's ORM writes queue exactly one row each; on SQLite a plain
    SQL write is not captured (no trigger can tell another application's writes from ours)."""
    with sf.db.session() as s:
        own = Contact(last_name="Own")
        s.add(own)
    assert outbox_rows(sf, own.id) == 1
    if sf.db.backend != "sqlite":
        return
    assert sf.run().pushed == 1
    path = make_url(sf.settings.database.url).database
    with sqlite3.connect(str(path)) as conn:
        conn.execute("INSERT INTO contacts (last_name, created_at, updated_at) VALUES ('Outside', '2026-01-01', '2026-01-01')")
    with sf.db.session() as s:
        s.add(Contact(last_name="Own later"))
    assert Runtime(sf.settings, db=sf.db).outbox.relay_changes(sf.db) == 0
    assert sf.run().pushed == 1, "only the connector's own record was sent"
    assert sorted(r["LastName"] for r in sf.emulator.records("Contact")) == ["Own", "Own later"]
