"""Read the config file, apply environment overrides, validate, and report every problem at once
with file:line, the key, and a suggestion for a misspelt key."""

from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from connector.config.located_yaml import KeyPath, LocatedYamlError, Problem, parse_located_yaml, read_yaml_text
from connector.config.secrets import Secret
from connector.config.settings import Settings
from connector.config.validation_report import problems_from_errors, unwrap

ENV_CONFIG_PATH = "UPM_CONNECTOR_CONFIG"
DEFAULT_CONFIG_PATH = Path("config.yaml")
EMBEDDED_DEFAULTS = Path(__file__).with_name("defaults.yaml")
"""What runs with no config file: a copy of config.example.yaml (SQLite, local emulators)."""
ENV_PREFIX = "UPM_"


ConfigProblem = Problem
"""A problem with the configuration (file:line or environment variable, key, message)."""


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
    try:
        text = read_yaml_text(source or EMBEDDED_DEFAULTS, "config file")
        if text:
            data, lines, problems = parse_located_yaml(text, label)
    except LocatedYamlError as exc:
        raise ConfigError([exc.problem]) from None
    problems += _check_names(data, lines, label)
    origins = _apply_env_overrides(data, environ)
    base_dir = source.resolve().parent if source else Path.cwd()
    try:
        settings = Settings.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems += problems_from_errors(exc.errors(), Settings, label, lines, origins, hide_input=(Secret,))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    settings._source = source
    settings._locations = {path: f"{label}:{line}" for path, line in lines.items()}
    return settings


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
        if unwrap(annotation) is Secret:
            value = Secret(raw, f"env {name}")
        elif unwrap(annotation) in (str, Path):
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
        inner = unwrap(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _scalar_fields(inner, prefix + (name,))
        elif typing.get_origin(inner) not in (dict, list):
            yield prefix + (name,), field.annotation


