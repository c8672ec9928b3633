"""How commands print for people (rich tables on stdout) and for scripts (JSON on stdout)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def console() -> Console:
    """A console on stdout: the terminal's width there, wide and plain when piped."""
    out = sys.stdout
    return Console(file=out, width=None if out.isatty() else 200, soft_wrap=False, highlight=False)


def print_json(document: Any) -> None:
    """One indented JSON document on stdout (datetimes as ISO 8601)."""
    json.dump(document, sys.stdout, indent=2, default=lambda value: value.isoformat())
    sys.stdout.write("\n")
