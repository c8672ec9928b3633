"""Who is calling the lead API: every /api call names its caller with `Authorization: Bearer KEY`.

Two kinds of caller:
- a vendor caller: a key from `http.api_keys` (the CRM's Assign-to-Partner button, admin
  scripts). It may read and place every lead, and acts as no partner.
- a partner user: the user's own key (`upm-connector api-key issue EMAIL`). It sees only the leads
  visibility.py gives the user, and acts as that user. An inactive or unapproved user, or a user
  of an inactive account, is refused as if the key were unknown.
Anything else is 401, with nothing said about why beyond "missing" or "invalid".
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from connector.api.keys import key_hash
from connector.config.secrets import Secret
from connector.store.database import Database
from connector.store.partners import PartnerUser


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: a vendor key's name, or a partner user (id and email)."""

    name: str
    user_id: int | None = None

    @property
    def is_partner(self) -> bool:
        return self.user_id is not None


BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="A vendor key (`http.api_keys`) or a partner user's key (`upm-connector api-key issue`)")
"""The OpenAPI security scheme every keyed route declares (it only reads the header: Authenticator decides)."""


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    """A FastAPI dependency: the request's Caller, or 401."""

    def __init__(self, db: Database, vendor_keys: Mapping[str, Secret]):
        self.db = db
        self.vendor = [(name, key_hash(secret.get())) for name, secret in vendor_keys.items()]

    def __call__(self, credentials: HTTPAuthorizationCredentials | None = Depends(BEARER)) -> Caller:
        key = credentials.credentials.strip() if credentials is not None else ""
        if not key:
            raise _unauthorized("missing bearer key")
        digest = key_hash(key)
        for name, expected in self.vendor:
            if hmac.compare_digest(expected, digest):
                return Caller(name)
        with self.db.session() as session:
            user = session.scalars(select(PartnerUser).where(PartnerUser.api_key_hash == digest)).first()
            if user is None or not (user.active and user.approved and user.account.active):
                raise _unauthorized("invalid key")
            return Caller(user.email, user.id)
