"""OAuth tokens per connection, encrypted at rest (the vault in connector/auth/vault.py owns them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, Timestamped


class OAuthToken(Timestamped, Base):
    """A connection's tokens. `access_token`/`refresh_token` hold Fernet ciphertext, never clear text.

    `generation` counts refreshes: a caller that waited for another's refresh sees it moved.
    `status` is `ok` or `needs_reauth` (the grant is gone: run `upm-connector auth login`).
    """

    __tablename__ = "oauth_tokens"

    connection: Mapped[str] = mapped_column(String(80), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    instance_url: Mapped[str | None] = mapped_column(String(500))
    expires_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
    generation: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    status_reason: Mapped[str | None] = mapped_column(String(500))
