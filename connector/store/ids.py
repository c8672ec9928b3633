"""Record ids as people and URLs write them."""

from __future__ import annotations

MAX_ID = 2**31 - 1
"""The largest id a record can have (the id columns are 32-bit integers on PostgreSQL)."""


def as_id(ref: object) -> int | None:
    """`ref` as a record id: an int, or text of ASCII digits (not '¹' or '٣', which str.isdigit
    admits) within 1..MAX_ID; None for anything else, so a caller looks it up by name instead or
    answers 'not found'."""
    if isinstance(ref, int):
        return ref if 1 <= ref <= MAX_ID else None
    text = str(ref).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
