"""Read a mapping profile and check it: against its own schema, the datastore's fields and, when
the connection is reachable, the CRM's describe. Every problem at once, each with file:line."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from connector.adapters.base import FatalError, ObjectDescription
from connector.config.located_yaml import KeyPath, LocatedYamlError, Problem, locate, parse_located_yaml, read_yaml_text
from connector.config.validation_report import problems_from_errors
from connector.mapping.profile import ObjectMap, Profile
from connector.mapping.through import through
from connector.store.modules import MODULES_BY_KEY

if TYPE_CHECKING:
    from connector.config.settings import Settings

Describe = Callable[[str], ObjectDescription]


class ProfileError(Exception):
    """A profile cannot be used; `problems` lists every finding."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LoadedProfile:
    """A valid profile and where each of its keys was written."""

    def __init__(self, profile: Profile, path: Path, lines: dict[KeyPath, int]):
        self.profile = profile
        self.path = path
        self.lines = lines

    def where(self, *path: str | int) -> str:
        return locate(self.lines, path, str(self.path))


@functools.lru_cache(maxsize=64)
def _parsed(text: str, label: str) -> tuple[Any, dict[KeyPath, int], tuple[Problem, ...]]:
    """A profile's YAML, parsed once per text: hundreds of partner connections share one shipped
    profile, and the pure-Python parse is most of a load (the callers get fresh models each time)."""
    data, lines, problems = parse_located_yaml(text, label)
    return data, lines, tuple(problems)


def load_profile(path: Path) -> LoadedProfile:
    """Parse and schema-check a profile; raise ProfileError with every problem found."""
    label = str(path)
    try:
        data, lines, parse_problems = _parsed(read_yaml_text(path, "mapping profile"), label)
    except LocatedYamlError as exc:
        raise ProfileError([exc.problem]) from None
    problems = list(parse_problems)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(problems + problems_from_errors(exc.errors(), Profile, label, lines)) from None
    loaded = LoadedProfile(profile, path, lines)
    problems += check_profile(loaded)
    if problems:
        raise ProfileError(problems)
    return loaded


def load_connection_profile(settings: Settings, name: str) -> LoadedProfile:
    """Connection `name`'s mapping profile, checked (raises ProfileError listing every problem)."""
    return load_profile(settings.resolve_mapping(settings.connections[name].mapping))


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_profile(loaded: LoadedProfile, describe: Describe | None = None) -> list[Problem]:
    """What the schema cannot see: modules and fields that do not exist, value maps that cannot be
    reversed, relations to unknown modules or to objects synced later, and (with `describe`) CRM
    fields the CRM does not have."""
    problems: list[Problem] = []
    profile = loaded.profile
    modules = list(MODULES_BY_KEY)
    seen: list[str] = []
    unprefixed: dict[str, str] = {}
    for i, obj in enumerate(profile.objects):
        if obj.key.prefix:
            continue
        if obj.crm_object in unprefixed:
            problems.append(Problem(loaded.where("objects", i, "key"), f"objects.{i}.key",
                                    f"'{unprefixed[obj.crm_object]}' and '{obj.module}' both map {obj.crm_object} without a key "
                                    "prefix: give one of them a prefix so each CRM record has one owner"))
        unprefixed[obj.crm_object] = obj.module
    for i, obj in enumerate(profile.objects):
        if obj.module not in MODULES_BY_KEY:
            problems.append(Problem(loaded.where("objects", i, "module"), f"objects.{i}.module",
                                    f"unknown UPM module '{obj.module}'{_suggest(obj.module, modules)}"))
            continue
        problems += _check_fields(loaded, i, obj, seen)
        if obj.distribute != "none" and (obj.module != "prospect" or profile.mode != "complete"):
            problems.append(Problem(loaded.where("objects", i, "distribute"), f"objects.{i}.distribute",
                                    "lead distribution from the CRM is for the prospect module in complete mode"))
        if describe is not None:
            problems += _check_against_crm(loaded, i, obj, describe)
        seen.append(obj.module)
    return problems


