"""A crash anywhere loses nothing and duplicates nothing: the run is repeated and converges."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connector.store.bindings import Binding
from connector.store.outbox import OutboxEntry
from connector.store.records import Contact
from connector.sync.pull import Puller
from connector.sync.push import Pusher

from .conftest import HubSpotSetup


class Crash(RuntimeError):
    pass


def test_crash_between_read_and_commit(hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(6):
        hs.emulator.admin_upsert(0, "contacts", {"email": f"c{n}@x.example", "lastname": f"C{n}"})
    real_move = Puller._move_cursor

    def crash_before_commit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise Crash("killed after writing the page, before its commit")

    monkeypatch.setattr(Puller, "_move_cursor", crash_before_commit)
    with pytest.raises(Crash):
        hs.cycle()
    with hs.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 0, "the page's transaction rolled back whole"
        assert s.scalar(select(func.count()).select_from(Binding)) == 0
    monkeypatch.setattr(Puller, "_move_cursor", real_move)
    counts = hs.cycle()
    assert counts.created == 6
    with hs.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 6
        assert s.scalar(select(func.count(func.distinct(Binding.crm_id))).where(Binding.module == "contact")) == 6


def test_crash_after_the_crm_accepted_a_push(hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    with hs.db.session() as s:
        s.add_all([Contact(email=f"p{n}@x.example", last_name=f"P{n}") for n in range(5)])
    real = Pusher._record_result

    def crash(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise Crash("killed after the CRM answered")

    monkeypatch.setattr(Pusher, "_record_result", crash)
    with pytest.raises(Crash):
        hs.cycle()
    assert len(hs.crm("contacts")) == 5, "the CRM has the records"
    with hs.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == "pending")) == 5
    monkeypatch.setattr(Pusher, "_record_result", real)
    hs.cycle()
    crm = hs.crm("contacts")
    assert len(crm) == 5, "no duplicates"
    with hs.db.session() as s:
        # The next pull recognised its own records by external id and bound them; nothing is left to send.
        assert s.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == "pending")) == 0
        bound = dict(s.execute(select(Binding.record_id, Binding.crm_id).where(Binding.module == "contact")).all())
        contacts = {c.id: c for c in s.scalars(select(Contact))}
    assert {f"upm-contact-{rid}" for rid in bound} == {c["upm_id"] for c in crm}
    for record in crm:
        local = contacts[int(record["upm_id"].rsplit("-", 1)[1])]
        assert (record["email"], record["lastname"]) == (local.email, local.last_name)
    assert hs.cycle().pushed == 0
