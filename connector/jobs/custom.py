"""Site-specific jobs: a Python callable named in the config (`jobs: {name: {callable: mod:func}}`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def resolve_callable(reference: str) -> Callable[..., Any]:
    """Import `package.module:function`; raise ImportError/AttributeError naming what is missing."""
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import module '{module_name}' for job callable '{reference}': {exc}") from None
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise AttributeError(f"module '{module_name}' has no attribute '{attribute}' (job callable '{reference}')") from None
    if not callable(target):
        raise AttributeError(f"'{reference}' is not callable")
    return target
