"""What the pages remember: signatures already seen (replay guard), browser sessions, and the
one-time sign-in links emailed to partner users. In the database, so every replica shares them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, utcnow


class SeenSignature(Base):
    """A signed request accepted once: its digest is kept until its timestamp leaves the window, so
    the same request sent again is refused (on any replica)."""

    __tablename__ = "seen_signatures"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class WebSession(Base):
    """A browser session: a CRM user on the vendor side (opened by a signed link, for one CRM
    connection) or a partner user (signed in by an emailed link). Only the token's SHA-256 is
    stored; `csrf` is the token every form of the session carries."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # vendor | partner
    connection: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SignInLink(Base):
    """A one-time sign-in link emailed to a partner user (only the token's SHA-256 is stored)."""

    __tablename__ = "sign_in_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("partner_users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
