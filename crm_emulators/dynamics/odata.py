"""The OData query options the emulator understands: `$select`, `$filter` (eq ne gt ge lt le, and, or,
parentheses; string, number, date-time, GUID, null and boolean literals), `$orderby`, and the
`Prefer` header's `odata.maxpagesize`, `odata.track-changes` and `odata.continue-on-error`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import bad_request

MAX_PAGE_SIZE = 5000
_TOKEN = re.compile(r"\s*(\(|\)|'(?:[^']|'')*'|[^\s()]+)")
_OPERATORS = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})?$")

Predicate = Callable[[Mapping[str, Any]], bool]


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant as aware UTC (naive ones are UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def format_instant(moment: datetime) -> str:
    """How Dataverse writes a date-time: UTC, whole seconds, `Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _literal(token: str) -> Any:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if token == "null":
        return None
    if token in ("true", "false"):
        return token == "true"
    if _DATETIME.match(token):
        return parse_instant(token)
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token.lower()  # a GUID


def parse_filter(text: str, columns: set[str], entity: str) -> Predicate:
    """A predicate over a record's values; DataverseError 400 for what Dataverse would refuse."""
    tokens = _TOKEN.findall(text)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise bad_request(f"Syntax error at position {len(text)} in '{text}'.")
        position += 1
        return tokens[position - 1]

    def primary() -> Predicate:
        if peek() == "(":
            take()
            inner = disjunction()
            if take() != ")":
                raise bad_request(f"')' or operator expected in '{text}'.")
            return inner
        name, operator, raw = take(), take(), take()
        if name not in columns:
            raise bad_request(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'.")
        compare = _OPERATORS.get(operator)
        if compare is None:
            raise bad_request(f"Syntax error: unknown operator '{operator}' in '{text}'.")
        value = _literal(raw)

        def test(record: Mapping[str, Any]) -> bool:
            actual = record.get(name)
            if isinstance(value, datetime) and isinstance(actual, str):
                actual = parse_instant(actual)
            if isinstance(actual, str) and isinstance(value, str) and not raw.startswith("'"):
                actual = actual.lower()
            return bool(compare(actual, value))
        return test

    def conjunction() -> Predicate:
        parts = [primary()]
        while peek() == "and":
            take()
            parts.append(primary())
        return lambda record: all(p(record) for p in parts)

    def disjunction() -> Predicate:
        parts = [conjunction()]
        while peek() == "or":
            take()
            parts.append(conjunction())
        return lambda record: any(p(record) for p in parts)

    predicate = disjunction()
    if position != len(tokens):
        raise bad_request(f"Syntax error at '{tokens[position]}' in '{text}'.")
    return predicate


def parse_orderby(text: str | None, columns: set[str], entity: str) -> list[tuple[str, bool]]:
    """[(column, descending)]."""
    order: list[tuple[str, bool]] = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, direction = part.strip().partition(" ")
        if name not in columns:
            raise bad_request(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'.")
        order.append((name, direction.strip().lower() == "desc"))
    return order


def parse_select(text: str | None, columns: set[str], entity: str) -> list[str] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in columns:
            raise bad_request(f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'.")
    return names


@dataclass(frozen=True)
class Preferences:
    """What a request's `Prefer` header asked for."""

    max_page_size: int = MAX_PAGE_SIZE
    track_changes: bool = False
    continue_on_error: bool = False
    return_representation: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Preferences:
        size, track, go_on, representation = MAX_PAGE_SIZE, False, False, False
        for part in (header or "").split(","):
            name, _, value = part.strip().partition("=")
            if name == "odata.maxpagesize":
                try:
                    size = max(1, min(MAX_PAGE_SIZE, int(value.strip('"'))))
                except ValueError:
                    raise bad_request(f"Invalid odata.maxpagesize '{value}'.") from None
            track = track or name == "odata.track-changes"
            go_on = go_on or name == "odata.continue-on-error"
            representation = representation or (name == "return" and value == "representation")
        return cls(size, track, go_on, representation)

    def applied(self) -> str:
        """The `Preference-Applied` header."""
        parts = [f"odata.maxpagesize={self.max_page_size}"]
        if self.track_changes:
            parts.append("odata.track-changes")
        return ",".join(parts)
