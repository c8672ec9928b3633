"""Test helper: a partner account (and users) made straight through the ORM."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.partners import PartnerAccount, PartnerUser


def ensure_partner(session: Session, name: str, users: Iterable[Mapping[str, Any]] = ()) -> PartnerAccount:
    """The partner account of this name, created (active) when missing, with each user (by email)
    it lacks; existing records are left as they are."""
    account = session.scalars(select(PartnerAccount).where(PartnerAccount.name == name).order_by(PartnerAccount.id)).first()
    if account is None:
        account = PartnerAccount(name=name, active=True)
        session.add(account)
        session.flush()
    for user in users:
        email = str(user["email"]).strip().lower()
        if session.scalars(select(PartnerUser.id).where(PartnerUser.email == email)).first() is None:
            session.add(PartnerUser(account_id=account.id, email=email, first_name=user.get("first_name"),
                                    last_name=user.get("last_name"), active=True, approved=True))
    return account
