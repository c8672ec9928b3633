"""The CRM search endpoint's query language: filter groups, operators, sorting, paging and HubSpot's limits.

Filter groups are OR-ed, filters inside a group AND-ed. Number and date properties compare as numbers (date
filter values may be epoch milliseconds or ISO strings); text compares case-insensitively. A query's matches
are computed once, sorted, and cached per object store until the next write, so paging through 10,000
results of a 100,000-record store costs one scan; a query sorted ascending on a number or date property
it also bounds (GT, GTE, EQ, LT, LTE, BETWEEN) scans only that range of the store's index on the property
(an incremental read's windows), already in order.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import HubSpotError, error, validation_error
from .schema import parse_instant
from .state import ObjectStore, Record

MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000
CACHED_QUERIES = 32
VALUE_OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
LIST_OPERATORS = {"IN", "NOT_IN"}
PRESENCE_OPERATORS = {"HAS_PROPERTY", "NOT_HAS_PROPERTY"}
OPERATORS = VALUE_OPERATORS | LIST_OPERATORS | PRESENCE_OPERATORS | {"BETWEEN"}

Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class SearchPage:
    """One page of a search: the total match count, the page's records and the next `after`."""

    total: int
    records: list[Record]
    next_after: int | None


def _invalid_json(message: str) -> HubSpotError:
    return error(400, f"Invalid input JSON on line 1, column 1: {message}")


def _tokens(text: str) -> list[str]:
    lowered = text.lower()
    return [lowered, *[t for t in re.split(r"[^a-z0-9_]+", lowered) if t]]


def _number(definition: Any, name: str, raw: Any) -> float:
    """A number or date filter value as the comparable number stored for the property."""
    text = str(raw)
    if definition.type == "number":
        try:
            return float(text)
        except ValueError:
            raise validation_error(f"{text} is not a valid value for property {name}") from None
    value = parse_instant(text)
    if value is None:
        raise validation_error(f"{text} is not a valid value for property {name}")
    return float(value)


def _compile_filter(store: ObjectStore, spec: dict[str, Any]) -> Predicate:
    name = str(spec.get("propertyName") or "")
    operator = str(spec.get("operator", "EQ"))
    if operator not in OPERATORS:
        raise _invalid_json(f"Cannot deserialize value of type `FilterOperatorEnum` from String \"{operator}\"")
    definition = store.definitions.get(name)
    if definition is None:
        raise validation_error(f"There was a problem with the request. Property {name!r} does not exist.")
    numeric = definition.type in ("number", "datetime", "date")

    def parse(raw: Any) -> Any:
        return _number(definition, name, raw) if numeric else str(raw).lower()

    def current(record: Record) -> Any:
        if numeric:
            return record.numbers.get(name)
        value = record.properties.get(name)
        return value.lower() if value is not None else None

    if operator in PRESENCE_OPERATORS:
        present = operator == "HAS_PROPERTY"
        return lambda r: (name in r.properties) == present
    if operator in LIST_OPERATORS:
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise validation_error(f"operator {operator} requires values")
        allowed = {parse(v) for v in values}
        if operator == "IN":
            return lambda r: current(r) in allowed
        return lambda r: current(r) not in allowed
    if "value" not in spec or spec["value"] is None:
        raise _invalid_json(f"Cannot construct instance of `Filter`, problem: operator {operator} requires a value")
    if operator == "BETWEEN":
        if spec.get("highValue") is None:
            raise _invalid_json("Cannot construct instance of `Filter`, problem: operator BETWEEN requires a highValue")
        low, high = parse(spec["value"]), parse(spec["highValue"])
        return lambda r: (v := current(r)) is not None and low <= v <= high
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(spec["value"]).lower()
        contains = operator == "CONTAINS_TOKEN"

        def token_match(record: Record) -> bool:
            value = record.properties.get(name)
            found = value is not None and any(fnmatch.fnmatchcase(t, pattern) for t in _tokens(value))
            return found == contains

        return token_match
    target = parse(spec["value"])
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda v: v == target,
        "NEQ": lambda v: v != target,
        "LT": lambda v: v < target,
        "LTE": lambda v: v <= target,
        "GT": lambda v: v > target,
        "GTE": lambda v: v >= target,
    }
    test = compare[operator]
    if operator == "NEQ":
        return lambda r: (v := current(r)) is None or test(v)
    return lambda r: (v := current(r)) is not None and test(v)


