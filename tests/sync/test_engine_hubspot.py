"""The sync engine against the HubSpot emulator, cases of its own (the shared contract is in
test_engine_contract.py), in advanced mode (bi-directional)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.clock import ManualClock
from connector.store.bindings import Binding
from connector.store.conflicts import Conflict
from connector.store.failures import FailedRecord
from connector.store.outbox import OutboxEntry
from connector.store.records import Account, Contact
from connector.runtime import Runtime
from connector.sync.summary import Counts

from .conftest import HubSpotSetup


def seed_crm(hs: HubSpotSetup) -> dict[str, str]:
    ids = {}
    for n in range(3):
        ids[f"company{n}"] = hs.emulator.admin_upsert(0, "companies", {"name": f"Company {n}", "country": "United States", "industry": "Software"})
    for n in range(5):
        ids[f"contact{n}"] = hs.emulator.admin_upsert(0, "contacts", {"email": f"Person{n}@Example.COM", "firstname": "P", "lastname": f"Person {n}"})
    return ids


def count(hs: HubSpotSetup, model: type) -> int:
    with hs.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_initial_load_maps_values_and_binds(hs: HubSpotSetup) -> None:
    ids = seed_crm(hs)
    counts = hs.cycle()
    assert (counts.read, counts.created, counts.failed) == (8, 8, 0)
    with hs.db.session() as s:
        account = s.scalars(select(Account).where(Account.name == "Company 1")).one()
        assert account.billing_country == "USA", "value map applied"
        contact = s.scalars(select(Contact).where(Contact.last_name == "Person 2")).one()
        assert contact.email == "person2@example.com", "trim and lower applied"
        binding = s.scalars(select(Binding).where(Binding.module == "contact", Binding.record_id == contact.id)).one()
        assert binding.crm_id == ids["contact2"] and binding.connection == "hs"
    # Nothing changed: the next cycle writes nothing on either side and pushes nothing.
    upserts = hs.writes()
    again = hs.cycle()
    assert (again.created, again.updated, again.pushed) == (0, 0, 0)
    assert hs.writes() == upserts


@pytest.mark.parametrize("later", ["crm", "upm"])
def test_same_field_conflict_goes_to_the_later_stamp_and_is_logged(hs: HubSpotSetup, later: str) -> None:
    ids = seed_crm(hs)
    hs.cycle()
    if later == "crm":
        with hs.db.session() as s:
            s.scalars(select(Contact).where(Contact.last_name == "Person 4")).one().phone = "upm-phone"
        hs.emulator.advance_clock(3600)  # the CRM edit happens an hour later
        hs.emulator.admin_upsert(0, "contacts", {"phone": "crm-phone"}, id=ids["contact4"])
    else:
        hs.emulator.admin_upsert(0, "contacts", {"phone": "crm-phone"}, id=ids["contact4"])
        with hs.db.session() as s:
            local = s.scalars(select(Contact).where(Contact.last_name == "Person 4")).one()
            local.phone = "upm-phone"
            local.updated_at = local.updated_at + timedelta(hours=2)  # the UPM edit is the later one
    hs.cycle()
    hs.cycle()
    expected = f"{later}-phone"
    (crm,) = [c for c in hs.crm("contacts") if c.get("lastname") == "Person 4"]
    assert crm["phone"] == expected
    with hs.db.session() as s:
        assert s.scalars(select(Contact.phone).where(Contact.last_name == "Person 4")).one() == expected
        (conflict,) = s.scalars(select(Conflict)).all()
        assert (conflict.field, conflict.upm_value, conflict.crm_value, conflict.winner) == ("phone", "upm-phone", "crm-phone", later)


def test_the_lane_reads_the_delete_log_only_every_deletes_every_seconds(hs: HubSpotSetup) -> None:
    ids = seed_crm(hs)
    start = datetime.now(timezone.utc)

    def lane_cycle(minutes: float):  # type: ignore[no-untyped-def]
        """A cycle as the daemon's lane runs it, `minutes` after the first."""
        engine = Runtime(hs.settings, clock=ManualClock(start + timedelta(minutes=minutes)), db=hs.db).engine("hs")
        try:
            return engine.cycle(deletes="due")
        finally:
            engine.adapter.close()

    lane_cycle(0)
    assert hs.calls("list") == 0, "a first read has nothing bound that could have been deleted: no delete log call"
    hs.emulator.admin_archive(0, "companies", ids["company2"])
    between = lane_cycle(10)
    assert between.archived == 0, "the delete log is read every 15 minutes (the profile's default)"
    due = lane_cycle(16)
    assert due.archived == 1
    assert due.api_calls == 2 * between.api_calls, "changes, plus the delete log, per object"


def test_rejected_record_goes_to_failures_and_the_batch_goes_on(hs: HubSpotSetup) -> None:
    with hs.db.session() as s:
        contacts = [Contact(email=f"c{n}@p.example", last_name=f"C{n}") for n in range(4)]
        s.add_all(contacts)
    bad = f"upm-contact-{contacts[1].id}"
    hs.emulator.add_fault({"type": "record_error", "values": [bad], "count": 1000, "portal": 0,
                           "category": "VALIDATION_ERROR", "message": "Phone is required by a validation rule"})
    counts = hs.cycle()
    assert (counts.pushed, counts.failed) == (3, 1)
    with hs.db.session() as s:
        (failure,) = s.scalars(select(FailedRecord)).all()
        assert failure.record_id == contacts[1].id and "validation rule" in failure.error_message
        assert failure.payload["upm_id"] == bad
    # The cause is fixed in the CRM; the failure is retried and goes through.
    hs.emulator.clear_faults()
    from connector.sync.failures import list_failures, retry_pushes

    retry_pushes(hs.db, list_failures(hs.db, "hs"))
    assert hs.cycle().pushed == 1
    assert len([c for c in hs.crm("contacts") if c.get("upm_id") == bad]) == 1


