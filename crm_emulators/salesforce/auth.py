"""OAuth 2.0 as Salesforce does it: the token endpoint (refresh_token and authorization_code grants), the
authorize endpoint, and the check of bearer tokens on every API call.

Token responses have no `expires_in` (sf_token_refresh.json); access tokens die `token_ttl` seconds after
issue (emulator clock), and every call with a dead or unknown token gets 401 INVALID_SESSION_ID.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .errors import ApiError

INVALID_SESSION_HEADERS = {
    "WWW-Authenticate": "Token",
    "Expires": "Thu, 01 Jan 1970 00:00:00 GMT",
}
CODE_LIFETIME = timedelta(minutes=15)


class OAuthError(Exception):
    """A 400 from the token endpoint: `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.body = {"error": error, "error_description": description}


@dataclass
class _AccessToken:
    user_id: str
    expires_at: datetime


@dataclass
class _AuthorizationCode:
    user_id: str
    redirect_uri: str
    code_challenge: str | None
    expires_at: datetime


def invalid_session() -> ApiError:
    """401 INVALID_SESSION_ID with Salesforce's headers (sf_invalid_session.json)."""
    body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    return ApiError(401, body, dict(INVALID_SESSION_HEADERS))


class OAuthServer:
    """Clients, refresh tokens, authorization codes and live access tokens of the emulated org."""

    def __init__(
        self,
        now: Callable[[], datetime],
        org_id: str,
        client_id: str,
        client_secret: str,
        token_ttl: int,
        rotate_refresh_tokens: bool,
    ) -> None:
        self._now = now
        self.org_id = org_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = timedelta(seconds=token_ttl)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self._refresh_tokens: dict[str, str] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._codes: dict[str, _AuthorizationCode] = {}

    # ---- tokens -----------------------------------------------------------------------------------------------

    def add_refresh_token(self, user_id: str, token: str | None = None) -> str:
        """Register (or mint) a refresh token for `user_id`."""
        token = token or "5Aep861" + secrets.token_urlsafe(60).replace("-", ".").replace("_", ".")
        self._refresh_tokens[token] = user_id
        return token

    def issue_access_token(self, user_id: str) -> str:
        """A new access token for `user_id`, valid for `token_ttl`."""
        token = f"{self.org_id[:15]}!AR" + secrets.token_urlsafe(72).replace("-", ".")
        self._access_tokens[token] = _AccessToken(user_id, self._now() + self.token_ttl)
        return token

    def authenticate(self, authorization: str | None) -> str:
        """The user id behind an `Authorization: Bearer ...` header; raises 401 INVALID_SESSION_ID."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            raise invalid_session()
        access = self._access_tokens.get(token.strip())
        if access is None:
            raise invalid_session()
        if access.expires_at <= self._now():
            del self._access_tokens[token.strip()]
            raise invalid_session()
        return access.user_id

    def forget_all(self) -> None:
        """Revoke every access and refresh token and pending authorization code."""
        self._access_tokens.clear()
        self._refresh_tokens.clear()
        self._codes.clear()

    # ---- endpoints --------------------------------------------------------------------------------------------

    def token(self, form: Mapping[str, str], basic: tuple[str, str] | None, instance_url: str) -> dict[str, Any]:
        """POST /services/oauth2/token; raises OAuthError."""
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        grant_type = form.get("grant_type", "")
        if grant_type not in ("refresh_token", "authorization_code"):
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        if client_id != self.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(client_secret.encode(), self.client_secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")
        if grant_type == "refresh_token":
            refresh_token = form.get("refresh_token", "")
            user_id = self._refresh_tokens.get(refresh_token)
            if user_id is None:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            new_refresh = None
            if self.rotate_refresh_tokens:
                del self._refresh_tokens[refresh_token]
                new_refresh = self.add_refresh_token(user_id)
            return self._token_response(user_id, instance_url, new_refresh)
        code = self._codes.pop(form.get("code", ""), None)
        if code is None or code.expires_at <= self._now():
            raise OAuthError("invalid_grant", "invalid authorization code")
        if form.get("redirect_uri", "") != code.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if code.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not hmac.compare_digest(digest, code.code_challenge):
                raise OAuthError("invalid_grant", "invalid code verifier")
        return self._token_response(code.user_id, instance_url, self.add_refresh_token(code.user_id))

    def authorize(self, params: Mapping[str, str], user_id: str) -> str:
        """GET /services/oauth2/authorize, approved at once for `user_id`: the URL to redirect to.

        Raises OAuthError when no redirect is possible (unknown client, missing redirect_uri).
        """
        if params.get("client_id") != self.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        answer: dict[str, str] = {}
        if params.get("response_type") != "code":
            answer = {"error": "unsupported_response_type", "error_description": "response type not supported"}
        elif params.get("code_challenge") and params.get("code_challenge_method", "S256") != "S256":
            answer = {"error": "invalid_request", "error_description": "invalid code_challenge_method"}
        else:
            code = "aPrx" + secrets.token_urlsafe(48) + "=="
            self._codes[code] = _AuthorizationCode(
                user_id, redirect_uri, params.get("code_challenge") or None, self._now() + CODE_LIFETIME
            )
            answer = {"code": code}
        if "state" in params:
            answer["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return redirect_uri + separator + urlencode(answer)

    def _token_response(self, user_id: str, instance_url: str, refresh_token: str | None) -> dict[str, Any]:
        access_token = self.issue_access_token(user_id)
        identity = f"{instance_url}/id/{self.org_id}/{user_id}"
        issued_at = str(int(self._now().timestamp() * 1000))
        signature = base64.b64encode(
            hmac.new(self.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        body: dict[str, Any] = {"access_token": access_token}
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        body.update(
            signature=signature,
            scope="refresh_token api",
            instance_url=instance_url,
            id=identity,
            token_type="Bearer",
            issued_at=issued_at,
        )
        return body
