"""The Mapper: a CRM record's fields -> UPM values, and UPM values -> the CRM fields to write.

It knows one ObjectMap and the UPM model's column types. Relationship fields are translated by the
resolvers the engine passes (through bindings), so the Mapper itself touches no database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Column

from connector.mapping.coerce import CoercionError, python_type, to_column, to_wire
from connector.mapping.derived import apply_rules, rules_for
from connector.mapping.profile import FieldMap, ObjectMap
from connector.mapping.through import Through, through
from connector.mapping.transforms import apply_in, apply_out
from connector.store.modules import MODULES_BY_KEY

ResolveIn = Callable[[str, str], int | None]
"""(UPM module, CRM id) -> UPM record id, or None when that record is not bound yet."""
ResolveOut = Callable[[str, int], str | None]
"""(UPM module, record id) -> CRM id, or None when that record is not in the CRM yet."""


class MappingError(ValueError):
    """A record cannot be mapped; names the field and says why."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _label(field: FieldMap, name: str) -> str:
    """How errors name a field: "LastName -> last_name"."""
    return f"{field.crm or name} -> {name}"


class InboundStep(NamedTuple):
    """A field's way in, worked out once for the mapper. `plain`: for a one-column field with no
    value map, default or relation whose column stores str, int or bool, that type: a value of
    exactly that type goes in as it is (a required text field's only when not blank, `not_blank`).
    `none_plain`: None goes in as it is (one nullable, optional column, no default). Anything else
    takes the full path (`Mapper._inbound_value`)."""

    field: FieldMap
    names: list[str]
    source: str | None
    """The CRM field read; None for a constant."""
    transform: tuple[str, ...]
    plain: type | None
    none_plain: bool
    not_blank: bool


_PLAIN = (str, int, float, bool, type(None))
"""Value types `_outbound_value` returns unchanged through a field with nothing to apply."""


def _sent_as_is(field: FieldMap) -> bool:
    """One UPM field, no constant, relation, value map, default, transform or requirement."""
    return (len(field.upm_fields) == 1 and field.constant is None and field.relation is None
            and field.relation_from is None and field.values is None and field.default is None
            and not field.transform and not field.required)