def _check_fields(loaded: LoadedProfile, i: int, obj: ObjectMap, earlier: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    columns = [c.name for c in MODULES_BY_KEY[obj.module].model.__table__.columns]
    if obj.modified.upm not in columns:
        problems.append(Problem(loaded.where("objects", i, "modified", "upm"), f"objects.{i}.modified.upm",
                                f"'{obj.modified.upm}' is not a field of {obj.module}{_suggest(obj.modified.upm, columns)}"))
    for j, field in enumerate(obj.fields):
        direction = field.flow(obj.direction)
        where, at = loaded.where("objects", i, "fields", j, "upm"), f"objects.{i}.fields.{j}.upm"
        for name in field.upm_fields:
            if "." in name:
                try:
                    through(MODULES_BY_KEY[obj.module], name)
                except ValueError as exc:
                    problems.append(Problem(where, at, f"'{name}': {exc}"))
            elif name not in columns:
                problems.append(Problem(loaded.where("objects", i, "fields", j, "upm"), f"objects.{i}.fields.{j}.upm",
                                        f"'{name}' is not a field of {obj.module}{_suggest(name, columns)}"))
        if field.relation is not None:
            if field.relation not in MODULES_BY_KEY:
                problems.append(Problem(loaded.where("objects", i, "fields", j, "relation"), f"objects.{i}.fields.{j}.relation",
                                        f"unknown UPM module '{field.relation}'{_suggest(field.relation, list(MODULES_BY_KEY))}"))
            elif field.relation != obj.module and field.relation not in earlier and loaded.profile.object_for(field.relation):
                problems.append(Problem(loaded.where("objects", i, "fields", j, "relation"), f"objects.{i}.fields.{j}.relation",
                                        f"'{field.relation}' is synced after '{obj.module}': list it earlier so no record is pushed before what it points at"))
        if (field.through or field.relation_from) and direction != "to_crm":
            problems.append(Problem(where, at, "a field read through a relation or a polymorphic relation (relation_from) "
                                                "only goes to the CRM: give it direction to_crm"))
        if field.link and direction == "both":
            problems.append(Problem(where, at, "a link goes one way: to_crm (associated after the write) or to_upm (read "
                                                "from the record's associations)"))
        if field.link and direction == "to_upm" and field.relation and not loaded.profile.object_for(field.relation):
            problems.append(Problem(loaded.where("objects", i, "fields", j, "relation"), f"objects.{i}.fields.{j}.relation",
                                    f"a link read back needs '{field.relation}' synced by this profile (its CRM object "
                                    "holds the associated records)"))
        if field.relation_from is not None and field.relation_from not in columns:
            problems.append(Problem(loaded.where("objects", i, "fields", j, "relation_from"), f"objects.{i}.fields.{j}.relation_from",
                                    f"'{field.relation_from}' is not a field of {obj.module}{_suggest(field.relation_from, columns)}"))
        if field.link and loaded.profile.crm != "hubspot":
            problems.append(Problem(loaded.where("objects", i, "fields", j, "link"), f"objects.{i}.fields.{j}.link",
                                    f"links are HubSpot associations; {loaded.profile.crm} relates records by a field (crm: ParentId)"))
        if field.parent_field and direction != "to_upm":  # only an explicit direction can say so (flow())
            problems.append(Problem(loaded.where("objects", i, "fields", j, "direction"), f"objects.{i}.fields.{j}.direction",
                                    f"'{field.crm}' is a field of a related record: the CRM only reads it, so its "
                                    f"direction must be to_upm (here {direction})"))
        if field.values and direction in ("to_crm", "both"):
            targets = [str(v) for v in field.values.values()]
            if len(set(targets)) != len(targets):
                problems.append(Problem(loaded.where("objects", i, "fields", j, "values"), f"objects.{i}.fields.{j}.values",
                                        "two CRM values map to one UPM value: the map cannot be reversed for writes to the CRM "
                                        "(make the field direction to_upm, or the map one-to-one)"))
    return problems


def _check_against_crm(loaded: LoadedProfile, i: int, obj: ObjectMap, describe: Describe) -> list[Problem]:
    try:
        description = describe(obj.crm_object)
    except FatalError as exc:  # the CRM answered, and said no: a profile problem (other errors propagate)
        return [Problem(loaded.where("objects", i, "crm_object"), f"objects.{i}.crm_object",
                        f"the CRM cannot describe '{obj.crm_object}': {exc}")]
    names = list(description.fields)
    problems: list[Problem] = []
    wanted: list[tuple[KeyPath, str]] = [(("key", "crm"), obj.key.crm), (("modified", "crm"), obj.modified.crm)]
    # a parent field (Account.Name) is not in this object's describe: the CRM checks it when reading
    wanted += [(("fields", j, "crm"), f.crm) for j, f in enumerate(obj.fields) if f.crm and not f.parent_field]
    for path, name in wanted:
        if name not in description.fields:
            problems.append(Problem(loaded.where("objects", i, *path), f"objects.{i}." + ".".join(map(str, path)),
                                    f"{obj.crm_object} has no field '{name}'{_suggest(name, names)}"))
    key = description.fields.get(obj.key.crm)
    if key is not None and not (key.external_id or key.unique):
        problems.append(Problem(loaded.where("objects", i, "key", "crm"), f"objects.{i}.key.crm",
                                f"{obj.crm_object}.{obj.key.crm} is not an external-id (unique) field: upserts need one"))
    return problems
