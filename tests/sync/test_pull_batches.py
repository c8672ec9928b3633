"""Pull batches: small CRM pages are gathered for one transaction each; a record read twice is
applied once, in its newest version."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from connector.adapters.base import CrmRecord
from connector.sync.pull import APPLY_BATCH, Puller

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def record(n: int, seconds: int = 0, name: str = "") -> CrmRecord:
    return CrmRecord(id=f"id{n}", modified_at=T0 + timedelta(seconds=seconds), fields={"name": name or f"r{n}"})


def test_pages_are_gathered_into_batches_without_splitting_a_page() -> None:
    page = 300
    pages = [[record(p * page + i) for i in range(page)] for p in range(8)]  # 2,400 records
    batches = list(Puller.batches(iter(pages)))
    assert [b.last for b in batches] == [False, True], "only the read's final batch is its last"
    assert [len(b.records) for b in batches] == [page * -(-APPLY_BATCH // page), 2400 - page * -(-APPLY_BATCH // page)]
    assert [r.id for b in batches for r in b.records] == [r.id for p in pages for r in p], "order and content kept"


def test_a_record_read_twice_is_applied_once_in_its_newest_version() -> None:
    pages = [[record(1), record(2)], [record(3, 5), record(1, 9, "changed during the read")]]
    (batch,) = list(Puller.batches(iter(pages)))
    assert [(r.id, r.fields["name"]) for r in batch.records] == [("id2", "r2"), ("id3", "r3"), ("id1", "changed during the read")]


def test_no_pages_no_batches() -> None:
    assert list(Puller.batches(iter([]))) == []
