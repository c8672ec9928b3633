"""Pull batches: small CRM pages are gathered for one transaction each; a record read twice is
applied once, in its newest version; the next batch is read whole while one is written."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

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


class SmallPages:
    """HubSpot-like: many small pages, counting how many were read and where; closed at the end."""

    def __init__(self, pages: int, size: int):
        self.pages, self.size = pages, size
        self.read = 0
        self.threads: set[str] = set()
        self.closed = False

    def __iter__(self) -> Iterator[list[CrmRecord]]:
        try:
            for p in range(self.pages):
                self.threads.add(threading.current_thread().name)
                self.read += 1
                yield [record(p * self.size + i) for i in range(self.size)]
        finally:
            self.closed = True


def test_the_next_batch_is_read_whole_while_one_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connector.sync.pull.APPLY_BATCH", 10)
    pages = SmallPages(pages=40, size=2)  # a batch is five pages
    seen: list[int] = []
    with Puller.batches_ahead(pages) as ahead:
        for n, batch in enumerate(ahead):
            if n == 0:  # a slow write: meanwhile the reader reads the next batch's five pages and more
                deadline = time.monotonic() + 5
                while pages.read < 11 and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert pages.read >= 11, f"only {pages.read} pages read while the first batch was written"
                time.sleep(0.2)
                assert pages.read <= 17, f"{pages.read} pages read: more than three batches in memory"
            seen.extend(int(r.id[2:]) for r in batch.records)
    assert seen == list(range(80)) and pages.threads == {"pull-read-ahead"} and pages.closed


def test_leaving_early_closes_the_page_reader() -> None:
    pages = SmallPages(pages=10_000, size=2)
    with Puller.batches_ahead(pages) as ahead:
        next(iter(ahead))
    assert pages.closed and pages.read < 10_000
