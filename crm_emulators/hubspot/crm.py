"""The v3 CRM object endpoints (basic, batch, search) and the properties endpoints, over one portal.

Batch rules follow HubSpot: at most 100 inputs; duplicate ids refuse the whole request; invalid property
values refuse the whole request, except in batch create when every input carries an `objectWriteTraceId`,
which turns record-level failures into a 207 multi-status; records that do not exist, unique-value
conflicts and injected record faults come back per record (207) from update and upsert.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .associations import ASSOCIATION_TYPES, AssociationsApi, AssociationType, checked_type
from .errors import (
    PropertyProblem,
    batch_item,
    batch_response,
    error,
    from_batch_item,
    property_values_error,
    property_values_item,
    validation_error,
)
from .faults import FaultPlan
from .schema import ObjectType, PropertyDefinition, iso_ms, object_type
from .search import run_search
from .state import Conflict, ObjectStore, Portal, Record

MAX_BATCH_INPUTS = 100
MAX_LIST_LIMIT = 100


@dataclass
class _Planned:
    """One checked batch input: what to write, or the error to report for it."""

    index: int
    values: dict[str, str | None]
    trace_id: str | None
    record: Record | None = None
    error: dict[str, Any] | None = None
    problems: list[PropertyProblem] = field(default_factory=list)
    links: list[tuple[AssociationType, int]] = field(default_factory=list)
    new: bool = False


def _trace_id(item: dict[str, Any]) -> str | None:
    trace = item.get("objectWriteTraceId")
    return str(trace) if trace is not None else None


def _inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise error(400, "Invalid input JSON on line 1, column 1: inputs must be a list of objects", "VALIDATION_ERROR")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise validation_error(
            f"The maximum number of inputs supported in a batch is {MAX_BATCH_INPUTS}. Please reduce the number of items and try again"
        )
    return inputs


def _duplicate_ids(inputs: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    duplicates: list[str] = []
    for item in inputs:
        key = str(item.get("id"))
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen.add(key)
    if duplicates:
        raise validation_error(
            f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique", context={"ids": duplicates}
        )


def conflict_message(kind: ObjectType, conflict: Conflict) -> str:
    """HubSpot's CONFLICT message ("Contact already exists. Existing ID: 123")."""
    return f"{kind.singular.capitalize()} already exists. Existing ID: {conflict.existing_id}"


