"""The lease table: which daemon runs which lane, until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base


class Lease(Base):
    """A lane is held by `owner` until `expires_at`; an expired lease may be taken by anyone."""

    __tablename__ = "leases"

    lane: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
