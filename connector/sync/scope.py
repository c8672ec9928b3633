"""What a partner's own CRM may receive: the one predicate per partner connection.

A record belongs to the partner accounts that own it in the portal (`owners`): a prospect to the
account holding it (`partner_account_id`) and to the account of the rep holding it
(`assigned_user_id`: a group's member rep is one of its account's users); an account, contact,
opportunity or registered deal to its `partner_account_id`; a note to the owners of the record it
is attached to. A parent account also owns what its children own. Everything else (unassigned
leads, companies, campaigns, tasks, the vendor's own records with no partner) belongs to no partner.

A partner connection (`PartnerScope`) receives a record only while its partner is among the
record's owners. The router asks when it queues a change, the relay asks again when it sends (a
lead reassigned or pulled back in between is not sent), and a pull from the partner's CRM leaves
alone a bound record that is no longer the partner's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import Session

from connector.store.modules import MODULES_BY_KEY
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Account, Contact, Note, Opportunity, Prospect, RegisteredDeal

OWNED_BY_PARTNER = {"account": Account, "contact": Contact, "opportunity": Opportunity,
                    "registered_deal": RegisteredDeal}
"""Modules whose `partner_account_id` names the partner owning the record."""


def _owner_columns(module: str) -> list[ColumnElement[Any]]:
    """SQL expressions (on the module's table) for the partner accounts owning a record."""
    if module == "prospect":
        rep_account = select(PartnerUser.account_id).where(PartnerUser.id == Prospect.assigned_user_id)
        return [Prospect.partner_account_id, rep_account.scalar_subquery()]
    if module in OWNED_BY_PARTNER:
        return [OWNED_BY_PARTNER[module].partner_account_id]  # type: ignore[attr-defined]
    if module == "note":
        parents = {"prospect": Prospect, **OWNED_BY_PARTNER}
        return [case(*((Note.record_module == key, select(model.partner_account_id)  # type: ignore[attr-defined]
                        .where(model.id == Note.record_id).scalar_subquery()) for key, model in parents.items()),
                     else_=None)]
    return []


def owners_of_module(module: str) -> bool:
    """Can a record of this module belong to a partner?"""
    return module in OWNED_BY_PARTNER or module in ("prospect", "note")


def owners(session: Session, module: str, record_ids: Iterable[int]) -> dict[int, set[int]]:
    """The partner accounts owning each record (children's owners include their ancestors);
    records owned by no partner are left out."""
    columns = _owner_columns(module)
    ids = list(record_ids)
    if not columns or not ids:
        return {}
    model = MODULES_BY_KEY[module].model
    parents = {a: p for a, p in session.execute(select(PartnerAccount.id, PartnerAccount.parent_id))}
    found: dict[int, set[int]] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(select(model.id, *columns).where(model.id.in_(ids[start:start + 500])))  # type: ignore[attr-defined]
        for record_id, *accounts in rows:
            owning = {a for a in accounts if a is not None}
            for account in list(owning):
                parent, seen = parents.get(account), {account}
                while parent is not None and parent not in seen:
                    seen.add(parent)
                    owning.add(parent)
                    parent = parents.get(parent)
            if owning:
                found[record_id] = owning
    return found


@dataclass
class PartnerScope:
    """A partner connection's scope: the records its partner account owns. `partner` is the
    account's name (from the config) or id (a connection held in the datastore)."""

    connection: str
    partner: str | int
    _partner_id: int | None = field(default=None, repr=False)

    def partner_id(self, session: Session) -> int | None:
        """The partner account's id; None while no account of that name exists (nothing goes out)."""
        if self._partner_id is None:
            if isinstance(self.partner, int):
                self._partner_id = self.partner
            else:
                self._partner_id = session.scalars(select(PartnerAccount.id).where(PartnerAccount.name == self.partner)
                                                   .order_by(PartnerAccount.id).limit(1)).first()
        return self._partner_id

    def allowed(self, session: Session, module: str, record_ids: Iterable[int]) -> set[int]:
        """Which of the records this partner may receive."""
        partner = self.partner_id(session)
        if partner is None:
            return set()
        return {rid for rid, owning in owners(session, module, record_ids).items() if partner in owning}

