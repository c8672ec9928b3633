"""How import files spell things: a cell as trimmed text, a name folded for matching, and the
error a cell's parser raises."""

from __future__ import annotations

import re
import unicodedata


class Invalid(ValueError):
    """A cell's value is refused; the message follows the value ("is not a whole number")."""


def fold(text: str) -> str:
    """Letters and digits only, accents dropped, case folded: 'Côte d'Ivoire' -> 'cotedivoire'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^0-9a-z]", "", plain.casefold())


def cell_text(value: object) -> str | None:
    """A cell as trimmed text (a whole float from Excel loses its '.0'); None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
