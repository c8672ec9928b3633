"""OAuth for the emulated portals: the token endpoint, authorization codes, and which portal a bearer token opens.

One OAuth app is installed in every portal. Each portal starts with one refresh token and one private-app
token (which never expires). Every token response carries a new refresh token; by default the previous ones
stay valid, as HubSpot's long-lived refresh tokens do. With `invalidate_rotated` the previous one stops working
(the rotation model that breaks concurrent refreshes). Access tokens live `token_ttl` seconds of emulator time.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .errors import HubSpotError, correlation_id, error
from .schema import iso_ms

SCOPES = ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read",
          "crm.objects.companies.write", "crm.objects.deals.read", "crm.objects.deals.write",
          "crm.schemas.contacts.read", "crm.schemas.companies.read", "crm.schemas.deals.read"]
MISSING_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth app's credentials."""

    client_id: str
    client_secret: str
    redirect_uri: str
    app_id: int


@dataclass(frozen=True)
class AccessToken:
    """An issued bearer token; `expires_ms` is None for private-app tokens."""

    portal: int
    expires_ms: int | None


def _oauth_error(status: str, message: str, rfc_error: str) -> HubSpotError:
    return HubSpotError(400, {
        "status": status,
        "message": message,
        "correlationId": correlation_id(),
        "error": rfc_error,
        "error_description": message,
    })


def _ago(ms: int) -> str:
    seconds = ms // 1000
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}(s)"
    return f"{seconds} second(s)"


class TokenAuthority:
    """Issues and checks tokens for all portals of one emulator."""

    def __init__(self, portal_ids: list[int], token_ttl: int, invalidate_rotated: bool) -> None:
        self.app = OAuthApp(str(uuid.uuid4()), str(uuid.uuid4()), "http://localhost:3000/oauth-callback", 1_000_000 + secrets.randbelow(8_999_999))
        self.portal_ids = portal_ids
        self.token_ttl = token_ttl
        self.invalidate_rotated = invalidate_rotated
        self.initial_refresh_tokens = [str(uuid.uuid4()) for _ in portal_ids]
        self.private_app_tokens = [f"pat-na1-{uuid.uuid4()}" for _ in portal_ids]
        self._refresh: dict[str, int] = {}
        self._access: dict[str, AccessToken] = {}
        self._codes: dict[str, tuple[int, str]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget issued tokens and codes; the initial refresh tokens and private-app tokens work again."""
        self._refresh = {token: i for i, token in enumerate(self.initial_refresh_tokens)}
        self._access = {token: AccessToken(i, None) for i, token in enumerate(self.private_app_tokens)}
        self._codes.clear()

    def authorize(self, params: dict[str, str]) -> str:
        """The redirect of `GET /oauth/authorize` for an install in portal `portal` (index, default 0)."""
        if params.get("client_id") != self.app.client_id:
            raise _oauth_error("BAD_CLIENT_ID", "missing or unknown client id", "invalid_client")
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri:
            raise _oauth_error("BAD_REDIRECT_URI", "missing redirect_uri", "invalid_request")
        portal = int(params.get("portal", "0"))
        if not 0 <= portal < len(self.portal_ids):
            raise error(400, f"no portal with index {portal}")
        code = str(uuid.uuid4())
        self._codes[code] = (portal, redirect_uri)
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return f"{redirect_uri}{separator}{urlencode(query)}"

    def exchange(self, form: dict[str, str], now_ms: int) -> tuple[int, dict[str, Any]]:
        """`POST /oauth/v1/token`: the portal the grant belongs to and the token response."""
        grant_type = form.get("grant_type")
        if grant_type not in ("refresh_token", "authorization_code"):
            raise _oauth_error("BAD_GRANT_TYPE", "missing or unsupported grant_type", "unsupported_grant_type")
        if form.get("client_id") != self.app.client_id:
            raise _oauth_error("BAD_CLIENT_ID", "missing or unknown client id", "invalid_client")
        if form.get("client_secret") != self.app.client_secret:
            raise _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret", "invalid_client")
        if grant_type == "refresh_token":
            old = form.get("refresh_token") or ""
            if old not in self._refresh:
                raise _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token", "invalid_grant")
            portal = self._refresh[old]
            if self.invalidate_rotated:
                del self._refresh[old]
        else:
            grant = self._codes.pop(form.get("code") or "", None)
            if grant is None:
                raise _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code", "invalid_grant")
            portal, redirect_uri = grant
            if form.get("redirect_uri") != redirect_uri:
                raise _oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match the one used to authorize", "invalid_grant")
        refresh_token = str(uuid.uuid4())
        self._refresh[refresh_token] = portal
        access_token = "C" + secrets.token_urlsafe(96)
        self._access[access_token] = AccessToken(portal, now_ms + self.token_ttl * 1000)
        return portal, {
            "token_type": "bearer",
            "refresh_token": refresh_token,
            "access_token": access_token,
            "expires_in": self.token_ttl,
        }

    def portal_for(self, authorization: str | None, now_ms: int) -> int:
        """The portal index a request's `Authorization: Bearer` header opens, or HubSpot's 401."""
        if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise error(401, MISSING_CREDENTIALS, "INVALID_AUTHENTICATION")
        token = self._access.get(authorization[7:].strip())
        if token is None:
            expired_at = 0  # HubSpot reports a token it cannot read as expired at the epoch
        elif token.expires_ms is not None and now_ms >= token.expires_ms:
            expired_at = token.expires_ms
        else:
            return token.portal
        raise error(
            401,
            f"The OAuth token used to make this call expired {_ago(now_ms - expired_at)} ago.",
            "EXPIRED_AUTHENTICATION",
            context={"expire time": [iso_ms(expired_at)]},
        )

    def access_token_info(self, token: str, now_ms: int) -> dict[str, Any]:
        """`GET /oauth/v1/access-tokens/{token}`."""
        found = self._access.get(token)
        if found is None or (found.expires_ms is not None and now_ms >= found.expires_ms):
            raise error(404, "The access token provided was not found or has expired.", "OBJECT_NOT_FOUND")
        hub_id = self.portal_ids[found.portal]
        remaining = None if found.expires_ms is None else (found.expires_ms - now_ms) // 1000
        return {
            "token": token,
            "user": "emulator@example.com",
            "hub_domain": f"portal-{hub_id}.example.com",
            "scopes": SCOPES,
            "hub_id": hub_id,
            "app_id": self.app.app_id,
            "expires_in": remaining,
            "user_id": 1000 + found.portal,
            "token_type": "access",
        }
