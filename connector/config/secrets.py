"""Secret references in the config: `${ENV_VAR}` or `file:/path`, never the secret itself."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_FILE_REF = re.compile(r"^file:(.+)$")


class Secret:
    """A resolved secret. Its repr and str never show the value; call `.get()` to use it."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str):
        self._value = value
        self.source = source

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from {self.source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            _validate, serialization=core_schema.plain_serializer_function_ser_schema(lambda s: s.source)
        )


def resolve_reference(reference: str, base_dir: Path | None = None) -> Secret:
    """Read the secret a reference names; raise ValueError saying what is missing."""
    reference = reference.strip()
    if match := _ENV_REF.match(reference):
        name = match.group(1)
        value = os.environ.get(name)
        if value is None or value == "":
            raise ValueError(f"secret reference {reference}: environment variable {name} is not set")
        return Secret(value, f"env {name}")
    if match := _FILE_REF.match(reference):
        path = Path(match.group(1)).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"secret reference {reference}: cannot read {path} ({exc.strerror})") from None
        if not value:
            raise ValueError(f"secret reference {reference}: {path} is empty")
        return Secret(value, f"file {path}")
    raise ValueError("secrets must be written as ${ENV_VAR} or file:/path references, never inline")


def _validate(value: Any, info: core_schema.ValidationInfo) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a secret reference string (${ENV_VAR} or file:/path)")
    base_dir = (info.context or {}).get("base_dir")
    return resolve_reference(value, base_dir)
