"""A HubSpot private-app token as a `Tokens` source: static, never expires, cannot be refreshed."""

from __future__ import annotations

from connector.adapters.base import AuthError, TokenSet


class PrivateAppToken:
    """`Tokens` for a private app (`pat-...`): HubSpot's alternative to OAuth for a single account."""

    def __init__(self, token: str):
        if not token:
            raise ValueError("a private-app token is required")
        self._tokens = TokenSet(access_token=token, refresh_token=None)

    def current(self) -> TokenSet:
        return self._tokens

    def refresh(self, seen_generation: int | None) -> TokenSet:
        raise AuthError("HubSpot refused the private-app token (it cannot be refreshed: issue a new one)")

    def __repr__(self) -> str:
        return "PrivateAppToken(***)"
