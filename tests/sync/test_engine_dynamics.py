"""Dynamics-specific engine cases: deletes read from change tracking's delta link (the cursor's
`deletes_token`), kept in the transaction of the archiving it covers, and an expired link."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from connector.cli import main
from connector.store.cursors import SyncCursor
from connector.store.records import Contact
from connector.sync.pull import Puller

from .conftest import DynamicsSetup


def seed(dyn: DynamicsSetup) -> dict[str, str]:
    ids = {"globex": dyn.emulator.admin_upsert("account", {"name": "Globex"})}
    for n in range(3):
        ids[f"c{n}"] = dyn.emulator.admin_upsert("contact", {"lastname": f"Last {n}", "emailaddress1": f"c{n}@globex.example"})
    return ids


def contact_cursor(dyn: DynamicsSetup) -> SyncCursor:
    with dyn.db.session() as s:
        return s.scalars(select(SyncCursor).where(SyncCursor.connection == "dyn", SyncCursor.module == "contact")).one()


def archived(dyn: DynamicsSetup) -> list[str]:
    with dyn.db.session() as s:
        return sorted(s.scalars(select(Contact.last_name).where(Contact.archived_at.is_not(None))))


def calls(dyn: DynamicsSetup, category: str) -> int:
    return int(dyn.emulator.stats()["api_calls"]["by_category"].get(category, 0))


def test_a_crm_delete_is_archived_through_the_delta_link_not_the_audit_log(dyn: DynamicsSetup) -> None:
    ids = seed(dyn)
    dyn.run()
    first = contact_cursor(dyn).deletes_token
    assert first and "deltatoken=" in first
    dyn.emulator.admin_delete("contact", ids["c1"])
    deltas = calls(dyn, "delta")

    assert dyn.run().archived == 1

    assert archived(dyn) == ["Last 1"]
    assert calls(dyn, "delta") > deltas and calls(dyn, "audit") == 0
    cursor = contact_cursor(dyn)
    assert cursor.deletes_token not in (None, first) and not cursor.needs_reconcile
    assert dyn.run().archived == 0


def test_the_token_moves_only_with_the_archiving_it_covers(dyn: DynamicsSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed(dyn)
    dyn.run()
    before = contact_cursor(dyn).deletes_token
    dyn.emulator.admin_delete("contact", ids["c2"])

    def crash(*args: object) -> None:
        raise RuntimeError("killed while archiving")

    with monkeypatch.context() as patched:
        patched.setattr(Puller, "_archive", crash)
        with pytest.raises(RuntimeError):
            dyn.run(only="contact")
    assert contact_cursor(dyn).deletes_token == before and archived(dyn) == []

    assert dyn.run().archived == 1
    assert archived(dyn) == ["Last 2"]


def test_an_expired_delta_link_needs_a_full_resync_and_a_fresh_link_goes_on(dyn: DynamicsSetup) -> None:
    ids = seed(dyn)
    dyn.run()
    expired = contact_cursor(dyn).deletes_token
    dyn.emulator.admin_delete("contact", ids["c0"])
    dyn.emulator.advance_clock(dyn.emulator.options.change_tracking_days * 86400 + 60)

    counts = dyn.run()

    assert counts.archived == 0 and archived(dyn) == []
    cursor = contact_cursor(dyn)
    assert cursor.needs_reconcile and cursor.deletes_token not in (None, expired)
    status = CliRunner().invoke(main, ["--config", str(dyn.config_path), "status"])
    assert "NEEDS FULL RESYNC" in status.output
    assert dyn.run("resync", full=True).archived == 1
    assert archived(dyn) == ["Last 0"] and not contact_cursor(dyn).needs_reconcile
    dyn.emulator.admin_delete("contact", ids["c1"])
    assert dyn.run().archived == 1  # the fresh link reads the deletes after the expiry
    assert archived(dyn) == ["Last 0", "Last 1"]


def test_records_bound_before_any_token_need_a_full_resync(dyn: DynamicsSetup) -> None:
    """A cursor from before the token (records bound while deletes were read another way, or a token
    lost): the deletes since then are only found by a reconcile."""
    seed(dyn)
    dyn.run()
    with dyn.db.session() as s:
        cursor = s.get(SyncCursor, ("dyn", "contact", "contact"))
        assert cursor is not None
        cursor.deletes_token = None
        s.commit()

    dyn.run()

    cursor = contact_cursor(dyn)
    assert cursor.needs_reconcile and cursor.deletes_token


def test_a_full_resync_as_the_first_run_takes_the_token_before_it_reads(dyn: DynamicsSetup) -> None:
    ids = seed(dyn)
    dyn.run("resync", full=True)
    cursor = contact_cursor(dyn)
    assert cursor.deletes_token and not cursor.needs_reconcile
    dyn.emulator.admin_delete("contact", ids["c2"])

    assert dyn.run().archived == 1
    assert archived(dyn) == ["Last 2"] and not contact_cursor(dyn).needs_reconcile
