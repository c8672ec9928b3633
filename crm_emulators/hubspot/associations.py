"""Associations between records: HubSpot's type ids, the per-portal link store, and the v4 endpoints' logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import HubSpotError, batch_item, batch_response, error, validation_error
from .schema import ObjectType, iso_ms, object_type

if TYPE_CHECKING:
    from .state import Portal

MAX_BATCH_INPUTS = 1000


@dataclass(frozen=True)
class AssociationType:
    """A HUBSPOT_DEFINED association type: one direction between two object types."""

    type_id: int
    from_type: str
    to_type: str
    name: str
    label: str | None
    reverse_id: int
    default: bool


_TABLE = [
    # forward id, forward name, reverse id, reverse name, from type, to type, label, created by the default endpoints
    (279, "contact_to_company_unlabeled", 280, "company_to_contact_unlabeled", "contacts", "companies", None, True),
    (1, "contact_to_company", 2, "company_to_contact", "contacts", "companies", "Primary", False),
    (3, "deal_to_contact", 4, "contact_to_deal", "deals", "contacts", None, True),
    (341, "deal_to_company_unlabeled", 342, "company_to_deal_unlabeled", "deals", "companies", None, True),
    (5, "deal_to_company", 6, "company_to_deal", "deals", "companies", "Primary", False),
    (202, "note_to_contact", 201, "contact_to_note", "notes", "contacts", None, True),
    (190, "note_to_company", 189, "company_to_note", "notes", "companies", None, True),
    (214, "note_to_deal", 213, "deal_to_note", "notes", "deals", None, True),
]
ASSOCIATION_TYPES: dict[int, AssociationType] = {
    t.type_id: t
    for fid, fname, rid, rname, a, b, label, default in _TABLE
    for t in (
        AssociationType(fid, a, b, fname, label, rid, default),
        AssociationType(rid, b, a, rname, label, fid, default),
    )
}


def default_type(from_type: str, to_type: str) -> AssociationType:
    """The unlabeled type the `default` endpoints create; 400 when the two types cannot be associated."""
    for t in ASSOCIATION_TYPES.values():
        if t.from_type == from_type and t.to_type == to_type and t.default:
            return t
    raise validation_error(f"No association types exist between {from_type} and {to_type}.")


def checked_type(from_type: str, to_type: str, spec: dict[str, Any]) -> AssociationType:
    """The association type an `{associationCategory, associationTypeId}` spec names; 400 if invalid for the pair."""
    type_id = spec.get("associationTypeId", spec.get("typeId"))
    category = spec.get("associationCategory", spec.get("category", "HUBSPOT_DEFINED"))
    found = ASSOCIATION_TYPES.get(type_id) if isinstance(type_id, int) else None
    if category != "HUBSPOT_DEFINED" or found is None or (found.from_type, found.to_type) != (from_type, to_type):
        raise validation_error(f"{category} {type_id} is not a valid association type between {from_type} and {to_type}.")
    return found


class AssociationStore:
    """Both directions of every link: (type, id) -> target type -> target id -> association type ids."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, int], dict[str, dict[int, set[int]]]] = {}

    def add(self, kind: AssociationType, from_id: int, to_id: int) -> None:
        self._side(kind.from_type, from_id, kind.to_type).setdefault(to_id, set()).add(kind.type_id)
        self._side(kind.to_type, to_id, kind.from_type).setdefault(from_id, set()).add(kind.reverse_id)

    def remove(self, from_type: str, from_id: int, to_type: str, to_id: int, type_ids: set[int] | None = None) -> None:
        """Remove the given types (all types when None) between two records, in both directions."""
        forward = self._side(from_type, from_id, to_type)
        backward = self._side(to_type, to_id, from_type)
        removing = set(forward.get(to_id, set())) if type_ids is None else type_ids
        for type_id in removing:
            forward.get(to_id, set()).discard(type_id)
            backward.get(from_id, set()).discard(ASSOCIATION_TYPES[type_id].reverse_id)
        for side, key in ((forward, to_id), (backward, from_id)):
            if key in side and not side[key]:
                del side[key]

    def targets(self, from_type: str, from_id: int, to_type: str) -> dict[int, set[int]]:
        return self._links.get((from_type, from_id), {}).get(to_type, {})

    def count(self) -> int:
        """Links counted once per direction pair."""
        return sum(len(ids) for sides in self._links.values() for ids in sides.values()) // 2

    def _side(self, from_type: str, from_id: int, to_type: str) -> dict[int, set[int]]:
        return self._links.setdefault((from_type, from_id), {}).setdefault(to_type, {})


