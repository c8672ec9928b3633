"""OAuth client credentials through msal: the app's own token for the environment (`{url}/.default`),
cached by msal until near expiry, acquired anew when Dataverse refuses it."""

from __future__ import annotations

import threading
from typing import Any

import msal
import requests

from connector.adapters.base import AuthError, RetriableError, TokenSet

from .session import VerifyingSession


def authority_of(token_url: str) -> str:
    """`https://login.microsoftonline.com/{tenant}` from the tenant's v2.0 token endpoint."""
    base = token_url.rstrip("/")
    for suffix in ("/oauth2/v2.0/token", "/oauth2/token"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    raise ValueError(f"{token_url} is not a tenant's token endpoint (https://login.microsoftonline.com/TENANT/oauth2/v2.0/token)")


class ClientCredentials:
    """`Tokens` for an app registration (client id and secret) in the environment's tenant.

    The scope is `{environment URL}/.default` unless given; the adapter attaches its endpoint and CA
    file before the first token is asked for. Instance discovery is off, so an authority msal does
    not know (a sovereign cloud, a local emulator) is taken as given.
    """

    def __init__(self, client_id: str, client_secret: str, authority: str, *, scopes: list[str] | None = None,
                 ca_file: str | None = None):
        self.client_id = client_id
        self._secret = client_secret
        self.authority = authority
        self.scopes = list(scopes or [])
        self.ca_file = ca_file
        self._app: msal.ConfidentialClientApplication | None = None
        self._generation = 0
        self._tokens: TokenSet | None = None
        self._lock = threading.Lock()

    def attach(self, endpoint: str | None, ca_file: str | None) -> None:
        """Scope to the environment at `endpoint` unless scopes were given; trust `ca_file`."""
        if not self.scopes and endpoint:
            self.scopes = [f"{endpoint.rstrip('/')}/.default"]
        self.ca_file = self.ca_file or ca_file

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self._secret, authority=self.authority,
                    validate_authority=False, instance_discovery=False, http_client=VerifyingSession(self.ca_file),
                )
            except requests.RequestException as exc:
                raise RetriableError(f"authority {self.authority} unreachable: {type(exc).__name__}") from None
            except ValueError as exc:
                raise AuthError(f"authority {self.authority} refused: {exc}") from None
        return self._app

    def _acquire(self) -> TokenSet:
        if not self.scopes:
            raise AuthError("no scope for the client-credentials token: give auth.scope or the connection's instance_url")
        try:
            result: dict[str, Any] = self._client().acquire_token_for_client(scopes=self.scopes)
        except requests.RequestException as exc:
            raise RetriableError(f"token endpoint unreachable: {type(exc).__name__}") from None
        if "access_token" not in result:
            raise AuthError(f"token refused by {self.authority}: {result.get('error')}: {result.get('error_description', '')}")
        if self._tokens is None or self._tokens.access_token != result["access_token"]:
            self._generation += 1
        self._tokens = TokenSet(access_token=result["access_token"], refresh_token=None, generation=self._generation)
        return self._tokens

    def current(self) -> TokenSet:
        with self._lock:
            return self._acquire()

    def refresh(self, seen_generation: int | None) -> TokenSet:
        """A new token (msal's cached one was refused), unless another thread got one since."""
        with self._lock:
            if self._tokens is not None and seen_generation is not None and self._tokens.generation != seen_generation:
                return self._tokens
            cache = self._client().token_cache
            for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(entry)
            return self._acquire()

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, authority={self.authority!r})"
