"""The named transforms a profile's fields may list. Each has a way in (CRM -> UPM) and out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def apply_in(names: Sequence[str], value: Any, date_format: str | None) -> Any:
    """CRM value -> UPM value through the listed transforms, in order."""
    for name in names:
        value = _IN[name](value, date_format)
    return value


def apply_out(names: list[str], value: Any, date_format: str | None) -> Any:
    """UPM value -> CRM value through the listed transforms, in reverse order."""
    for name in reversed(names):
        value = _OUT[name](value, date_format)
    return value


def _trim(value: Any, _fmt: str | None) -> Any:
    return value.strip() if isinstance(value, str) else value


def _lower(value: Any, _fmt: str | None) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any, _fmt: str | None) -> Any:
    return value.upper() if isinstance(value, str) else value


def _none_if_empty(value: Any, _fmt: str | None) -> Any:
    return None if _empty(value) else value


def split_full_name(value: Any, _fmt: str | None = None) -> list[str | None]:
    """"Ada King Lovelace" -> ["Ada King", "Lovelace"]; a single word is a last name."""
    if _empty(value):
        return [None, None]
    first, _, last = str(value).strip().rpartition(" ")
    return [first or None, last]


def join_full_name(value: Any, _fmt: str | None = None) -> str | None:
    parts = [str(p).strip() for p in (value or []) if not _empty(p)]
    return " ".join(parts) or None


def _date_in(value: Any, fmt: str | None) -> Any:
    if _empty(value) or isinstance(value, date):
        return None if _empty(value) else value
    return datetime.strptime(str(value), fmt).date() if fmt else date.fromisoformat(str(value)[:10])


def _date_out(value: Any, fmt: str | None) -> Any:
    if isinstance(value, date):
        return value.strftime(fmt) if fmt else value.isoformat()
    return value


def _datetime_in(value: Any, fmt: str | None) -> Any:
    if _empty(value) or isinstance(value, datetime):
        return None if _empty(value) else value
    parsed = datetime.strptime(str(value), fmt) if fmt else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _datetime_out(value: Any, fmt: str | None) -> Any:
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc)
        return value.strftime(fmt) if fmt else value.isoformat().replace("+00:00", "Z")
    return value


def _same(value: Any, _fmt: str | None) -> Any:
    return value


_IN = {
    "trim": _trim,
    "lower": _lower,
    "upper": _upper,
    "none_if_empty": _none_if_empty,
    "full_name": split_full_name,
    "date": _date_in,
    "datetime": _datetime_in,
}
_OUT = {
    "trim": _trim,
    "lower": _same,
    "upper": _same,
    "none_if_empty": _none_if_empty,
    "full_name": join_full_name,
    "date": _date_out,
    "datetime": _datetime_out,
}