class Mapper:
    """Maps one UPM module <-> one CRM object as its ObjectMap says."""

    def __init__(self, object_map: ObjectMap):
        self.map = object_map
        self.module = MODULES_BY_KEY[object_map.module]
        self.columns: dict[str, Column[Any]] = {c.name: c for c in self.module.model.__table__.columns}
        self.inbound = [f for f in object_map.fields if self._flows(f, "to_upm")]
        self.outbound = [f for f in object_map.fields if self._flows(f, "to_crm") and not f.link]
        self.links = [f for f in object_map.fields if f.link and self._flows(f, "to_crm")]
        """Relations written as associations after the record is (HubSpot v4 links)."""
        self.inbound_links = [f for f in self.inbound if f.link]
        """Relations read from the record's associations (the pull puts the CRM id at `link_key`)."""
        self.through: list[Through] = [through(self.module, n) for f in self.outbound for n in f.upm_fields if "." in n]
        """Fields read from related records (`contact.email`), looked up before a push."""
        self._outbound_steps = [(f, f.crm, f.upm_fields[0] if _sent_as_is(f) else None, frozenset(f.upm_fields))
                                for f in self.outbound]
        """Per outbound field, worked out once: its CRM field, the UPM field it sends as it is (None:
        it takes `_outbound_value`), and the UPM fields that feed it (selective sync)."""
        """{id(field): its UPM field}: fields whose plain values go to the CRM as they are."""
        self._inbound_steps = [self._inbound_step(f) for f in self.inbound]
        self._derived = rules_for(object_map.module, self.upm_write_fields)
        self.derived_fields = frozenset(self._derived)
        """UPM fields derived from pulled values (derived.py): the CRM's, like `direction: to_upm` fields."""

    def _inbound_step(self, field: FieldMap) -> InboundStep:
        """A field's way in, worked out once (see InboundStep)."""
        names = field.upm_fields
        source = None if field.constant is not None else (field.link_key if field.link else field.crm or "")
        transform = tuple(field.transform)
        if len(names) != 1:
            return InboundStep(field, names, source, transform, None, False, False)
        column = self.columns[names[0]]
        target = python_type(column)
        plain = field.values is None and field.default is None and not field.relation and target in (str, int, bool)
        none_plain = column.nullable and not field.required and field.default is None
        return InboundStep(field, names, source, transform, target if plain else None, none_plain,
                           field.required and target is str)

    def _flows(self, field: FieldMap, direction: str) -> bool:
        effective = field.flow(self.map.direction)
        if effective not in ("both", direction):
            return False
        if field.constant is not None:  # a constant flows only towards the side it names
            return (direction == "to_crm" and field.crm is not None) or (direction == "to_upm" and field.upm is not None)
        return True

    @property
    def crm_read_fields(self) -> list[str]:
        """CRM fields a read must fetch: inbound fields, the key, and the modified stamp."""
        names = [f.crm for f in self.inbound if f.crm and f.constant is None]
        return list(dict.fromkeys([*names, self.map.key.crm, self.map.modified.crm]))

    @property
    def upm_read_fields(self) -> set[str]:
        """UPM fields a push reads from the record itself (not through a relation)."""
        names = {n for f in [*self.outbound, *self.links] for n in [*f.upm_fields, f.relation_from] if n}
        return {n for n in names if "." not in n}

    @property
    def upm_write_fields(self) -> set[str]:
        """UPM fields this mapping may set."""
        return {name for f in self.inbound for name in f.upm_fields}

    def external_id(self, record_id: int) -> str:
        return f"{self.map.key.prefix}{record_id}"

    def record_id(self, external_id: Any) -> int | None:
        """The UPM id inside an external id we wrote, or None for one we did not write."""
        text = "" if external_id is None else str(external_id)
        if not text.startswith(self.map.key.prefix):
            return None
        rest = text[len(self.map.key.prefix):]
        return int(rest) if rest.isdigit() else None

    # CRM -> UPM

    def to_upm(self, crm: Mapping[str, Any], resolve: ResolveIn) -> dict[str, Any]:
        """UPM column values from a CRM record: ready to insert or set as they are (an empty value
        for a column that cannot be empty takes the column's default, e.g. an account's approval
        status "Draft"), with the values UPM derives from them (derived.py: an approved account is
        active). Raises MappingError naming the first bad field."""
        out: dict[str, Any] = {}
        for field, names, source, transform, plain, none_plain, not_blank in self._inbound_steps:
            value = field.constant if source is None else crm.get(source)
            if transform:
                value = apply_in(transform, value, field.date_format)
            if value is None:
                if none_plain:
                    out[names[0]] = None
                    continue
            elif type(value) is plain and not (not_blank and not value.strip()):
                out[names[0]] = value
                continue
            values = value if len(names) == 2 else [value]
            for name, item in zip(names, values):
                out[name] = self._inbound_value(field, name, item, resolve)
        if self._derived:
            apply_rules(self._derived, out)
        return out

    def _inbound_value(self, field: FieldMap, name: str, value: Any, resolve: ResolveIn) -> Any:
        if field.values is not None and not _empty(value):
            key = str(value)
            if key in field.values:
                value = field.values[key]
            elif field.strict_values:
                raise MappingError(_label(field, name), f"value {value!r} is not in the value map ({', '.join(field.values)})")
        if _empty(value) and field.default is not None:
            value = field.default
        if field.relation is not None and not _empty(value):
            resolved = resolve(field.relation, str(value))
            if resolved is None:
                raise MappingError(_label(field, name), f"{field.relation} with CRM id {value} is not synced yet")
            value = resolved
        if field.required and _empty(value):
            raise MappingError(_label(field, name), "is required and empty")
        column = self.columns[name]
        try:
            value = to_column(column, value)
        except CoercionError as exc:
            raise MappingError(_label(field, name), str(exc)) from None
        if value is None and not column.nullable:
            if column.default is None:
                raise MappingError(_label(field, name), "is required by the datastore and empty")
            value = column.default.arg if column.default.is_scalar else column.default.arg(None)
        return value

    # UPM -> CRM

    def to_crm(
        self, upm: Mapping[str, Any], resolve: ResolveOut, *, creating: bool, only: set[str] | None = None
    ) -> dict[str, Any]:
        """CRM fields to write for a UPM record. `only` limits to fields fed by those UPM fields
        (selective sync); on_create_only fields are written only when `creating`."""
        out: dict[str, Any] = {}
        for field, crm, name, feeds in self._outbound_steps:
            if field.on_create_only and not creating:
                continue
            if only is not None and field.constant is None and feeds.isdisjoint(only):
                continue
            assert crm is not None
            value = upm.get(name) if name is not None else None
            if name is None or type(value) not in _PLAIN:
                value = self._outbound_value(field, upm, resolve)
            out[crm] = value
        return out

    @staticmethod
    def _relation_of(field: FieldMap, upm: Mapping[str, Any]) -> str | None:
        """The module a relation field points at: fixed, or named by another UPM field."""
        if field.relation_from is not None:
            named = upm.get(field.relation_from)
            return None if _empty(named) else str(named)
        return field.relation

    def link_targets(self, upm: Mapping[str, Any]) -> list[tuple[str, int]]:
        """(UPM module, record id) of each record this one is linked to by association."""
        targets = []
        for field in self.links:
            value = upm.get(field.upm_fields[0])
            module = self._relation_of(field, upm)
            if module is not None and not _empty(value):
                targets.append((module, int(value)))
        return targets

    def _outbound_value(self, field: FieldMap, upm: Mapping[str, Any], resolve: ResolveOut) -> Any:
        assert field.crm is not None
        if field.constant is not None:
            return field.constant
        names = field.upm_fields
        value = [upm.get(n) for n in names] if len(names) == 2 else upm.get(names[0])
        label = f"{names[0]} -> {field.crm}"
        relation = self._relation_of(field, upm)
        if relation is not None and not _empty(value):
            resolved = resolve(relation, int(value))
            if resolved is None:
                raise MappingError(label, f"{relation} {value} is not in the CRM yet")
            value = resolved
        if field.values is not None and not _empty(value):
            reverse = {str(v): k for k, v in field.values.items()}
            if str(value) in reverse:
                value = reverse[str(value)]
            elif field.strict_values:
                raise MappingError(label, f"value {value!r} has no CRM equivalent in the value map")
        if _empty(value) and field.default is not None:
            value = field.default
        value = apply_out(field.transform, value, field.date_format)
        if field.required and _empty(value):
            raise MappingError(label, "is required and empty")
        return to_wire(value)
