"""Read a mapping profile and check it: against its own schema, the datastore's fields and, when
the connection is reachable, the CRM's describe. Every problem at once, each with file:line."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from connector.adapters.base import FatalError, ObjectDescription
from connector.config.located_yaml import KeyPath, LocatedYamlError, Problem, locate, parse_located_yaml
from connector.config.validation_report import problems_from_errors
from connector.mapping.profile import ObjectMap, Profile
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


def load_profile(path: Path) -> LoadedProfile:
    """Parse and schema-check a profile; raise ProfileError with every problem found."""
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError([Problem(label, "", f"cannot read the mapping profile: {exc.strerror}")]) from None
    try:
        data, lines, problems = parse_located_yaml(text, label)
    except LocatedYamlError as exc:
        raise ProfileError([exc.problem]) from None
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
    return load_profile(settings.resolve_path(settings.connections[name].mapping))


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
        for name in field.upm_fields:
            if name not in columns:
                problems.append(Problem(loaded.where("objects", i, "fields", j, "upm"), f"objects.{i}.fields.{j}.upm",
                                        f"'{name}' is not a field of {obj.module}{_suggest(name, columns)}"))
        if field.relation is not None:
            if field.relation not in MODULES_BY_KEY:
                problems.append(Problem(loaded.where("objects", i, "fields", j, "relation"), f"objects.{i}.fields.{j}.relation",
                                        f"unknown UPM module '{field.relation}'{_suggest(field.relation, list(MODULES_BY_KEY))}"))
            elif field.relation != obj.module and field.relation not in earlier and loaded.profile.object_for(field.relation):
                problems.append(Problem(loaded.where("objects", i, "fields", j, "relation"), f"objects.{i}.fields.{j}.relation",
                                        f"'{field.relation}' is synced after '{obj.module}': list it earlier so no record is pushed before what it points at"))
        direction = field.direction or obj.direction
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
    wanted += [(("fields", j, "crm"), f.crm) for j, f in enumerate(obj.fields) if f.crm]
    for path, name in wanted:
        if name not in description.fields:
            problems.append(Problem(loaded.where("objects", i, *path), f"objects.{i}." + ".".join(map(str, path)),
                                    f"{obj.crm_object} has no field '{name}'{_suggest(name, names)}"))
    key = description.fields.get(obj.key.crm)
    if key is not None and not (key.external_id or key.unique):
        problems.append(Problem(loaded.where("objects", i, "key", "crm"), f"objects.{i}.key.crm",
                                f"{obj.crm_object}.{obj.key.crm} is not an external-id (unique) field: upserts need one"))
    return problems
