"""Browser sessions of the pages and the one-time sign-in links that open partner sessions.

A session token (random, 256 bits) lives only in the browser's cookie; the database keeps its
SHA-256, what kind of session it is (a CRM user on the vendor side, for one connection, or a
partner user), its CSRF token and when it ends. A sign-in link's token likewise: used once,
within its lifetime, for a user still active and approved in an active account.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from connector.store.database import Database
from connector.store.partners import PartnerUser
from connector.store.web import SignInLink, WebSession

VENDOR, PARTNER = "vendor", "partner"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PageSession:
    """An open session: `connection` for a CRM user, `user_id` for a partner user."""

    kind: str
    csrf: str
    connection: str | None = None
    user_id: int | None = None


class WebSessions:
    """Opens, finds and ends sessions, and issues and redeems sign-in links."""

    def __init__(self, db: Database, session_seconds: float, link_seconds: float):
        self.db = db
        self.lifetime = timedelta(seconds=session_seconds)
        self.link_lifetime = timedelta(seconds=link_seconds)

    def open(self, now: datetime, *, connection: str | None = None, user_id: int | None = None) -> tuple[str, PageSession]:
        """A new session (vendor with `connection`, else partner with `user_id`): its cookie token and itself."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        kind = VENDOR if connection is not None else PARTNER
        with self.db.session() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at < now))
            session.add(WebSession(token_hash=token_hash(token), kind=kind, connection=connection, user_id=user_id,
                                   csrf=csrf, created_at=now, expires_at=now + self.lifetime))
        return token, PageSession(kind, csrf, connection, user_id)

    def find(self, token: str | None, now: datetime) -> PageSession | None:
        """The live session of a cookie token; a partner session whose user may no longer sign in is none."""
        if not token:
            return None
        with self.db.session() as session:
            row = session.get(WebSession, token_hash(token))
            if row is None or row.expires_at <= now:
                return None
            if row.user_id is not None and not _may_sign_in(session.get(PartnerUser, row.user_id)):
                return None
            return PageSession(row.kind, row.csrf, row.connection, row.user_id)

    def end(self, token: str | None) -> None:
        if token:
            with self.db.session() as session:
                session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))

    def issue_link(self, user_id: int, now: datetime) -> str:
        """A sign-in token for this user, valid once within the link lifetime."""
        token = secrets.token_urlsafe(32)
        with self.db.session() as session:
            session.execute(delete(SignInLink).where(SignInLink.expires_at < now))
            session.add(SignInLink(token_hash=token_hash(token), user_id=user_id, expires_at=now + self.link_lifetime))
        return token

    def link_user(self, token: str, now: datetime) -> PartnerUser | None:
        """The user an unused, unexpired link signs in (the link is not used up)."""
        with self.db.session() as session:
            link = session.get(SignInLink, token_hash(token))
            if link is None or link.used_at is not None or link.expires_at <= now:
                return None
            user = session.get(PartnerUser, link.user_id)
            return user if _may_sign_in(user) else None

    def redeem(self, token: str, now: datetime) -> int | None:
        """Use the link up (once, whoever races for it) and return its user's id; None if it cannot be used."""
        if self.link_user(token, now) is None:
            return None
        with self.db.session() as session:
            used = session.execute(update(SignInLink).where(
                SignInLink.token_hash == token_hash(token), SignInLink.used_at.is_(None), SignInLink.expires_at > now,
            ).values(used_at=now).returning(SignInLink.user_id)).first()
        return None if used is None else int(used[0])


def _may_sign_in(user: PartnerUser | None) -> bool:
    return user is not None and user.active and user.approved and user.account.active
