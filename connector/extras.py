"""Optional parts installed as package extras: a clear error, not an ImportError, when one is missing."""

from __future__ import annotations

import importlib.util


class MissingExtraError(RuntimeError):
    """A feature needs an extra that is not installed; the message says how to install it."""


def require(module: str, extra: str, purpose: str) -> None:
    """Raise MissingExtraError unless `module` can be imported (it comes with the `extra`)."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(
            f"{purpose} needs the '{extra}' extra, which is not installed: "
            f"pip install 'upm-connector[{extra}]' (module {module} is missing)")
