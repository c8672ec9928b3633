"""The advanced-mode merge rule: a three-way merge per field, the later modified stamp winning a
true conflict. Pure: no I/O, so it is tested by properties (see tests/sync/test_merge.py).

For each field, with `base` the value both sides held after the last sync:
- changed on one side only -> that side's value;
- changed on both sides to the same value -> that value;
- changed on both sides to different values (a true conflict) -> the side with the later stamp;
  stamps within `skew` seconds are simultaneous and the tie is broken by the values themselves
  (so the result never depends on which side is called "local"); the conflict is reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class FieldConflict:
    field: str
    local: Any
    remote: Any
    winner: str  # "local" | "remote"


@dataclass(frozen=True)
class MergeResult:
    values: dict[str, Any]
    """Every field's merged value."""
    conflicts: list[FieldConflict]


def to_plain(value: Any) -> Any:
    """A value as plain JSON data, the form bindings store: numbers as floats (1500, 1500.0 and
    Decimal("1500.00") are one amount), dates and datetimes as ISO text (datetimes in UTC)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return str(value)


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    """`to_plain` of a record's mapped values, with the common case (text, None, booleans, floats:
    already plain) taken as it is."""
    return {k: v if type(v) in _SCALARS else to_plain(v) for k, v in values.items()}


def canonical(value: Any) -> str:
    """Comparable text for a value, typed or plain (see `to_plain`)."""
    return json.dumps(to_plain(value), sort_keys=True)


_SCALARS = (str, float, bool, type(None))


def same(a: Any, b: Any) -> bool:
    """Equal once plain (see `to_plain`): 1500 and "1500.00" differ, 1500 and 1500.0 do not."""
    plain_a, plain_b = to_plain(a), to_plain(b)
    if type(plain_a) is type(plain_b) and isinstance(plain_a, _SCALARS):
        return plain_a == plain_b or plain_a != plain_a and plain_b != plain_b  # NaN is NaN
    return canonical(plain_a) == canonical(plain_b)


def merge(
    base: Mapping[str, Any] | None,
    local: Mapping[str, Any],
    remote: Mapping[str, Any],
    local_stamp: datetime,
    remote_stamp: datetime,
    skew_seconds: float = 0.0,
) -> MergeResult:
    """Merge `local` and `remote` over the union of their fields. With no base (never synced),
    every differing field is a conflict decided by the stamps."""
    base = base or {}
    delta = (local_stamp - remote_stamp).total_seconds()
    later = "local" if delta > skew_seconds else "remote" if delta < -skew_seconds else None
    values: dict[str, Any] = {}
    conflicts: list[FieldConflict] = []
    for field in sorted(set(local) | set(remote)):
        mine, theirs = local.get(field, base.get(field)), remote.get(field, base.get(field))
        if same(mine, theirs):
            values[field] = mine
            continue
        known = field in base
        local_changed = not known or not same(mine, base[field])
        remote_changed = not known or not same(theirs, base[field])
        if local_changed and not remote_changed:
            values[field] = mine
        elif remote_changed and not local_changed:
            values[field] = theirs
        else:
            winner = later or ("local" if canonical(mine) > canonical(theirs) else "remote")
            values[field] = mine if winner == "local" else theirs
            conflicts.append(FieldConflict(field, mine, theirs, winner))
    return MergeResult(values, conflicts)
