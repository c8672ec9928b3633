"""Incremental reads through the search API, past its 10,000-results-per-query cap.

One query ("window") is sorted ascending on the object's modified property and paged with `after`.
Before the next page would cross the cap, the window ends at the last stamp L it reached, and the
records stamped exactly L that the window did not yield are drained by `hs_object_id`:
1. one count (`modified == L and hs_object_id <= M`, M the highest id the window yielded at L)
   tells whether any lie below M; HubSpot orders ties as it likes, so only then are they read,
   skipping the ids already yielded;
2. those above M are read (`modified == L and hs_object_id > M`, sorted by id, re-anchored on the
   last id every 10,000);
then the next window starts at `modified > L`. So a backlog of any size, however many records
share one stamp, is read completely and each record once per call, for about two extra searches
per 10,000 records. Pages are yielded as they arrive (never the whole result in memory), each
sorted by (stamp, id); HubSpot sorts on one property only, so records sharing a stamp across a
page boundary may come in any id order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

from connector.adapters.base import CrmRecord

from .client import HubSpotClient
from .records import crm_record, epoch_ms, sort_key
from .settings import RECORD_ID, SEARCH_RESULT_CAP

Condition = tuple[str, str, int]
"""(property, operator, value) of one search filter."""


@dataclass
class _Window:
    """Where one query got to: whether it stopped at the cap, its last stamp and the ids seen there."""

    capped: bool = False
    last_stamp: int = 0
    last_id: int = 0
    ids_at_last_stamp: set[str] = field(default_factory=set)

    def see(self, record: CrmRecord) -> None:
        stamp = epoch_ms(record.modified_at)
        if stamp != self.last_stamp:
            self.last_stamp = stamp
            self.ids_at_last_stamp = set()
        self.ids_at_last_stamp.add(record.id)
        self.last_id = int(record.id)


class ChangeReader:
    """Pages of one object's records modified at or after an anchor, ascending."""

    def __init__(self, client: HubSpotClient, obj: str, modified_property: str, properties: Sequence[str], page_size: int):
        self.client = client
        self.obj = obj
        self.modified = modified_property
        self.properties = list(dict.fromkeys([RECORD_ID, modified_property, *properties]))
        self.page_size = page_size

    def pages(self, anchor: datetime | None) -> Iterator[list[CrmRecord]]:
        """Every record modified at or after `anchor` (all records when None)."""
        conditions: list[Condition] = [] if anchor is None else [(self.modified, "GTE", epoch_ms(anchor))]
        while True:
            window = _Window()
            yield from self._query(conditions, self.modified, set(), window)
            if not window.capped:
                return
            yield from self._drain(window.last_stamp, window.ids_at_last_stamp)
            conditions = [(self.modified, "GT", window.last_stamp)]

    def _drain(self, stamp: int, already: set[str]) -> Iterator[list[CrmRecord]]:
        """The records stamped exactly `stamp`, except those `already` yielded."""
        highest = max(int(i) for i in already)
        below: list[Condition] = [(self.modified, "EQ", stamp), (RECORD_ID, "LTE", highest)]
        if self._count(below) > len(already):
            yield from self._by_id(below, already)
        yield from self._by_id([(self.modified, "EQ", stamp), (RECORD_ID, "GT", highest)], set())

    def _by_id(self, conditions: list[Condition], skip: set[str]) -> Iterator[list[CrmRecord]]:
        """Every match, sorted by id, re-anchoring on the last id before the result cap."""
        anchored = conditions
        while True:
            window = _Window()
            yield from self._query(anchored, RECORD_ID, skip, window)
            if not window.capped:
                return
            anchored = [*conditions, (RECORD_ID, "GT", window.last_id)]

    def _count(self, conditions: list[Condition]) -> int:
        data = self._search(conditions, RECORD_ID, None, limit=1)
        return int(data.get("total") or 0)

    def _search(self, conditions: list[Condition], sort: str, after: str | None, limit: int) -> dict[str, Any]:
        """One search call; the response's JSON as plain data (the client's model deserialisation
        would cost more than the HTTP call: it parses every timestamp with dateutil)."""
        groups = [FilterGroup(filters=[Filter(property_name=p, operator=op, value=str(v)) for p, op, v in conditions])] if conditions else []
        request = PublicObjectSearchRequest(
            filter_groups=groups,
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=self.properties,
            limit=limit,
            after=after,
        )
        search = self.client.api("crm.objects.search_api").do_search_with_http_info
        return self.client.call_json(search, self.obj, request, search=True)

    def _query(self, conditions: list[Condition], sort: str, skip: set[str], window: _Window) -> Iterator[list[CrmRecord]]:
        """Page through one search until it ends or the next page would cross the result cap."""
        after: str | None = None
        while True:
            data = self._search(conditions, sort, after, self.page_size)
            records = [crm_record(result, self.modified) for result in data.get("results") or []]
            for record in records:
                window.see(record)
            page = sorted((r for r in records if r.id not in skip), key=sort_key)
            if page:
                yield page
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                return
            if int(after) + self.page_size > SEARCH_RESULT_CAP:
                window.capped = True
                return
