"""OAuth 2 for a connection, through requests-oauthlib: the refresh-token grant (single-flight,
rotation stored at once, `invalid_grant` -> needs re-authorization) and the authorization-code
grant for the first token (`upm-connector auth login`)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from connector.adapters.base import AuthError, RetriableError
from connector.auth.vault import TokenSet, TokenVault
from connector.clock import Clock
from connector.config.settings import ConnectionSettings, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OAuthParams:
    """Everything needed to talk to a connection's authorization server."""

    client_id: str
    client_secret: str
    token_url: str
    authorize_url: str
    redirect_uri: str
    scope: tuple[str, ...] = ()
    refresh_token: str | None = None
    """A bootstrap refresh token from the config; the vault's, once there is one, wins."""
    ca_file: str | None = None
    instance_url: str | None = None

    def __repr__(self) -> str:
        return f"OAuthParams(client_id={self.client_id!r}, token_url={self.token_url!r})"


def emulator_credentials_path(settings: Settings, adapter: str) -> Path:
    """Where the daemon's local `adapter` emulator writes its credentials."""
    return settings.resolve_path(settings.emulators.state_dir) / f"{adapter}-credentials.json"


def oauth_params(conn: ConnectionSettings, settings: Settings) -> OAuthParams:
    """Resolve a connection's auth settings: inline references, an emulator credentials file, or
    the daemon's own local emulator."""
    auth = conn.auth
    if auth.type in ("credentials_file", "emulator"):
        path = settings.resolve_path(auth.file) if auth.file is not None else emulator_credentials_path(settings, conn.adapter)
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"credentials file {path} does not exist (is the emulator running?)") from None
        token_url = data["token_url"]
        return OAuthParams(
            client_id=data["client_id"],
            client_secret=data["client_secret"],
            token_url=token_url,
            authorize_url=auth.authorize_url or data.get("authorize_url") or _default_authorize_url(token_url),
            redirect_uri=auth.redirect_uri,
            scope=tuple(auth.scope),
            refresh_token=data.get("refresh_token"),
            ca_file=data.get("ca_file"),
            instance_url=data.get("instance_url") or data.get("base_url"),
        )
    if auth.type != "oauth":
        raise ValueError(f"auth type '{auth.type}' does not use OAuth")
    assert auth.client_id and auth.client_secret and auth.token_url
    return OAuthParams(
        client_id=auth.client_id,
        client_secret=auth.client_secret.get(),
        token_url=auth.token_url,
        authorize_url=auth.authorize_url or _default_authorize_url(auth.token_url),
        redirect_uri=auth.redirect_uri,
        scope=tuple(auth.scope),
        refresh_token=auth.refresh_token.get() if auth.refresh_token else None,
    )


def _default_authorize_url(token_url: str) -> str:
    base, _, last = token_url.rstrip("/").rpartition("/")
    return f"{base}/authorize" if last == "token" else token_url


class TokenEndpointError(Exception):
    """The authorization server answered a token request with an error."""


def _raise_for_token_response(response: requests.Response) -> requests.Response:
    """requests-oauthlib compliance hook: classify error answers before oauthlib parses them."""
    if response.status_code >= 500 or response.status_code == 429:
        raise RetriableError(f"token endpoint answered {response.status_code}", status=response.status_code)
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = body.get("error") or body.get("status") or f"HTTP {response.status_code}"
        description = body.get("error_description") or body.get("message") or ""
        raise TokenEndpointError(f"{code}: {description}".strip(": "))
    return response


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _require_secure_transport(url: str) -> None:
    """OAuth needs HTTPS. Plain HTTP is accepted for loopback only (a local emulator): then oauthlib
    is told so for this process (OAUTHLIB_INSECURE_TRANSPORT), and the log says it."""
    parsed = urlparse(url)
    if parsed.scheme == "https":
        return
    if parsed.scheme == "http" and parsed.hostname in LOOPBACK_HOSTS:
        if not os.environ.get("OAUTHLIB_INSECURE_TRANSPORT"):
            log.warning("plain-HTTP OAuth allowed for loopback endpoint %s (local emulator)", url)
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        return
    raise ValueError(f"OAuth endpoint {url} must use https (plain http only on loopback)")


