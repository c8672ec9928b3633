"""Salesforce record ids: 3-character key prefix, 15 case-sensitive characters, 3-character checksum suffix."""

from __future__ import annotations

import string
import threading

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX_CHARS = string.ascii_uppercase + "012345"
_POD = "5g0"  # instance (2 characters) and reserved character, as in 00Q5g00000AbCdEFGH


def checksum_suffix(id15: str) -> str:
    """The 3 characters that make a 15-character id case-insensitive (one per 5-character chunk)."""
    suffix = ""
    for start in (0, 5, 10):
        flags = sum(1 << bit for bit, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        suffix += _SUFFIX_CHARS[flags]
    return suffix


def normalize_id(value: object) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when `value` is not a well-formed id."""
    if not isinstance(value, str) or len(value) not in (15, 18) or not value.isascii() or not value.isalnum():
        return None
    id15 = value[:15]
    suffix = checksum_suffix(id15)
    if len(value) == 18 and value[15:].upper() != suffix:
        return None
    return id15 + suffix


class IdFactory:
    """Hands out new 18-character ids, one increasing counter for the whole org."""

    def __init__(self, start: int = 1_000_000) -> None:
        self._next = start
        self._lock = threading.Lock()

    def new(self, key_prefix: str) -> str:
        """A fresh id with the given 3-character key prefix."""
        with self._lock:
            number = self._next
            self._next += 1
        digits = ""
        while number:
            number, rest = divmod(number, 62)
            digits = _BASE62[rest] + digits
        id15 = key_prefix + _POD + digits.rjust(9, "0")
        return id15 + checksum_suffix(id15)
