"""Account protection: a lead whose company is a named (protected) account goes to the partner that
owns the account, and to its named rep, whatever the rules say. Leads of open accounts are left to
the rules (a shark-tank rule makes partners compete for them).

The match is on the company name, case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Account, Prospect


@dataclass(frozen=True)
class Protection:
    """The owner of a protected lead: its partner account and named rep (when usable)."""

    account_name: str
    partner: PartnerAccount
    rep_id: int | None


def named_account_for(session: Session, prospect: Prospect) -> Account | None:
    """The named account the lead's company is, matched on the company name (case-insensitive)."""
    if not prospect.company_name:
        return None
    return session.scalars(_NAMED_ACCOUNT, {"name": prospect.company_name.strip().lower()}).first()


_NAMED_ACCOUNT = (select(Account)
                  .where(func.lower(Account.name) == bindparam("name"), Account.named.is_(True),
                         Account.archived_at.is_(None), Account.partner_account_id.is_not(None))
                  .order_by(Account.id).limit(1))
"""Built once (its cache key with it): every distributed lead asks."""


def protection(session: Session, prospect: Prospect) -> Protection | None:
    """The partner (and rep) a protected lead belongs to; None for an open account. A named rep who
    is inactive or unapproved is passed over: the partner account still gets the lead."""
    account = named_account_for(session, prospect)
    if account is None or account.partner_account_id is None:
        return None
    partner = session.get(PartnerAccount, account.partner_account_id)
    if partner is None:
        return None
    rep = session.get(PartnerUser, account.named_rep_id) if account.named_rep_id is not None else None
    return Protection(account.name, partner, rep.id if rep is not None and rep.active and rep.approved else None)
