"""Values UPM derives from pulled ones, after a profile's fields are mapped.

Workflow 1: a partner's new account waits for approval in the CRM; when the CRM approves it, the
account becomes active in UPM. A rule sets its field only when the profile does not map that field
itself (a profile that maps `active` from the CRM decides it there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Rule = Callable[[Mapping[str, Any]], Any]
"""Mapped values -> the derived field's value, or None to leave the field as it is."""


def approved_account_is_active(values: Mapping[str, Any]) -> bool | None:
    """An account the CRM approved is active; any other status leaves `active` alone."""
    return True if values.get("approval_status") == "Approved" else None


RULES: dict[str, dict[str, Rule]] = {"account": {"active": approved_account_is_active}}
"""Per UPM module: the field each rule sets."""


def rules_for(module: str, mapped: set[str]) -> dict[str, Rule]:
    """The rules of a module whose fields the profile does not map."""
    return {field: rule for field, rule in RULES.get(module, {}).items() if field not in mapped}


def apply_rules(rules: dict[str, Rule], values: dict[str, Any]) -> None:
    """Add the derived values to freshly mapped ones."""
    for field, rule in rules.items():
        derived = rule(values)
        if derived is not None:
            values[field] = derived