def _compile(store: ObjectStore, body: dict[str, Any]) -> Predicate | None:
    groups = body.get("filterGroups") or []
    if not groups and body.get("filters"):
        groups = [{"filters": body["filters"]}]
    if len(groups) > MAX_FILTER_GROUPS:
        raise validation_error(
            f"Search request has {len(groups)} filterGroups; the maximum is {MAX_FILTER_GROUPS}.",
            errors=[{"message": f"filterGroups: size must be between 0 and {MAX_FILTER_GROUPS}", "code": "INVALID_LIMIT"}],
        )
    total = 0
    compiled: list[list[Predicate]] = []
    for group in groups:
        filters = group.get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"A filterGroup has {len(filters)} filters; the maximum is {MAX_FILTERS_PER_GROUP} per filterGroup.",
                errors=[{"message": f"filters: size must be between 0 and {MAX_FILTERS_PER_GROUP}", "code": "INVALID_LIMIT"}],
            )
        total += len(filters)
        compiled.append([_compile_filter(store, f) for f in filters])
    if total > MAX_FILTERS:
        raise validation_error(
            f"Search request has {total} filters; the maximum is {MAX_FILTERS} across all filterGroups.",
            errors=[{"message": f"filters: at most {MAX_FILTERS} in total", "code": "INVALID_LIMIT"}],
        )
    query = str(body.get("query") or "").strip().lower()
    text_match: Predicate | None = None
    if query:
        searchable = store.kind.searchable_properties
        text_match = lambda r: any(query in r.properties.get(p, "").lower() for p in searchable)  # noqa: E731
    if not compiled and text_match is None:
        return None

    def matches(record: Record) -> bool:
        if text_match is not None and not text_match(record):
            return False
        return not compiled or any(all(f(record) for f in group) for group in compiled)

    return matches


def _sort_specs(store: ObjectStore, body: dict[str, Any]) -> list[tuple[str, bool]]:
    specs = []
    for sort in body.get("sorts") or []:
        if isinstance(sort, str):
            name, descending = sort.lstrip("-"), sort.startswith("-")
        elif isinstance(sort, dict):
            name, descending = sort.get("propertyName", ""), sort.get("direction", "ASCENDING") == "DESCENDING"
        else:
            raise _invalid_json("sorts must be strings or objects")
        if name not in store.definitions:
            raise validation_error(f"There was a problem with the request. Property {name!r} does not exist.")
        specs.append((name, descending))
    return specs


def _sorted(store: ObjectStore, records: list[Record], specs: list[tuple[str, bool]]) -> list[Record]:
    for name, descending in reversed(specs):
        numeric = store.definitions[name].type in ("number", "datetime", "date")
        present = [r for r in records if name in r.properties]
        missing = [r for r in records if name not in r.properties]
        if numeric:
            present.sort(key=lambda r: r.numbers[name], reverse=descending)
        else:
            present.sort(key=lambda r: r.properties[name].lower(), reverse=descending)
        records = present + missing
    return records


def _paging(body: dict[str, Any]) -> tuple[int, int]:
    try:
        limit = int(body.get("limit", DEFAULT_LIMIT))
        after = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise validation_error("limit and after must be integers") from None
    if limit > MAX_LIMIT or limit < 0:
        raise validation_error(f"limit must be between 0 and {MAX_LIMIT}, was {limit}")
    if after < 0:
        raise validation_error("after must not be negative")
    if after + limit > MAX_RESULTS:
        raise validation_error(
            f"Cannot page past {MAX_RESULTS} results: after ({after}) plus limit ({limit}) exceeds the maximum of {MAX_RESULTS} "
            f"results a search can return. Narrow the filters to page further."
        )
    return limit, after


