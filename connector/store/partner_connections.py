"""Partner connections held in the datastore: a partner's own CRM, added by the API or the CLI
while the daemon runs (config-file connections stay for the vendor)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.store.base import Base, Timestamped


class PartnerConnection(Timestamped, Base):
    """One partner's CRM connection: what `ConnectionSettings` holds for a `role: partner` one.
    `auth` holds the auth type and secret references (`${ENV}`, `file:...`), never a secret;
    OAuth tokens are in the token vault under the connection's name."""

    __tablename__ = "partner_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    partner_account_id: Mapped[int] = mapped_column(ForeignKey("partner_accounts.id"), index=True)
    adapter: Mapped[str] = mapped_column(String(80))
    profile: Mapped[str] = mapped_column(String(1000))
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    instance_url: Mapped[str | None] = mapped_column(String(1000))
    auth: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
