"""Read the config file, apply environment overrides, validate, and report every problem at once
with file:line, the key, and a suggestion for a misspelt key."""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from connector.config.secrets import Secret
from connector.config.settings import Settings

ENV_CONFIG_PATH = "UPM_CONNECTOR_CONFIG"
DEFAULT_CONFIG_PATH = Path("config.yaml")
ENV_PREFIX = "UPM_"

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration, located as precisely as the input allows."""

    where: str  # "config.yaml:12" or "environment UPM_HTTP_BIND"
    key: str  # dotted path, e.g. connections.crm.schedule
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.key or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every finding."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The config file to read: --config, else $UPM_CONNECTOR_CONFIG, else ./config.yaml if present.

    None means "run on the embedded defaults".
    """
    if explicit:
        return Path(explicit)
    if env := os.environ.get(ENV_CONFIG_PATH):
        return Path(env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_settings(path: str | os.PathLike[str] | None = None, environ: typing.Mapping[str, str] | None = None) -> Settings:
    """Load and validate the configuration. Raise ConfigError with every problem found."""
    environ = os.environ if environ is None else environ
    source = config_path(path)
    data: dict[str, Any] = {}
    lines: dict[KeyPath, int] = {}
    problems: list[ConfigProblem] = []
    label = str(source) if source else "(embedded defaults)"
    if source is not None:
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([ConfigProblem(str(source), "", f"cannot read the config file: {exc.strerror}")]) from None
        data, lines, problems = _parse_yaml(text, label)
    problems += _check_names(data, lines, label)
    origins = _apply_env_overrides(data, environ)
    base_dir = source.resolve().parent if source else Path.cwd()
    try:
        settings = Settings.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems += [_problem(err, label, lines, origins) for err in exc.errors()]
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    settings._source = source
    settings._locations = {path: f"{label}:{line}" for path, line in lines.items()}
    return settings


def _parse_yaml(text: str, label: str) -> tuple[dict[str, Any], dict[KeyPath, int], list[ConfigProblem]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ConfigError([ConfigProblem(f"{label}:{line}", "", f"YAML syntax: {exc.problem}")]) from None
    if root is None:
        return {}, {}, []
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError([ConfigProblem(f"{label}:1", "", "the config must be a mapping of sections")])
    lines: dict[KeyPath, int] = {(): 1}
    problems: list[ConfigProblem] = []
    constructor = yaml.SafeLoader("")

    def build(node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in out:
                    problems.append(ConfigProblem(f"{label}:{line}", _dotted(path + (key,)), f"duplicate key '{key}'"))
                lines[path + (key,)] = line
                out[key] = build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                lines[path + (index,)] = item.start_mark.line + 1
                items.append(build(item, path + (index,)))
            return items
        return constructor.construct_object(node, deep=True)

    return build(root, ()), lines, problems


NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def _check_names(data: dict[str, Any], lines: dict[KeyPath, int], label: str) -> list[ConfigProblem]:
    """Connection and job names become lane names and log fields: keep them plain."""
    problems = []
    for section in ("connections", "jobs"):
        entries = data.get(section)
        for name in entries if isinstance(entries, dict) else ():
            if not NAME.fullmatch(str(name)):
                where = f"{label}:{lines.get((section, name), 0)}"
                message = f"name '{name}' must be lower-case letters, digits, '-' or '_' (at most 63)"
                problems.append(ConfigProblem(where, f"{section}.{name}", message))
    return problems


def _apply_env_overrides(data: dict[str, Any], environ: typing.Mapping[str, str]) -> dict[KeyPath, str]:
    """Apply UPM_<SECTION>_<KEY> variables (e.g. UPM_DATABASE_URL, UPM_HTTP_BIND) over the file."""
    origins: dict[KeyPath, str] = {}
    for path, annotation in _scalar_fields(Settings, ()):
        name = ENV_PREFIX + "_".join(str(p) for p in path).upper()
        if name not in environ:
            continue
        raw = environ[name]
        value: Any
        if _unwrap(annotation) is Secret:
            value = Secret(raw, f"env {name}")
        elif _unwrap(annotation) in (str, Path):
            value = raw
        else:
            value = yaml.safe_load(raw) if raw.strip() else None
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[path[-1]] = value
        origins[path] = name
    return origins


def _scalar_fields(model: type[BaseModel], prefix: KeyPath) -> typing.Iterator[tuple[KeyPath, Any]]:
    for name, field in model.model_fields.items():
        inner = _unwrap(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _scalar_fields(inner, prefix + (name,))
        elif typing.get_origin(inner) not in (dict, list):
            yield prefix + (name,), field.annotation


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated to the one real type (or leave a real union alone)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """The settings model that holds the keys at `path` (for suggestions)."""
    current: Any = Settings
    index = 0
    while index < len(path):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(path[index]))
        if field is None:
            return None
        current = _unwrap(field.annotation)
        index += 1
        if typing.get_origin(current) is dict:
            current = _unwrap(typing.get_args(current)[1])
            index += 1  # skip the user's name for the entry
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _problem(error: Any, label: str, lines: dict[KeyPath, int], origins: dict[KeyPath, str]) -> ConfigProblem:
    path: KeyPath = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
    key = _dotted(path)
    if path in origins:
        where = f"environment {origins[path]}"
    else:
        known = next((path[:n] for n in range(len(path), -1, -1) if path[:n] in lines), ())
        where = f"{label}:{lines.get(known, 0)}" if lines else label
    if error["type"] == "extra_forbidden":
        unknown = str(path[-1])
        message = f"unknown key '{unknown}'"
        parent = _model_at(path[:-1])
        if parent is not None:
            close = difflib.get_close_matches(unknown, list(parent.model_fields), n=1, cutoff=0.6)
            if close:
                message += f"; did you mean '{close[0]}'?"
            else:
                message += f"; expected one of: {', '.join(parent.model_fields)}"
        return ConfigProblem(where, key, message)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = f"required key '{path[-1]}' is missing"
    elif "input" in error and not isinstance(error["input"], (dict, list, Secret)) and "secret" not in message:
        message += f" (got {error['input']!r})"
    return ConfigProblem(where, key, message)


def _dotted(path: KeyPath) -> str:
    return ".".join(str(p) for p in path)