class CrmApi:
    """Object endpoints of one portal at one instant (`now_ms` stamps every write of the call)."""

    def __init__(self, portal: Portal, now_ms: int, faults: FaultPlan, search_lag_ms: int) -> None:
        self.portal = portal
        self.now_ms = now_ms
        self.faults = faults
        self.search_lag_ms = search_lag_ms
        self.associations = AssociationsApi(portal, now_ms)

    # ---- representation

    def returned_names(self, kind: ObjectType, properties: list[str]) -> list[str]:
        """The properties a read returns when it asks for `properties`: those defined, and the
        system ones, in name order."""
        definitions = self.portal.store(kind).definitions
        return sorted({n for n in [*properties, *kind.system_properties] if n in definitions})

    def record_json(
        self,
        kind: ObjectType,
        record: Record,
        properties: list[str] | None,
        associations: list[str] | None = None,
        *,
        names: list[str] | None = None,
    ) -> dict[str, Any]:
        """A record as HubSpot returns it; `properties` None means every stored value. `names`: the
        `returned_names` of `properties`, when the caller worked them out once for many records."""
        values: dict[str, str | None]
        if properties is None:
            values = dict(sorted(record.properties.items()))
        else:
            get = record.properties.get
            values = {n: get(n) for n in (names if names is not None else self.returned_names(kind, properties))}
        body: dict[str, Any] = {
            "id": str(record.id),
            "properties": values,
            "createdAt": iso_ms(record.created_ms),
            "updatedAt": iso_ms(record.updated_ms),
            "archived": record.archived,
        }
        if record.archived_ms is not None:
            body["archivedAt"] = iso_ms(record.archived_ms)
        if associations:
            linked = self.associations.v3_associations(kind, record.id, associations)
            if linked:
                body["associations"] = linked
        body["url"] = f"https://app.hubspot.com/contacts/{self.portal.portal_id}/record/{kind.type_id}/{record.id}"
        return body

    def _read_json(self, kind: ObjectType, record: Record, properties: list[str] | None, associations: list[str] | None = None) -> dict[str, Any]:
        return self.record_json(kind, record, properties if properties else list(kind.default_properties), associations)

    def _batch_body(self, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
        return batch_response(results, errors, iso_ms(self.now_ms))

    # ---- basic

    def list_page(self, type_name: str, limit: int, after: str | None, properties: list[str], associations: list[str],
                  archived: bool, base_url: str) -> dict[str, Any]:
        """`GET /crm/v3/objects/{type}`: pages in id order; `archived=true` lists only archived records."""
        kind = object_type(type_name)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise validation_error(f"limit must be between 1 and {MAX_LIST_LIMIT}, was {limit}")
        start = int(after) if after and after.isdigit() else 0
        records, next_after = self.portal.store(kind).page(start, limit, archived)
        body: dict[str, Any] = {"results": [self._read_json(kind, r, properties, associations) for r in records]}
        if next_after is not None:
            link = f"{base_url}/crm/v3/objects/{kind.name}?limit={limit}&after={next_after}"
            if archived:
                link += "&archived=true"
            body["paging"] = {"next": {"after": str(next_after), "link": link}}
        return body

    def get(self, type_name: str, record_id: str, properties: list[str], associations: list[str], archived: bool,
            id_property: str | None) -> dict[str, Any]:
        """`GET /crm/v3/objects/{type}/{id}`."""
        kind = object_type(type_name)
        record = self._lookup(kind, record_id, id_property, archived)
        if record is None:
            raise error(404, "resource not found", "OBJECT_NOT_FOUND")
        return self._read_json(kind, record, properties, associations)

    def create(self, type_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /crm/v3/objects/{type}` (201)."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        values, problems = store.check(dict(body.get("properties") or {}))
        if problems:
            raise property_values_error(problems, self.portal.portal_id)
        links = self._planned_links(kind, body.get("associations") or [])
        conflict = store.conflict(values, None)
        if conflict is not None:
            raise error(409, conflict_message(kind, conflict), "CONFLICT")
        self._raise_record_fault(kind, [], values)
        record = store.create(values, self.now_ms)
        for assoc_type, to_id in links:
            self.portal.associations.add(assoc_type, record.id, to_id)
        return self.record_json(kind, record, None)

    def update(self, type_name: str, record_id: str, body: dict[str, Any], id_property: str | None) -> dict[str, Any]:
        """`PATCH /crm/v3/objects/{type}/{id}`."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        record = self._lookup(kind, record_id, id_property, False)
        if record is None:
            raise error(404, "resource not found", "OBJECT_NOT_FOUND")
        values, problems = store.check(dict(body.get("properties") or {}))
        if problems:
            raise property_values_error(problems, self.portal.portal_id)
        conflict = store.conflict(values, record.id)
        if conflict is not None:
            raise error(409, conflict_message(kind, conflict), "CONFLICT")
        self._raise_record_fault(kind, [record_id, *self._identities(store, record)], values)
        store.update(record, values, self.now_ms)
        return self.record_json(kind, record, None)

    def archive(self, type_name: str, record_id: str) -> None:
        """`DELETE /crm/v3/objects/{type}/{id}` (204 whether or not the record exists)."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        record = store.get(record_id)
        if record is not None:
            store.archive(record, self.now_ms)

    # ---- batch

    def batch_read(self, type_name: str, body: dict[str, Any], archived: bool) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v3/objects/{type}/batch/read`; missing ids come back as one OBJECT_NOT_FOUND error."""
        kind = object_type(type_name)
        inputs = _inputs(body)
        id_property = body.get("idProperty")
        results, missing, seen = [], [], set()
        for item in inputs:
            key = str(item.get("id", ""))
            record = self._lookup(kind, key, id_property, archived)
            if record is None:
                missing.append(key)
            elif record.id not in seen:
                seen.add(record.id)
                results.append(self._read_json(kind, record, body.get("properties")))
        errors = [self._not_found(kind, missing)] if missing else []
        return (207 if errors else 200), self._batch_body(results, errors)

    def batch_create(self, type_name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v3/objects/{type}/batch/create` (201, or 207 when inputs carry objectWriteTraceIds)."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        inputs = _inputs(body)
        claimed: set[tuple[str, str]] = set()
        plans: list[_Planned] = []
        for index, item in enumerate(inputs):
            plan = _Planned(index, {}, _trace_id(item))
            context = {"objectWriteTraceId": [plan.trace_id]} if plan.trace_id is not None else {}
            plan.values, plan.problems = store.check(dict(item.get("properties") or {}))
            if plan.problems:
                plan.error = property_values_item(plan.problems, self.portal.portal_id, context)
            else:
                plan.links = self._planned_links(kind, item.get("associations") or [])
                plan.error = self._create_conflict(kind, store, plan.values, claimed, context)
                plan.error = plan.error or self._fault_item(kind, [], plan.values, context)
            if plan.error is None:
                claimed.update((n, v) for n, v in plan.values.items() if v is not None and store.is_unique(n))
            plans.append(plan)
        errors = [e for p in plans if (e := p.error) is not None]
        if errors and any(p.trace_id is None for p in plans):
            invalid = [problem for p in plans for problem in p.problems]
            raise property_values_error(invalid, self.portal.portal_id) if invalid else from_batch_item(errors[0])
        results = []
        for plan in plans:
            if plan.error is None:
                record = store.create(plan.values, self.now_ms)
                for assoc_type, to_id in plan.links:
                    self.portal.associations.add(assoc_type, record.id, to_id)
                results.append(self.record_json(kind, record, None))
        return (207 if errors else 201), self._batch_body(results, errors)

    def batch_update(self, type_name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v3/objects/{type}/batch/update`."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        inputs = _inputs(body)
        _duplicate_ids(inputs)
        plans = self._checked_updates(kind, inputs)
        missing = [str(inputs[p.index].get("id")) for p in plans if p.record is None and p.error is None]
        errors = [e for p in plans if (e := p.error) is not None]
        results = []
        for plan in plans:
            if plan.record is not None and plan.error is None:
                store.update(plan.record, plan.values, self.now_ms)
                results.append(self.record_json(kind, plan.record, None))
        if missing:
            errors.insert(0, self._not_found(kind, missing))
        return (207 if errors else 200), self._batch_body(results, errors)

    def batch_upsert(self, type_name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v3/objects/{type}/batch/upsert`: by a unique `idProperty`; results say whether they are `new`."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        inputs = _inputs(body)
        _duplicate_ids(inputs)
        for item in inputs:
            id_property = item.get("idProperty") or "hs_object_id"
            if not store.is_unique(id_property):
                raise validation_error(f"{id_property} is not a unique property of {kind.name}; upsert needs a property with unique values.")
        plans = self._checked_updates(kind, inputs)
        missing = []
        for plan in plans:
            item = inputs[plan.index]
            id_property = item.get("idProperty") or "hs_object_id"
            if plan.record is not None or plan.error is not None:
                continue
            if id_property == "hs_object_id":
                missing.append(str(item.get("id")))
                continue
            plan.values = {**plan.values, **store.check({id_property: item.get("id")})[0]}
            plan.new = True
            context = {"objectWriteTraceId": [plan.trace_id]} if plan.trace_id is not None else {"ids": [str(item.get("id"))]}
            plan.error = self._create_conflict(kind, store, plan.values, set(), context)
        errors = [e for p in plans if (e := p.error) is not None]
        results = []
        for plan in plans:
            if plan.error is not None:
                continue
            if plan.record is not None:
                store.update(plan.record, plan.values, self.now_ms)
                results.append({**self.record_json(kind, plan.record, None), "new": False})
            elif plan.new:
                results.append({**self.record_json(kind, store.create(plan.values, self.now_ms), None), "new": True})
        if missing:
            errors.insert(0, self._not_found(kind, missing))
        return (207 if errors else 200), self._batch_body(results, errors)

    def batch_archive(self, type_name: str, body: dict[str, Any]) -> None:
        """`POST /crm/v3/objects/{type}/batch/archive` (204)."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        for item in _inputs(body):
            record = store.get(str(item.get("id", "")))
            if record is not None:
                store.archive(record, self.now_ms)

    # ---- search

    def search(self, type_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /crm/v3/objects/{type}/search`."""
        started = time.perf_counter()
        kind = object_type(type_name)
        store = self.portal.store(kind)
        indexed_until = self.now_ms - self.search_lag_ms if self.search_lag_ms else None
        page = run_search(store, body, indexed_until)
        properties = body.get("properties") or list(kind.default_properties)
        names = self.returned_names(kind, properties)
        out: dict[str, Any] = {"total": page.total,
                               "results": [self.record_json(kind, r, properties, names=names) for r in page.records]}
        if page.next_after is not None:
            out["paging"] = {"next": {"after": str(page.next_after)}}
        self.portal.search_seconds += time.perf_counter() - started
        return out

    # ---- properties

    def list_properties(self, type_name: str) -> dict[str, Any]:
        kind = object_type(type_name)
        return {"results": [d.to_json() for d in self.portal.store(kind).definitions.values()]}

    def get_property(self, type_name: str, name: str) -> dict[str, Any]:
        kind = object_type(type_name)
        definition = self.portal.store(kind).definitions.get(name)
        if definition is None:
            raise error(404, f"Unable to find property {name} on object type {kind.type_id}", "OBJECT_NOT_FOUND")
        return definition.to_json()

    def create_property(self, type_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /crm/v3/properties/{type}` (201; 409 when the name is taken)."""
        kind = object_type(type_name)
        store = self.portal.store(kind)
        definition = PropertyDefinition.from_request(body, self.now_ms)
        if definition.name in store.definitions:
            raise error(409, f"Property named '{definition.name}' already exists.", "OBJECT_ALREADY_EXISTS")
        store.add_definition(definition)
        return definition.to_json()

    # ---- helpers

    def _lookup(self, kind: ObjectType, key: str, id_property: str | None, archived: bool) -> Record | None:
        store = self.portal.store(kind)
        if id_property and id_property != "hs_object_id":
            if not store.is_unique(id_property):
                raise validation_error(f"{id_property} is not a unique property of {kind.name}.")
            return None if archived else store.find(id_property, key)
        return store.get(key, archived)

    def _not_found(self, kind: ObjectType, ids: list[str]) -> dict[str, Any]:
        return batch_item(
            "OBJECT_NOT_FOUND",
            f"Could not get some {kind.label} objects, they may be deleted or not exist. Check that ids are valid.",
            {"ids": ids},
        )

    def _fault_item(self, kind: ObjectType, ids: list[str], values: dict[str, str | None],
                    context: dict[str, list[str]]) -> dict[str, Any] | None:
        """The per-record error an armed record fault gives a write matching one of `ids` or `values`."""
        keys = [v for v in values.values() if v is not None] + ids
        fault = self.faults.take_record_fault(self.portal.index, kind.name, keys)
        if fault is None:
            return None
        message = fault.message or f"Injected {fault.category} for {kind.singular} {' '.join(ids)}".rstrip()
        return batch_item(fault.category, message, context)

    @staticmethod
    def _identities(store: ObjectStore, record: Record) -> list[str]:
        """What a record fault may name an existing record by: its id and its unique property values."""
        return [str(record.id), *(v for n in store.unique_properties() if (v := record.properties.get(n)) is not None)]

    def _raise_record_fault(self, kind: ObjectType, ids: list[str], values: dict[str, str | None]) -> None:
        item = self._fault_item(kind, ids, values, {})
        if item is not None:
            raise from_batch_item(item)

    def _create_conflict(self, kind: ObjectType, store: ObjectStore, values: dict[str, str | None],
                         claimed: set[tuple[str, str]], context: dict[str, list[str]]) -> dict[str, Any] | None:
        conflict = store.conflict(values, None)
        if conflict is None:
            for name, value in values.items():
                if value is not None and (name, value) in claimed:
                    return batch_item("CONFLICT", f"Duplicate value {value!r} for unique property {name} in batch input.", context)
            return None
        return batch_item("CONFLICT", conflict_message(kind, conflict), {**context, "existingId": [str(conflict.existing_id)]})

    def _checked_updates(self, kind: ObjectType, inputs: list[dict[str, Any]]) -> list[_Planned]:
        """Check update/upsert inputs: invalid values refuse the request; conflicts and faults are per record."""
        store = self.portal.store(kind)
        plans: list[_Planned] = []
        invalid: list[PropertyProblem] = []
        for index, item in enumerate(inputs):
            plan = _Planned(index, {}, _trace_id(item))
            plan.values, problems = store.check(dict(item.get("properties") or {}))
            invalid.extend(problems)
            key = str(item.get("id", ""))
            plan.record = self._lookup(kind, key, item.get("idProperty"), False)
            context = {"objectWriteTraceId": [plan.trace_id]} if plan.trace_id is not None else {"ids": [key]}
            if plan.record is not None:
                conflict = store.conflict(plan.values, plan.record.id)
                if conflict is not None:
                    plan.error = batch_item("CONFLICT", conflict_message(kind, conflict), {**context, "existingId": [str(conflict.existing_id)]})
            if plan.error is None:
                ids = [key] if plan.record is None else [key, *self._identities(store, plan.record)]
                plan.error = self._fault_item(kind, ids, plan.values, context)
            plans.append(plan)
        if invalid:
            raise property_values_error(invalid, self.portal.portal_id)
        return plans

    def _planned_links(self, kind: ObjectType, associations: list[dict[str, Any]]) -> list[tuple[AssociationType, int]]:
        """The associations of a create request, checked before anything is written."""
        links = []
        for link in associations:
            to_id = str((link.get("to") or {}).get("id", ""))
            for spec in link.get("types") or []:
                assoc_type = checked_type(kind.name, _target_type(spec, kind), spec)
                target = self.portal.stores[assoc_type.to_type].get(to_id)
                if target is None:
                    raise error(400, f"Could not find {assoc_type.to_type} with id {to_id} to associate with.", "VALIDATION_ERROR")
                links.append((assoc_type, target.id))
        return links


def _target_type(spec: dict[str, Any], kind: ObjectType) -> str:
    type_id = spec.get("associationTypeId")
    found = ASSOCIATION_TYPES.get(type_id) if isinstance(type_id, int) else None
    if found is None or found.from_type != kind.name:
        raise validation_error(f"{spec.get('associationCategory')} {spec.get('associationTypeId')} is not a valid association type from {kind.name}.")
    return found.to_type
