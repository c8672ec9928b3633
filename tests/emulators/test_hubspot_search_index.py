"""The HubSpot emulator's search index on the sort property gives what a full scan gives."""

from __future__ import annotations

import random
from typing import Any

from crm_emulators.hubspot.schema import object_type
from crm_emulators.hubspot.search import _compile, _sort_specs, _sorted, run_search
from crm_emulators.hubspot.state import ObjectStore

BASE_MS = 1_780_000_000_000


def store_of(n: int, rng: random.Random) -> ObjectStore:
    """Contacts with stamps drawn from a few values (many ties), some without a score."""
    store = ObjectStore(object_type("contacts"), 1000, BASE_MS)
    for i in range(n):
        values: dict[str, str | None] = {"email": f"p{i}@example.com", "firstname": rng.choice(["Ann", "Bob", "Cy"])}
        store.create(values, BASE_MS + rng.randrange(5) * 1000)
    for record in rng.sample(list(store.active_records()), n // 5):
        store.archive(record, BASE_MS + 9000)
    return store


def full_scan(store: ObjectStore, body: dict[str, Any], cutoff: int | None) -> list[int]:
    predicate = _compile(store, body)
    candidates = [r for r in store.active_records()
                  if (cutoff is None or r.updated_ms <= cutoff) and (predicate is None or predicate(r))]
    return [r.id for r in _sorted(store, candidates, _sort_specs(store, body))]


def every_page(store: ObjectStore, body: dict[str, Any], cutoff: int | None) -> tuple[list[int], int]:
    ids: list[int] = []
    after: int | None = 0
    total = 0
    while after is not None:
        page = run_search(store, {**body, "limit": 7, "after": after}, cutoff)
        ids += [r.id for r in page.records]
        total, after = page.total, page.next_after
    return ids, total


def test_indexed_windows_match_a_full_scan_page_by_page() -> None:
    rng = random.Random(7)
    store = store_of(300, rng)
    stamps = [BASE_MS + k * 1000 for k in range(-1, 6)]
    ids = sorted(r.id for r in store.active_records())
    for _ in range(60):
        prop, values = rng.choice([("lastmodifieddate", stamps), ("hs_object_id", ids)])
        filters = [{"propertyName": prop, "operator": op, "value": str(rng.choice(values))}
                   for op in rng.sample(["GT", "GTE", "EQ", "LT", "LTE"], rng.randrange(1, 3))]
        if rng.random() < 0.5:
            filters.append({"propertyName": "firstname", "operator": "EQ", "value": rng.choice(["ann", "Bob"])})
        if rng.random() < 0.3:
            low = rng.choice(values)
            filters.append({"propertyName": prop, "operator": "BETWEEN", "value": str(low), "highValue": str(low + 2000)})
        body = {"filterGroups": [{"filters": filters}], "sorts": [{"propertyName": prop, "direction": "ASCENDING"}]}
        cutoff = rng.choice([None, BASE_MS + 2000, BASE_MS + 10_000])
        expected = full_scan(store, body, cutoff)
        assert every_page(store, body, cutoff) == (expected, len(expected)), body


def test_a_write_drops_the_index_and_the_cached_results() -> None:
    store = store_of(50, random.Random(3))
    body = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(BASE_MS)}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 100}
    before = [r.id for r in run_search(store, body, None).records]
    first = store.records[before[0]]
    store.update(first, {"firstname": "Changed"}, BASE_MS + 20_000)
    after = [r.id for r in run_search(store, body, None).records]
    assert after == before[1:] + [first.id]
    assert [r.id for r in run_search(store, body, BASE_MS + 10_000).records] == before[1:]
