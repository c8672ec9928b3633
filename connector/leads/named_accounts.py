"""Account protection: a lead whose company is a named (protected) account goes to the partner that
owns the account, and to its named rep, whatever the rules say. Leads of open accounts are left to
the rules (a shark-tank rule makes partners compete for them).

The match is on the company name, case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from connector.store.database import read_connection
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Account, Prospect


@dataclass(frozen=True)
class Protection:
    """The owner of a protected lead: its partner account and named rep (when usable)."""

    account_name: str
    partner: PartnerAccount
    rep_id: int | None


_NAMED_OWNER = (select(Account.name, Account.partner_account_id, Account.named_rep_id)
                .where(func.lower(Account.name) == bindparam("name"), Account.named.is_(True),
                       Account.archived_at.is_(None), Account.partner_account_id.is_not(None))
                .order_by(Account.id).limit(1))
"""The named account a lead's company is (matched on the name, case-insensitive), as plain columns;
built once (its cache key with it): every distributed lead asks, and most match none."""


def protection(session: Session, prospect: Prospect) -> Protection | None:
    """The partner (and rep) a protected lead belongs to; None for an open account. A named rep who
    is inactive or unapproved is passed over: the partner account still gets the lead."""
    if not prospect.company_name:
        return None
    found = read_connection(session).execute(_NAMED_OWNER, {"name": prospect.company_name.strip().lower()}).first()
    if found is None:
        return None
    name, partner_id, rep_id = found
    partner = session.get(PartnerAccount, partner_id)
    if partner is None:
        return None
    rep = session.get(PartnerUser, rep_id) if rep_id is not None else None
    return Protection(name, partner, rep.id if rep is not None and rep.active and rep.approved else None)
