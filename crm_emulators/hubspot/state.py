"""In-memory CRM data of the emulated portals: records, ids, property definitions and unique values."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from .associations import AssociationStore
from .errors import PropertyProblem
from .rate_limits import PortalRateLimiter
from .schema import ObjectType, PropertyDefinition, check_value, default_definitions, iso_ms

FIRST_ID_SPACING = 100_000_000_000


@dataclass(slots=True)
class Record:
    """One CRM record. `properties` holds stored strings; `numbers` the comparable values of number/date ones."""

    id: int
    properties: dict[str, str]
    numbers: dict[str, float]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None

    @property
    def archived(self) -> bool:
        return self.archived_ms is not None


@dataclass(frozen=True)
class Conflict:
    """A write that would give a unique property a value another record already has."""

    name: str
    value: str
    existing_id: int


class ObjectStore:
    """The records of one object type in one portal, kept in id order for paging."""

    def __init__(self, kind: ObjectType, first_id: int, created_ms: int) -> None:
        self.kind = kind
        self.definitions: dict[str, PropertyDefinition] = {d.name: d for d in default_definitions(kind, created_ms)}
        self.records: dict[int, Record] = {}
        self.active_ids: list[int] = []
        self.archived_ids: list[int] = []
        self._next_id = first_id
        self._unique: dict[str, dict[str, int]] = {name: {} for name in self.unique_properties()}
        self.search_cache: dict[str, tuple[list[int], int]] = {}
        """Search results until the next write: query key -> (matching ids in order, newest updated_ms)."""
        self._sorted: dict[str, tuple[list[float], list[int]]] = {}

    def unique_properties(self) -> list[str]:
        """Properties whose values identify one record (HubSpot also dedupes contacts by email)."""
        names = [d.name for d in self.definitions.values() if d.has_unique_value]
        if self.kind.name == "contacts":
            names.append("email")
        return names

    def add_definition(self, definition: PropertyDefinition) -> None:
        self.definitions[definition.name] = definition
        if definition.has_unique_value:
            self._unique[definition.name] = {
                r.properties[definition.name]: r.id
                for r in (self.records[i] for i in self.active_ids)
                if definition.name in r.properties
            }
        self._changed()

    def is_unique(self, name: str) -> bool:
        return name in self._unique or name == "hs_object_id"

    def check(self, values: dict[str, Any]) -> tuple[dict[str, str | None], list[PropertyProblem]]:
        """Normalized values and the problems HubSpot would report for them."""
        normalized: dict[str, str | None] = {}
        problems: list[PropertyProblem] = []
        for name, value in values.items():
            stored, problem = check_value(self.definitions.get(name), name, value)
            if problem is not None:
                problems.append(problem)
            else:
                normalized[name] = stored
        return normalized, problems

    def conflict(self, values: dict[str, str | None], record_id: int | None) -> Conflict | None:
        """The first unique value in `values` that belongs to another active record."""
        for name, value in values.items():
            index = self._unique.get(name)
            if index is None or value is None:
                continue
            owner = index.get(value)
            if owner is not None and owner != record_id:
                return Conflict(name, value, owner)
        return None

    def find(self, name: str, value: str) -> Record | None:
        """The active record whose unique property `name` (or record id) equals `value`."""
        if name == "hs_object_id":
            record = self.records.get(int(value)) if value.isdigit() else None
            return record if record is not None and not record.archived else None
        if name == "email":
            value = value.lower()
        owner = self._unique.get(name, {}).get(value)
        return self.records[owner] if owner is not None else None

    def get(self, record_id: str, archived: bool = False) -> Record | None:
        """The record with this id, if it exists and its archived state matches."""
        record = self.records.get(int(record_id)) if record_id.isdigit() else None
        if record is None or record.archived != archived:
            return None
        return record

    def create(self, values: dict[str, str | None], now_ms: int) -> Record:
        """Store a new record (values already checked)."""
        record_id = self._next_id
        self._next_id += 1
        record = Record(record_id, {}, {}, now_ms, now_ms)
        created = values.get(self.kind.created_property)
        record.created_ms = self._instant(created) if created else now_ms
        self._set(record, "hs_object_id", str(record_id))
        self._set(record, self.kind.created_property, iso_ms(record.created_ms))
        for name, value in values.items():
            if name != self.kind.created_property and value is not None:
                self._set(record, name, value)
        self._stamp(record, now_ms)
        self.records[record_id] = record
        self.active_ids.append(record_id)
        self._index(record)
        self._changed()
        return record

    def update(self, record: Record, values: dict[str, str | None], now_ms: int) -> bool:
        """Apply checked values; bump the modified date only when something changed."""
        changed = [(n, v) for n, v in values.items() if record.properties.get(n) != v]
        if not changed:
            return False
        self._unindex(record)
        for name, value in changed:
            if value is None:
                record.properties.pop(name, None)
                record.numbers.pop(name, None)
            else:
                self._set(record, name, value)
        if self.kind.created_property in dict(changed):
            stored = record.properties.get(self.kind.created_property)
            record.created_ms = self._instant(stored) if stored else record.created_ms
        self._stamp(record, now_ms)
        self._index(record)
        self._changed()
        return True

    def archive(self, record: Record, now_ms: int) -> None:
        """Archive without touching the modified date, as HubSpot does."""
        if record.archived:
            return
        self._unindex(record)
        record.archived_ms = now_ms
        del self.active_ids[bisect.bisect_left(self.active_ids, record.id)]
        bisect.insort(self.archived_ids, record.id)
        self._changed()

    def page(self, after: int, limit: int, archived: bool) -> tuple[list[Record], int | None]:
        """Up to `limit` records with id >= `after`, and the `after` of the next page (None on the last)."""
        ids = self.archived_ids if archived else self.active_ids
        start = bisect.bisect_left(ids, after)
        chosen = ids[start:start + limit]
        more = start + limit < len(ids)
        return [self.records[i] for i in chosen], (chosen[-1] + 1 if more and chosen else None)

    def sorted_by(self, name: str) -> tuple[list[float], list[int]]:
        """The active records having number/date property `name`, ordered by (value, id): their values
        and ids as two parallel lists (for bisect), kept until the next write."""
        index = self._sorted.get(name)
        if index is None:
            pairs = sorted((r.numbers[name], r.id) for r in self.active_records() if name in r.numbers)
            index = self._sorted[name] = ([v for v, _ in pairs], [i for _, i in pairs])
        return index

    def active_records(self) -> Iterator[Record]:
        return (self.records[i] for i in self.active_ids)

    def counts(self) -> dict[str, int]:
        return {"active": len(self.active_ids), "archived": len(self.archived_ids)}

    def _instant(self, stored: str) -> int:
        return int(self.definitions[self.kind.created_property].numeric(stored) or 0)

    def _set(self, record: Record, name: str, value: str) -> None:
        record.properties[name] = value
        number = self.definitions[name].numeric(value)
        if number is not None:
            record.numbers[name] = number

    def _stamp(self, record: Record, now_ms: int) -> None:
        record.updated_ms = now_ms
        for name in self.kind.modified_properties:
            self._set(record, name, iso_ms(now_ms))

    def _index(self, record: Record) -> None:
        for name, index in self._unique.items():
            value = record.properties.get(name)
            if value is not None:
                index[value] = record.id

    def _unindex(self, record: Record) -> None:
        for name, index in self._unique.items():
            value = record.properties.get(name)
            if value is not None and index.get(value) == record.id:
                del index[value]

    def _changed(self) -> None:
        self.search_cache.clear()
        self._sorted.clear()


@dataclass
class Portal:
    """One HubSpot account: its records, associations, limits and call counters."""

    index: int
    portal_id: int
    stores: dict[str, ObjectStore]
    associations: AssociationStore
    limiter: PortalRateLimiter
    calls: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    search_seconds: float = 0.0
    """The emulator's own time spent answering search requests (for benchmarks: its share of a pull)."""
    owners: list[dict[str, Any]] = field(default_factory=list)
    """The portal's users as `/crm/v3/owners` shows them (added with `HubSpotEmulator.add_owner`)."""

    def store(self, kind: ObjectType) -> ObjectStore:
        return self.stores[kind.name]

    def stats(self) -> dict[str, Any]:
        """Call counts and record counts, for `/__emulator/stats`."""
        return {
            "index": self.index,
            "portal_id": self.portal_id,
            "api_calls": {"total": sum(self.calls.values()), "by_category": dict(sorted(self.calls.items()))},
            "rejected": dict(sorted(self.rejected.items())),
            "search_seconds": round(self.search_seconds, 6),
            "records": {name: store.counts() for name, store in self.stores.items()},
            "associations": self.associations.count(),
        }