class OAuthClient:
    """Tokens for one connection: the current access token, refreshed one at a time."""

    def __init__(self, connection: str, params: OAuthParams, vault: TokenVault, clock: Clock):
        _require_secure_transport(params.token_url)
        self.connection = connection
        self.params = params
        self.vault = vault
        self.clock = clock

    def _session(self, **kwargs: Any) -> OAuth2Session:
        session = OAuth2Session(client_id=self.params.client_id, **kwargs)
        session.register_compliance_hook("refresh_token_response", _raise_for_token_response)
        session.register_compliance_hook("access_token_response", _raise_for_token_response)
        return session

    @property
    def _verify(self) -> str | bool:
        # Passed on each request: a session-level verify loses to REQUESTS_CA_BUNDLE (psf/requests#3829).
        return self.params.ca_file or True

    def current(self) -> TokenSet:
        """The stored tokens, refreshing first when there is no access token yet."""
        tokens = self.vault.get(self.connection)
        if tokens is not None and tokens.status != "ok":
            raise AuthError(f"connection '{self.connection}' needs re-authorization: {tokens.status_reason}")
        if tokens is None or tokens.access_token is None:
            return self.refresh(None if tokens is None else tokens.generation)
        return tokens

    def refresh(self, seen_generation: int | None) -> TokenSet:
        """Get a new access token unless someone refreshed since `seen_generation`.

        One refresh at a time per connection, across threads and daemons; a rotated refresh token is
        stored in the same transaction; a refused grant marks the connection `needs_reauth`.
        """
        with self.vault.refresh_lock(self.connection) as (session, now):
            if now is not None and now.status != "ok":
                raise AuthError(f"connection '{self.connection}' needs re-authorization: {now.status_reason}")
            if now is not None and now.access_token and now.generation != seen_generation:
                return now  # another thread or daemon refreshed while we waited
            refresh_token = (now.refresh_token if now else None) or self.params.refresh_token
            if not refresh_token:
                raise AuthError(f"connection '{self.connection}' has no refresh token: run `upm-connector auth login {self.connection}`")
            try:
                token = self._session().refresh_token(
                    self.params.token_url,
                    refresh_token=refresh_token,
                    client_id=self.params.client_id,
                    client_secret=self.params.client_secret,
                    include_client_id=True,
                    timeout=30,
                    verify=self._verify,
                )
            except (TokenEndpointError, OAuth2Error) as exc:
                reason = f"refresh refused by {self.params.token_url}: {exc}"
                self.vault.mark_needs_reauth(self.connection, reason, session)
                session.commit()
                log.error("connection needs re-authorization: %s; its lanes are paused until `auth login`", reason)
                raise AuthError(reason) from None
            except requests.RequestException as exc:
                raise RetriableError(f"token endpoint unreachable: {type(exc).__name__}") from None
            stored = self.vault.store(self.connection, self._token_set(token), session)
            log.info("access token refreshed", extra={"generation": stored.generation, "rotated": "refresh_token" in token})
            return stored

    def _token_set(self, token: dict[str, Any]) -> TokenSet:
        expires_in = token.get("expires_in")
        return TokenSet(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            instance_url=token.get("instance_url") or self.params.instance_url,
            expires_at=self.clock.now() + timedelta(seconds=float(expires_in)) if expires_in else None,
        )

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """The URL a person opens to grant access, and the state to check on the way back."""
        session = self._session(redirect_uri=self.params.redirect_uri, scope=list(self.params.scope) or None, state=state)
        url, state_out = session.authorization_url(self.params.authorize_url)
        return url, state_out

    def exchange_code(self, code: str) -> TokenSet:
        """Trade an authorization code for the first tokens, and store them."""
        session = self._session(redirect_uri=self.params.redirect_uri)
        try:
            token = session.fetch_token(
                self.params.token_url,
                code=code,
                client_secret=self.params.client_secret,
                include_client_id=True,
                timeout=30,
                verify=self._verify,
            )
        except (TokenEndpointError, OAuth2Error) as exc:
            raise AuthError(f"authorization code refused: {exc}") from None
        return self.vault.store(self.connection, self._token_set(dict(token)))