def _type_json(type_id: int) -> dict[str, Any]:
    return {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": ASSOCIATION_TYPES[type_id].label}


def _labels_between(from_kind: ObjectType, from_id: int, to_kind: ObjectType, to_id: int, type_ids: set[int]) -> dict[str, Any]:
    return {
        "fromObjectTypeId": from_kind.type_id,
        "fromObjectId": from_id,
        "toObjectTypeId": to_kind.type_id,
        "toObjectId": to_id,
        "labels": sorted(ASSOCIATION_TYPES[t].label for t in type_ids if ASSOCIATION_TYPES[t].label),
    }


def _default_result(kind: AssociationType, from_id: int, to_id: int) -> list[dict[str, Any]]:
    return [
        {"from": {"id": str(a)}, "to": {"id": str(b)}, "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}}
        for a, b, t in ((from_id, to_id, kind.type_id), (to_id, from_id, kind.reverse_id))
    ]


class AssociationsApi:
    """The v4 association endpoints over one portal's records."""

    def __init__(self, portal: "Portal", now_ms: int) -> None:
        self.portal = portal
        self.now_ms = now_ms

    def associated(self, from_kind: ObjectType, from_id: int, to_kind: ObjectType) -> dict[int, set[int]]:
        """Links from a record to active records of `to_kind`, in target id order."""
        store = self.portal.store(to_kind)
        links = self.portal.associations.targets(from_kind.name, from_id, to_kind.name)
        return {i: links[i] for i in sorted(links) if (r := store.records.get(i)) is not None and not r.archived}

    def v3_associations(self, from_kind: ObjectType, from_id: int, to_names: list[str]) -> dict[str, Any]:
        """The `associations` member of a v3 object read (`?associations=companies`)."""
        out: dict[str, Any] = {}
        for name in to_names:
            to_kind = object_type(name)
            links = self.associated(from_kind, from_id, to_kind)
            results = [{"id": str(i), "type": ASSOCIATION_TYPES[t].name} for i, types in links.items() for t in sorted(types)]
            if results:
                out[to_kind.name] = {"results": results}
        return out

    def create(self, from_name: str, from_id: str, to_name: str, to_id: str, specs: list[dict[str, Any]]) -> dict[str, Any]:
        """`PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId}` with a list of types."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        kinds = [checked_type(from_kind.name, to_kind.name, s) for s in specs]
        a, b = self._existing(from_kind, from_id), self._existing(to_kind, to_id)
        for kind in kinds:
            self.portal.associations.add(kind, a, b)
        return _labels_between(from_kind, a, to_kind, b, self.associated(from_kind, a, to_kind).get(b, set()))

    def create_default(self, from_name: str, from_id: str, to_name: str, to_id: str) -> dict[str, Any]:
        """`PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        kind = default_type(from_kind.name, to_kind.name)
        a, b = self._existing(from_kind, from_id), self._existing(to_kind, to_id)
        self.portal.associations.add(kind, a, b)
        return self._batch(_default_result(kind, a, b), [])

    def archive(self, from_name: str, from_id: str, to_name: str, to_id: str) -> None:
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        if from_id.isdigit() and to_id.isdigit():
            self.portal.associations.remove(from_kind.name, int(from_id), to_kind.name, int(to_id))

    def page(self, from_name: str, from_id: str, to_name: str, after: str | None, limit: int) -> dict[str, Any]:
        """`GET /crm/v4/objects/{from}/{id}/associations/{to}`."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        a = self._existing(from_kind, from_id)
        items = list(self.associated(from_kind, a, to_kind).items())
        start = int(after) if after and after.isdigit() else 0
        chosen = items[start:start + limit]
        body: dict[str, Any] = {"results": [{"toObjectId": i, "associationTypes": [_type_json(t) for t in sorted(ts)]} for i, ts in chosen]}
        if start + limit < len(items):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return body

    def batch_create(self, from_name: str, to_name: str, inputs: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v4/associations/{from}/{to}/batch/create`: 201, or 207 with per-input errors."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        _check_size(inputs)
        results, errors = [], []
        for item in inputs:
            try:
                kinds = [checked_type(from_kind.name, to_kind.name, s) for s in item.get("types") or []]
                if not kinds:
                    raise validation_error("At least one association type is required.")
                a = self._existing(from_kind, _id_of(item.get("from")))
                b = self._existing(to_kind, _id_of(item.get("to")))
            except HubSpotError as exc:
                errors.append(batch_item(exc.body.get("category", "VALIDATION_ERROR"), exc.body["message"],
                                         {"fromObjectId": [_id_of(item.get("from"))], "toObjectId": [_id_of(item.get("to"))]}))
                continue
            for kind in kinds:
                self.portal.associations.add(kind, a, b)
            results.append(_labels_between(from_kind, a, to_kind, b, self.associated(from_kind, a, to_kind).get(b, set())))
        return (207 if errors else 201), self._batch(results, errors)

    def batch_create_default(self, from_name: str, to_name: str, inputs: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v4/associations/{from}/{to}/batch/associate/default`."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        _check_size(inputs)
        kind = default_type(from_kind.name, to_kind.name)
        results, errors = [], []
        for item in inputs:
            try:
                a = self._existing(from_kind, _id_of(item.get("from")))
                b = self._existing(to_kind, _id_of(item.get("to")))
            except HubSpotError as exc:
                errors.append(batch_item("OBJECT_NOT_FOUND", exc.body["message"],
                                         {"fromObjectId": [_id_of(item.get("from"))], "toObjectId": [_id_of(item.get("to"))]}))
                continue
            self.portal.associations.add(kind, a, b)
            results.extend(_default_result(kind, a, b))
        return (207 if errors else 200), self._batch(results, errors)

    def batch_read(self, from_name: str, to_name: str, inputs: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v4/associations/{from}/{to}/batch/read`: records without links come back as NO_ASSOCIATIONS_FOUND."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        _check_size(inputs)
        results, errors = [], []
        for item in inputs:
            raw = str(item.get("id", ""))
            links = self.associated(from_kind, int(raw), to_kind) if raw.isdigit() else {}
            if not links:
                errors.append(batch_item(
                    "OBJECT_NOT_FOUND",
                    f"No {to_kind.singular} is associated with {from_kind.singular} {raw}.",
                    {"fromObjectId": [raw], "fromObjectType": [from_kind.singular], "toObjectType": [to_kind.singular]},
                    sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                ))
                continue
            results.append({
                "from": {"id": raw},
                "to": [{"toObjectId": i, "associationTypes": [_type_json(t) for t in sorted(ts)]} for i, ts in links.items()],
            })
        return (207 if errors else 200), self._batch(results, errors)

    def batch_archive(self, from_name: str, to_name: str, inputs: list[dict[str, Any]]) -> None:
        """`POST /crm/v4/associations/{from}/{to}/batch/archive`: remove every type between the pairs."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        _check_size(inputs)
        for item in inputs:
            a = _id_of(item.get("from"))
            for target in item.get("to") or []:
                b = _id_of(target)
                if a.isdigit() and b.isdigit():
                    self.portal.associations.remove(from_kind.name, int(a), to_kind.name, int(b))

    def batch_archive_labels(self, from_name: str, to_name: str, inputs: list[dict[str, Any]]) -> None:
        """`POST /crm/v4/associations/{from}/{to}/batch/labels/archive`: remove only the listed types."""
        from_kind, to_kind = object_type(from_name), object_type(to_name)
        _check_size(inputs)
        for item in inputs:
            kinds = {checked_type(from_kind.name, to_kind.name, s).type_id for s in item.get("types") or []}
            a, b = _id_of(item.get("from")), _id_of(item.get("to"))
            if a.isdigit() and b.isdigit():
                self.portal.associations.remove(from_kind.name, int(a), to_kind.name, int(b), kinds)

    def _existing(self, kind: ObjectType, raw_id: str) -> int:
        if self.portal.store(kind).get(raw_id) is None:
            raise error(404, f"Could not find {kind.singular} with id {raw_id}.", "OBJECT_NOT_FOUND")
        return int(raw_id)

    def _batch(self, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
        return batch_response(results, errors, iso_ms(self.now_ms))


def _id_of(ref: Any) -> str:
    return str(ref.get("id", "")) if isinstance(ref, dict) else ""


def _check_size(inputs: list[dict[str, Any]]) -> None:
    if len(inputs) > MAX_BATCH_INPUTS:
        raise validation_error(
            f"The maximum number of inputs supported in a batch is {MAX_BATCH_INPUTS}. Please reduce the number of items and try again"
        )
