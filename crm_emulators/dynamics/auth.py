"""The Microsoft identity platform's part: `/{tenant}/oauth2/v2.0/token` for the client-credentials
grant (what msal's ConfidentialClientApplication asks for) and the refresh-token grant (delegated
access, the shared OAuth flow), OpenID discovery, and access tokens that expire."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass
class TokenError(Exception):
    status: int
    body: dict[str, Any]


def _error(status: int, error: str, code: int, description: str) -> TokenError:
    return TokenError(status, {"error": error, "error_description": f"AADSTS{code}: {description}",
                               "error_codes": [code], "timestamp": "", "trace_id": secrets.token_hex(16)})


@dataclass
class Authority:
    """One tenant with one registered app (client id and secret) granted access to the environment."""

    tenant_id: str
    client_id: str
    client_secret: str
    resource: str
    token_ttl: int
    access_tokens: dict[str, datetime] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    issued: int = 0

    def __post_init__(self) -> None:
        self.initial_refresh_token = "0.A" + secrets.token_urlsafe(48)
        self.refresh_tokens.add(self.initial_refresh_token)

    def reset(self) -> None:
        self.access_tokens.clear()
        self.refresh_tokens = {self.initial_refresh_token}
        self.issued = 0

    def token(self, tenant: str, form: dict[str, str], now: datetime) -> dict[str, Any]:
        if tenant not in (self.tenant_id, "organizations"):
            raise _error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            raise _error(400, "unauthorized_client", 700016,
                         f"Application with identifier '{form.get('client_id')}' was not found in the directory.")
        if form.get("client_secret") != self.client_secret:
            raise _error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        body: dict[str, Any] = {}
        if grant == "client_credentials":
            scope = form.get("scope", "")
            if scope.rstrip("/").removesuffix("/.default").rstrip("/") != self.resource.rstrip("/"):
                raise _error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid.")
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                raise _error(400, "invalid_grant", 70000, "The refresh token is invalid or has expired.")
            body["refresh_token"] = form["refresh_token"]
        else:
            raise _error(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")
        access = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(40)
        self.access_tokens[access] = now + timedelta(seconds=self.token_ttl)
        self.issued += 1
        return {"token_type": "Bearer", "expires_in": self.token_ttl, "ext_expires_in": self.token_ttl,
                "access_token": access, **body}

    def valid(self, authorization: str | None, now: datetime) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        expires = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        return expires is not None and now < expires

    def discovery(self, base_url: str) -> dict[str, Any]:
        """`/{tenant}/v2.0/.well-known/openid-configuration`."""
        root = f"{base_url}/{self.tenant_id}"
        return {"token_endpoint": f"{root}/oauth2/v2.0/token", "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "issuer": f"{root}/v2.0", "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "response_types_supported": ["code", "id_token", "token"], "tenant_region_scope": "EU"}