def test_dry_run_writes_nothing_anywhere(hs: HubSpotSetup) -> None:
    seed_crm(hs)
    with hs.db.session() as s:
        s.add(Contact(email="dry@p.example", last_name="Dry"))
    upserts = hs.writes()
    counts = hs.cycle(dry_run=True)
    assert counts.created == 8 and counts.pushed == 1
    assert any("contacts" in line and "UPM contact" in line for line in counts.changes)
    assert count(hs, Account) == 0 and count(hs, Contact) == 1
    assert hs.writes() == upserts
    with hs.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == "pending")) == 1


def test_progress_is_reported_per_page_and_batch(hs: HubSpotSetup) -> None:
    seed_crm(hs)
    with hs.db.session() as s:
        s.add(Contact(email="prog@p.example", last_name="Progress"))
    steps: dict[str, int] = {}
    totals: dict[str, int | None] = {}

    def progress(step: str, n: int, total: int | None) -> None:
        steps[step] = steps.get(step, 0) + n
        totals[step] = total

    engine = hs.engine()
    try:
        engine.cycle(progress=progress)
    finally:
        engine.adapter.close()
    assert steps == {"pull account": 3, "pull contact": 5, "push contact": 1}
    assert totals == {"pull account": None, "pull contact": None, "push contact": 1}, "a push knows its total"


def test_a_dry_run_push_shows_each_field_old_and_new_and_counts_per_object(hs: HubSpotSetup) -> None:
    with hs.db.session() as s:
        contact = Contact(email="dry@p.example", last_name="Dry")
        s.add(contact)
    hs.cycle()
    with hs.db.session() as s:
        s.get(Contact, contact.id).last_name = "Wet"
    counts = hs.cycle(dry_run=True)
    (crm_id,) = [c["id"] for c in hs.crm("contacts") if c.get("email") == "dry@p.example"]
    assert f'contacts {crm_id} <- UPM contact {contact.id}: last_name "Dry" -> "Wet"' in counts.changes
    assert counts.objects["contact <-> contacts"].pushed == 1
    assert sum(part.pushed for part in counts.objects.values()) == counts.pushed


def first_load_through(hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch, reads: Callable[[Any], Any]) -> Counts:
    """One first-load cycle in batches of two records, the adapter's `read_changes` replaced by
    `reads(the real read_changes)` (to stage what happens between the CRM's pages)."""
    monkeypatch.setattr("connector.sync.pull.APPLY_BATCH", 2)
    engine = hs.engine()
    monkeypatch.setattr(engine.adapter, "read_changes", reads(engine.adapter.read_changes))
    try:
        return engine.cycle()
    finally:
        engine.adapter.close()


def test_a_record_bound_elsewhere_during_a_first_load_is_merged_not_created_again(
        hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first load assumes the records it has not pulled yet are unbound; another writer (the
    Assign to Partner page fetching one lead) may bind one of them meanwhile. The batch that meets
    it looks its bindings up and goes on: the load does not fail, the record is not created twice."""
    ids = seed_crm(hs)

    def meanwhile(read_changes):  # type: ignore[no-untyped-def]
        def reads(crm_object, since, fields):  # type: ignore[no-untyped-def]
            for number, page in enumerate(read_changes(crm_object, since, fields)):
                yield page
                if crm_object == "contacts" and number == 0:  # another writer binds the last contact
                    with hs.db.session() as s:
                        contact = Contact(email="person4@example.com", first_name="P", last_name="Bound elsewhere")
                        s.add(contact)
                        s.flush()
                        s.add(Binding(connection="hs", module="contact", record_id=contact.id, crm_object="contacts",
                                      crm_id=ids["contact4"], synced_values={}))
        return reads
    counts = first_load_through(hs, monkeypatch, meanwhile)
    assert counts.failed == 0
    assert count(hs, Contact) == 5
    with hs.db.session() as s:
        bound = s.scalars(select(Binding.crm_id).where(Binding.module == "contact")).all()
        assert sorted(bound) == sorted(ids[f"contact{n}"] for n in range(5))
        elsewhere = s.scalars(select(Contact.id).where(Contact.email == "person4@example.com")).one()
        assert s.scalars(select(Binding.record_id).where(Binding.crm_id == ids["contact4"])).one() == elsewhere


def test_a_first_load_that_reads_a_record_twice_binds_it_once(hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first load skips the binding lookups of records it has not pulled yet; a record read again
    in a later batch (HubSpot re-anchoring at its search cap) is still looked up, not created twice."""
    seed_crm(hs)

    def twice(read_changes):  # type: ignore[no-untyped-def]
        def reads(crm_object, since, fields):  # type: ignore[no-untyped-def]
            pages = [list(p) for p in read_changes(crm_object, since, fields)]
            yield from pages
            if crm_object == "contacts":
                yield [r for p in pages for r in p]  # every contact again, after the first batches
        return reads
    counts = first_load_through(hs, monkeypatch, twice)
    assert counts.created == 8
    assert count(hs, Contact) == 5
    with hs.db.session() as s:
        bound = s.scalars(select(Binding.crm_id).where(Binding.module == "contact")).all()
    assert len(bound) == len(set(bound)) == 5
