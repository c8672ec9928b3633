"""Partner users' API keys: issued once, stored only as a hash, revoked by clearing it.

A key is 32 random bytes (URL-safe text with the prefix `upm_`), so a plain SHA-256 is enough to
store it (nothing to brute-force, unlike a password) and lets a request find its user with one
indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from connector.leads.inbox import user_by_email

PREFIX = "upm_"


def key_hash(key: str) -> str:
    """How a key is stored and looked up."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue(session: Session, email: str) -> str:
    """A new key for this partner user, replacing any earlier one; the only time it is seen."""
    key = PREFIX + secrets.token_urlsafe(32)
    user_by_email(session, email).api_key_hash = key_hash(key)
    return key


def revoke(session: Session, email: str) -> bool:
    """Withdraw the user's key; False when they had none."""
    user = user_by_email(session, email)
    had = user.api_key_hash is not None
    user.api_key_hash = None
    return had
