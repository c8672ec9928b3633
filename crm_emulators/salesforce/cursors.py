"""Query locators: the ordered result ids of a query, paged through `nextRecordsUrl`.

A query is evaluated once; its pages are slices of the stored id list. As in Salesforce, a user keeps at
most 10 open cursors (opening another releases the oldest) and a cursor expires after 15 minutes unused.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .ids import IdFactory
from .soql import ParentField

MAX_OPEN = 10
IDLE_TIMEOUT = timedelta(minutes=15)


@dataclass
class QueryCursor:
    """An open query: what to return for each of its result ids."""

    locator: str
    object_name: str
    field_names: list[str]
    ids: list[str]
    batch_size: int
    include_deleted: bool
    last_used: datetime
    parents: list[ParentField]

    def next_records_url(self, version: str, offset: int) -> str:
        """The relative `nextRecordsUrl` of the page starting at `offset`."""
        resource = "queryAll" if self.include_deleted else "query"
        return f"/services/data/v{version}/{resource}/{self.locator}-{offset}"


class CursorStore:
    """Open cursors, oldest first."""

    def __init__(self, ids: IdFactory, now: Callable[[], datetime]) -> None:
        self._ids = ids
        self._now = now
        self._open: OrderedDict[str, QueryCursor] = OrderedDict()

    def open(
        self,
        object_name: str,
        field_names: list[str],
        ids: list[str],
        batch_size: int,
        include_deleted: bool,
        parents: list[ParentField],
    ) -> QueryCursor:
        """Keep a query's results for paging."""
        self._expire()
        while len(self._open) >= MAX_OPEN:
            self._open.popitem(last=False)
        cursor = QueryCursor(
            self._ids.new("01g"), object_name, field_names, ids, batch_size, include_deleted, self._now(), parents
        )
        self._open[cursor.locator] = cursor
        return cursor

    def get(self, locator: str) -> QueryCursor | None:
        """The open cursor `locator`, or None when unknown or expired."""
        self._expire()
        cursor = self._open.get(locator)
        if cursor is not None:
            cursor.last_used = self._now()
        return cursor

    def clear(self) -> None:
        """Close every cursor."""
        self._open.clear()

    def _expire(self) -> None:
        cutoff = self._now() - IDLE_TIMEOUT
        for locator in [locator for locator, cursor in self._open.items() if cursor.last_used < cutoff]:
            del self._open[locator]
