"""Server-side cursors: the filtered, sorted result of a recent query, kept while no write lands, so
the pages after the first find their place by bisection instead of filtering and sorting every row
again (paging is O(page), not O(table), per request)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

KEPT = 16
"""Results kept at once (the least recently used goes first)."""


@dataclass(frozen=True)
class Result:
    """A query's rows in order, and each row's sort key (the values its skip token carries)."""

    keys: list[Any]
    rows: list[Any]

    def after(self, is_after: Callable[[Any], bool]) -> int:
        """The index of the first row whose key `is_after` the page before (false then true along
        the order: the sort's last column is the primary key, so no two keys tie)."""
        low, high = 0, len(self.keys)
        while low < high:
            middle = (low + high) // 2
            if is_after(self.keys[middle]):
                high = middle
            else:
                low = middle + 1
        return low


class Cursors:
    """Results by query, each valid for the store version it was built at (any write moves it)."""

    def __init__(self) -> None:
        self._results: OrderedDict[Hashable, tuple[int, Result]] = OrderedDict()

    def result(self, query: Hashable, version: int, build: Callable[[], Result]) -> Result:
        kept = self._results.get(query)
        if kept is not None and kept[0] == version:
            self._results.move_to_end(query)
            return kept[1]
        result = build()
        self._results[query] = (version, result)
        self._results.move_to_end(query)
        while len(self._results) > KEPT:
            self._results.popitem(last=False)
        return result
