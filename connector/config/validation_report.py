"""Turn pydantic validation errors into located problems, with a suggestion for a misspelt key."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Union

from pydantic import BaseModel

from connector.config.located_yaml import KeyPath, Problem, dotted, locate


def unwrap(annotation: Any) -> Any:
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


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def model_at(root: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """The model that holds the keys at `path` below `root` (dict entries and list items skipped)."""
    current: Any = root
    index = 0
    while index < len(path):
        if not _is_model(current):
            return None
        field = current.model_fields.get(str(path[index]))
        if field is None:
            return None
        current = unwrap(field.annotation)
        index += 1
        while typing.get_origin(current) in (dict, list):
            current = unwrap(typing.get_args(current)[-1])
            index += 1  # skip the entry's name or the item's index
    return current if _is_model(current) else None


def problems_from_errors(
    errors: Iterable[Mapping[str, Any]],
    root: type[BaseModel],
    label: str,
    lines: dict[KeyPath, int],
    origins: Mapping[KeyPath, str] | None = None,
    hide_input: tuple[type, ...] = (),
) -> list[Problem]:
    """One Problem per pydantic error, located by `lines` (or by the environment variable in
    `origins` that supplied the value). Inputs of the `hide_input` types are never echoed."""
    problems = []
    for error in errors:
        path: KeyPath = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
        where = f"environment {origins[path]}" if origins and path in origins else (locate(lines, path, label) if lines else label)
        problems.append(Problem(where, dotted(path), _message(error, root, path, hide_input)))
    return problems


def _message(error: Mapping[str, Any], root: type[BaseModel], path: KeyPath, hide_input: tuple[type, ...]) -> str:
    if error["type"] == "extra_forbidden":
        unknown = str(path[-1])
        message = f"unknown key '{unknown}'"
        parent = model_at(root, path[:-1])
        if parent is not None:
            close = difflib.get_close_matches(unknown, list(parent.model_fields), n=1, cutoff=0.6)
            message += f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join(parent.model_fields)}"
        return message
    if error["type"] == "missing":
        return f"required key '{path[-1]}' is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if "input" in error and not isinstance(value, (dict, list, *hide_input)) and "secret" not in message:
        message += f" (got {value!r})"
    return message
