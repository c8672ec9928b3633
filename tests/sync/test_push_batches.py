"""The push over several batches: the next batch is read and mapped while one is with the CRM and
sent while that one's results are recorded, results are still recorded batch after batch (a stop
still records a batch the CRM has), and a record with rows in two batches is mapped in
the later one from the base the earlier one wrote (so nothing is sent twice). Here a batch is one
HubSpot call (100 records); by default it is ten, the last test's case."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.store.bindings import Binding
from connector.store.outbox import OutboxEntry
from connector.store.records import Contact
from connector.sync import push
from connector.sync.push import Pusher

from .conftest import HubSpotSetup

N = 250  # three HubSpot batches of at most 100


@pytest.fixture(autouse=True)
def batches_of_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "PUSH_BATCH", 100)


def bound_contacts(hs: HubSpotSetup, prefix: str, **fields: str) -> list[int]:
    """N contacts created locally and pushed once (so bound); their ids in order."""
    with hs.db.session() as s:
        s.add_all([Contact(email=f"{prefix}{n}@p.example", last_name=f"{prefix.upper()}{n}", **fields) for n in range(N)])
    assert hs.cycle().pushed == N
    with hs.db.session() as s:
        return list(s.scalars(select(Contact.id).order_by(Contact.id)))


def count_updates(engine: Any, each: Callable[[list[int]], None] = lambda calls: None) -> list[int]:
    """Wrap the engine adapter's `update`: the list returned gets each call's record count, and
    `each(calls)` runs before the call goes to the CRM."""
    update = engine.adapter.update
    calls: list[int] = []

    def sending(obj: str, records: Any) -> Any:
        calls.append(len(records))
        each(calls)
        return update(obj, records)

    engine.adapter.update = sending
    return calls


def edit(hs: HubSpotSetup, ids: list[int], **values: Any) -> None:
    """One outbox row per contact, in this order."""
    with hs.db.session() as s:
        for record_id in ids:
            contact = s.get(Contact, record_id)
            for name, value in values.items():
                setattr(contact, name, value.format(id=record_id))
            s.flush()


def test_edits_over_several_batches_reach_the_crm_once_each_and_rows_are_marked(hs: HubSpotSetup) -> None:
    ids = bound_contacts(hs, "b", title="Buyer")
    edit(hs, ids, title="Edited {id}")            # rows 1-250
    edit(hs, ids[200:], title="Again {id}")       # rows 251-300: coalesce with batch 3's
    edit(hs, [ids[149]], phone="+1 555 0100")     # row 301: batch 2's contact, in batch 3 too
    engine = hs.engine()
    sent: list[dict[str, Any]] = []
    update = engine.adapter.update

    def recording(obj: str, records: Any) -> Any:
        sent.extend(dict(fields, id=crm_id) for crm_id, fields in records)
        return update(obj, records)

    engine.adapter.update = recording  # type: ignore[method-assign]
    writes = hs.writes()
    try:
        counts = engine.cycle()
    finally:
        engine.adapter.close()
    assert (counts.pushed, counts.failed) == (N, 0)
    assert hs.writes() - writes == 3, "one batch update per 100 records"
    again = [fields for fields in sent if fields["upm_id"] == f"upm-contact-{ids[149]}"]
    assert [sorted(f) for f in again] == [["id", "jobtitle", "phone", "upm_id"]], \
        "batch 2 sent both edits; batch 3, mapped after batch 2 was recorded, finds nothing new to send"
    crm = {c["upm_id"]: c for c in hs.crm("contacts")}
    assert len(crm) == N
    assert crm[f"upm-contact-{ids[149]}"]["phone"] == "+1 555 0100"
    assert all(crm[f"upm-contact-{i}"]["jobtitle"] == (f"Again {i}" if n >= 200 else f"Edited {i}") for n, i in enumerate(ids))
    with hs.db.session() as s:
        rows = s.scalars(select(OutboxEntry).where(OutboxEntry.module == "contact").order_by(OutboxEntry.id)).all()
        assert {(r.status, r.attempts, r.sent_at is not None) for r in rows[:-1]} == {("sent", 1, True)}
        assert (rows[-1].record_id, rows[-1].status, rows[-1].attempts) == (ids[149], "skipped", 1)
        bases = {b.record_id: b.synced_values for b in s.scalars(select(Binding).where(Binding.module == "contact"))}
        assert bases[ids[149]]["title"] == f"Edited {ids[149]}" and bases[ids[149]]["phone"] == "+1 555 0100"
        assert all(bases[i]["last_name"] == f"B{n}" for n, i in enumerate(ids))
        assert s.scalar(select(func.count()).select_from(Binding).where(Binding.module == "contact")) == N
    writes = hs.writes()
    assert hs.cycle().pushed == 0 and hs.writes() == writes, "the CRM's echo is no change"


def test_the_next_batch_goes_to_the_crm_while_the_one_before_is_recorded(hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = bound_contacts(hs, "o")
    edit(hs, ids, title="Overlap {id}")
    next_sent = threading.Event()
    overlapped: list[bool] = []
    finish = Pusher._finish

    def recorded(self: Pusher, batch: Any, answered: Any) -> None:
        if not overlapped:  # the first batch: is the second one already with the CRM?
            overlapped.append(next_sent.wait(timeout=10))
        finish(self, batch, answered)

    monkeypatch.setattr(Pusher, "_finish", recorded)
    engine = hs.engine()
    calls = count_updates(engine, lambda calls: next_sent.set() if len(calls) == 2 else None)
    try:
        assert engine.cycle().pushed == N
    finally:
        engine.adapter.close()
    assert overlapped == [True], "the second batch was sent while the first one's results were recorded"
    assert calls == [100, 100, 50]
    with hs.db.session() as s:
        assert set(s.scalars(select(OutboxEntry.status).where(OutboxEntry.module == "contact"))) == {"sent"}
    assert {c["upm_id"]: c["jobtitle"] for c in hs.crm("contacts")} == {f"upm-contact-{i}": f"Overlap {i}" for i in ids}


def test_a_stop_while_the_next_batch_is_with_the_crm_still_records_it(hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = bound_contacts(hs, "s")
    edit(hs, ids, title="Stopping {id}")
    stop = threading.Event()
    finish = Pusher._finish

    def recorded(self: Pusher, batch: Any, answered: Any) -> None:
        finish(self, batch, answered)
        stop.set()  # the stop comes once the first batch is recorded: the second is with the CRM

    monkeypatch.setattr(Pusher, "_finish", recorded)
    engine = hs.engine()
    calls = count_updates(engine)
    try:
        engine.cycle(should_stop=stop.is_set)
    finally:
        engine.adapter.close()
    assert calls == [100, 100], "the third batch is not started"
    with hs.db.session() as s:
        statuses = list(s.scalars(select(OutboxEntry.status).where(OutboxEntry.module == "contact").order_by(OutboxEntry.id)))
    assert statuses[-N:] == ["sent"] * 200 + ["pending"] * 50, "both batches the CRM took are recorded"


def test_a_batch_spans_several_crm_calls_and_is_recorded_in_one_transaction(hs: HubSpotSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "PUSH_BATCH", 1000)  # the default: ten HubSpot calls a batch
    ids = bound_contacts(hs, "w")
    edit(hs, ids, title="Wide {id}")
    edit(hs, [ids[7]], title="Twice {id}")  # coalesces with its first row in the same batch
    finishes: list[int] = []
    finish = Pusher._finish

    def recorded(self: Pusher, batch: Any, answered: Any) -> None:
        finishes.append(len(answered))
        finish(self, batch, answered)

    monkeypatch.setattr(Pusher, "_finish", recorded)
    engine = hs.engine()
    calls = count_updates(engine)
    try:
        assert engine.cycle().pushed == N
    finally:
        engine.adapter.close()
    assert calls == [100, 100, 50], "at most HubSpot's 100 records a call, the calls full"
    assert finishes == [N], "the 250 results recorded and committed together"
    with hs.db.session() as s:
        assert set(s.scalars(select(OutboxEntry.status).where(OutboxEntry.module == "contact"))) == {"sent"}
    assert {c["upm_id"]: c["jobtitle"] for c in hs.crm("contacts")} == {
        f"upm-contact-{i}": (f"Twice {i}" if i == ids[7] else f"Wide {i}") for i in ids}
