"""Reading a page ahead of the writer: order, errors, bounded memory, and stopping early."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from connector.sync.read_ahead import ReadAhead


class Pages:
    """A page iterator that records how far it has been read and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None):
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self) -> Iterator[list[int]]:
        try:
            for i in range(self.n):
                self.threads.add(threading.current_thread().name)
                if i == self.fail_at:
                    raise ConnectionError(f"page {i} failed")
                self.produced += 1
                yield [i]
        finally:
            self.closed = True


def test_pages_come_in_order_read_in_another_thread() -> None:
    pages = Pages(50)
    with ReadAhead(pages) as ahead:
        assert [p[0] for p in ahead] == list(range(50))
    assert pages.closed and pages.threads == {"pull-read-ahead"}


def test_an_error_arrives_after_the_pages_read_before_it() -> None:
    got: list[int] = []
    with pytest.raises(ConnectionError, match="page 3 failed"):
        with ReadAhead(Pages(10, fail_at=3)) as ahead:
            for page in ahead:
                got.append(page[0])
    assert got == [0, 1, 2]


def test_the_reader_stays_at_most_two_pages_ahead_and_stops_with_the_writer() -> None:
    pages = Pages(1000)
    with ReadAhead(pages) as ahead:
        for page in ahead:
            time.sleep(0.3)  # a slow write: the reader waits on the full queue
            ahead_by = pages.produced - (page[0] + 1)
            assert ahead_by <= 2, ahead_by
            if page[0] == 2:
                break
    assert pages.closed and pages.produced <= 5