def _indexed_range(store: ObjectStore, body: dict[str, Any],
                   specs: list[tuple[str, bool]]) -> tuple[list[int], bool] | None:
    """Ids of the records the query can match, in its order, when it sorts ascending on one number or
    date property and its one filter group bounds that property: a slice of the store's index, and
    whether the slice is exact (every filter is a bound on that property, so it matches the slice
    and nothing else; otherwise the filters still decide). None: the query needs a full scan."""
    groups = body.get("filterGroups") or ([{"filters": body["filters"]}] if body.get("filters") else [])
    if len(specs) != 1 or specs[0][1] or len(groups) != 1 or body.get("query"):
        return None
    name = specs[0][0]
    definition = store.definitions[name]
    if definition.type not in ("number", "datetime", "date"):
        return None
    values, ids = store.sorted_by(name)
    start, stop, bounded, exact = 0, len(ids), False, True
    for spec in groups[0].get("filters") or []:
        operator = spec.get("operator", "EQ")
        if spec.get("propertyName") != name or operator not in ("EQ", "GT", "GTE", "LT", "LTE", "BETWEEN"):
            exact = False
            continue
        if spec.get("value") is None or (operator == "BETWEEN" and spec.get("highValue") is None):
            continue  # refused when the filters are compiled
        value = _number(definition, name, spec["value"])
        if operator in ("EQ", "GTE", "BETWEEN"):
            start = max(start, bisect.bisect_left(values, value))
        if operator == "GT":
            start = max(start, bisect.bisect_right(values, value))
        if operator in ("EQ", "LTE"):
            stop = min(stop, bisect.bisect_right(values, value))
        if operator == "LT":
            stop = min(stop, bisect.bisect_left(values, value))
        if operator == "BETWEEN":
            stop = min(stop, bisect.bisect_right(values, _number(definition, name, spec["highValue"])))
        bounded = True
    if not bounded:
        return None  # records without the property sort last: the index does not hold them
    return ids[start:max(start, stop)], exact


def _matches(store: ObjectStore, body: dict[str, Any]) -> list[int]:
    """Ids of every active record the query matches, in its sort order (no indexing cut-off)."""
    predicate = _compile(store, body)
    specs = _sort_specs(store, body)
    indexed = _indexed_range(store, body, specs)
    if indexed is not None:
        ids, exact = indexed
        records = store.records
        return ids if predicate is None or exact else [i for i in ids if predicate(records[i])]
    candidates = [r for r in store.active_records() if predicate is None or predicate(r)]
    return [r.id for r in _sorted(store, candidates, specs)]


def run_search(store: ObjectStore, body: dict[str, Any], indexed_until_ms: int | None) -> SearchPage:
    """Evaluate a search request body against a store's active records (only those written by the cut-off)."""
    limit, after = _paging(body)
    key = json.dumps([body.get("filterGroups"), body.get("filters"), body.get("sorts"), body.get("query")], sort_keys=True, default=str)
    cached = store.search_cache.get(key)
    if cached is None:
        ids = _matches(store, body)
        newest = max((store.records[i].updated_ms for i in ids), default=0)
        if len(store.search_cache) >= CACHED_QUERIES:
            store.search_cache.clear()
        store.search_cache[key] = ids, newest
    else:
        ids, newest = cached
    if indexed_until_ms is not None and newest > indexed_until_ms:  # the index has yet to see the latest writes
        ids = [i for i in ids if store.records[i].updated_ms <= indexed_until_ms]
    chosen = [store.records[i] for i in ids[after:after + limit]]
    more = after + limit < len(ids)
    return SearchPage(len(ids), chosen, after + limit if more and limit else None)
