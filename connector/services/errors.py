"""What the records service raises when a write cannot be done; nothing was written.

Lookups and permissions reuse the lead errors (NotFound, NotAllowed, InvalidTransition) so that the
API answers both services the same way; these add what records alone need.
"""

from __future__ import annotations

from typing import Any

from connector.leads.errors import InvalidTransition, NotAllowed, NotFound


class Invalid(Exception):
    """A value that cannot be right: names the field, the value and why."""

    def __init__(self, field: str, value: Any, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.value, self.message = field, value, message


class VersionMismatch(Exception):
    """The record changed since the caller read it (its If-Match names an older version)."""

    def __init__(self, record: str, current: str):
        super().__init__(f"{record} has changed since you read it: it is now version {current}; read it again")
        self.current = current


class PreconditionRequired(Exception):
    """An edit without the version it was made on (no If-Match)."""


__all__ = ["Invalid", "InvalidTransition", "NotAllowed", "NotFound", "PreconditionRequired", "VersionMismatch"]
