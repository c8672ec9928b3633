"""The shared directory snapshot: reused while the directory is unchanged, replaced by any change
made through the ORM (by this process or another), never by a change that was rolled back."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from connector.config.settings import DatabaseSettings, Settings
from connector.leads import directory
from connector.leads.service import LeadService
from connector.runtime import Runtime
from connector.store import Database
from connector.store.partners import PartnerAccount, PartnerUser
from leads.conftest import Make


def _snapshot(db: Database) -> directory.Directory:
    with db.session() as s:
        return directory.of(s)


def test_an_unchanged_directory_is_read_once_and_shared(db: Database, make: Make) -> None:
    make.partner("Alpha")
    first = _snapshot(db)
    assert _snapshot(db) is first
    assert [p.name for p in first.partners.values()] == ["Alpha"]


def test_a_change_by_another_process_is_seen_by_the_next_decision(db: Database, make: Make,
                                                                 service: LeadService) -> None:
    alpha, beta = make.partner("Alpha"), make.partner("Beta")
    service.save_rules([{"name": "to alpha", "priority": 1, "target": f"account:{alpha}"},
                        {"name": "to beta", "priority": 2, "target": f"account:{beta}"}])
    assert service.distribute(make.lead()).account_id == alpha
    other = Runtime(Settings(database=DatabaseSettings(url=db.url))).db  # another daemon on the same database
    try:
        with other.session() as s:
            s.get(PartnerAccount, alpha).active = False
    finally:
        other.dispose()
    assert service.distribute(make.lead()).account_id == beta


def test_bulk_orm_statements_change_the_version(db: Database, make: Make) -> None:
    alpha = make.partner("Alpha")
    before = _snapshot(db)
    with db.session() as s:
        s.execute(update(PartnerUser).where(PartnerUser.account_id == alpha).values(approved=False))
    after = _snapshot(db)
    assert after is not before and after.partners[alpha].approved_users == ()


def test_a_rolled_back_change_leaves_no_trace(db: Database, make: Make) -> None:
    alpha = make.partner("Alpha")
    with pytest.raises(RuntimeError), db.session() as s:
        s.get(PartnerAccount, alpha).name = "Renamed"
        assert directory.of(s).partners[alpha].name == "Renamed", "the transaction sees its own change"
        raise RuntimeError("abandon the transaction")
    assert _snapshot(db).partners[alpha].name == "Alpha"


def test_a_change_written_in_sql_is_seen_once_the_version_is_bumped_by_hand(db: Database, make: Make) -> None:
    alpha = make.partner("Alpha")
    _snapshot(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE partner_accounts SET tier = 'Gold'"))
    assert _snapshot(db).partners[alpha].tier is None, "a raw SQL change bypasses the version"
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE directory_version SET token = 'manual-1'"))
    assert _snapshot(db).partners[alpha].tier == "Gold"
