"""Partners: partner accounts (a parent/child hierarchy), their users, and partner groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.store.base import Base, Timestamped


class PartnerAccount(Timestamped, Base):
    """A reseller/distributor company. A parent account's users see its children's records."""

    __tablename__ = "partner_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, index=True)  # also unique ignoring case (service)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("partner_accounts.id"), index=True)
    account_type: Mapped[str | None] = mapped_column(String(40))  # Distributor, Reseller, Alliance, OEM
    tier: Mapped[str | None] = mapped_column(String(40))  # medallion: Platinum, Gold, Silver, ...
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO codes covered
    states: Mapped[list[str]] = mapped_column(JSON, default=list)
    industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    competencies: Mapped[list[str]] = mapped_column(JSON, default=list)
    certifications: Mapped[list[str]] = mapped_column(JSON, default=list)  # product certifications
    products: Mapped[list[str]] = mapped_column(JSON, default=list)  # products the partner sells
    auto_accept: Mapped[bool] = mapped_column(default=False)
    ignored_companies: Mapped[list[str]] = mapped_column(JSON, default=list)
    notification_recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    parent: Mapped[PartnerAccount | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[PartnerAccount]] = relationship(back_populates="parent")
    users: Mapped[list[PartnerUser]] = relationship(back_populates="account")


class PartnerUser(Timestamped, Base):
    """A partner's sales rep: who sees leads in the portal and calls the API with a key."""

    __tablename__ = "partner_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("partner_accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)
    approved: Mapped[bool] = mapped_column(default=True)
    api_key_hash: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)
    """"sha256:" and the hex digest of the user's API key (connector/api/keys.py); never the key."""

    account: Mapped[PartnerAccount] = relationship(back_populates="users")


class PartnerGroup(Timestamped, Base):
    """A set of partners (by tier, vertical, region) that leads are distributed across."""

    __tablename__ = "partner_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(1000))
    distribution_model: Mapped[str] = mapped_column(String(20), default="round_robin")  # or shark_tank
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What makes a partner belong (tiers, countries, competencies...): kept for the people who
    maintain the group; membership is the members list."""

    members: Mapped[list[PartnerGroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="PartnerGroupMember.position"
    )


class PartnerGroupMember(Timestamped, Base):
    """A partner account in a group, optionally with the named rep who receives its leads."""

    __tablename__ = "partner_group_members"
    __table_args__ = (UniqueConstraint("group_id", "account_id", name="member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("partner_groups.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("partner_accounts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id"))
    position: Mapped[int] = mapped_column(default=0)

    group: Mapped[PartnerGroup] = relationship(back_populates="members")
