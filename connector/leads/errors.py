"""What a lead action raises when it cannot be done; the message says why, for the CLI and the API."""

from __future__ import annotations


class LeadError(Exception):
    """A lead action refused; nothing was written."""


class NotFound(LeadError):
    """The prospect, partner, user, group or rule does not exist."""


class NotAllowed(LeadError):
    """The user may not do this to this lead (not its holder, no access, read-only access)."""


class InvalidTransition(LeadError):
    """The lead is not in a state this action applies to."""


class AlreadyClaimed(LeadError):
    """Another partner claimed this shark-tank lead first."""


class WindowClosed(LeadError):
    """The shark-tank window of this lead has passed: it can no longer be claimed."""


class InvalidRule(LeadError):
    """An assignment or auto-registration rule that does not make sense."""
