"""Write-back: what became of a lead in UPM, as the vendor CRM's lead shows it (a PRM connector's
"sync status"): the assignment status, the partner holding it, its rep, the dates, and the
opportunity the partner made of it (its deal, linked to the lead: `Opportunity.prospect_id`).

`fate` reads it from the prospect and its assignment history; the relay sends the fields the
profile's `writeback` names, through the outbox like every push, when any of them changed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.assignments import AssignmentHistory
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Opportunity, Prospect

KEY = "writeback:"
"""Prefix of the written values kept in a binding's synced values (so an unchanged fate is not re-sent)."""

STATUSES = ("Unassigned", "Pending", "Accepted", "Rejected", "Pulled back", "Converted")

_HELD = {"assigned": "Pending", "accepted": "Accepted", "converted": "Converted"}
_RELEASED = {"pulled_back": "Pulled back", "rejected": "Rejected"}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _opportunity(session: Session, prospect: Prospect) -> dict[str, Any]:
    """The newest live opportunity linked to the lead, as {opportunity_id, _name, _amount, _stage}."""
    found = session.scalars(select(Opportunity).where(Opportunity.prospect_id == prospect.id,
                                                      Opportunity.archived_at.is_(None))
                            .order_by(Opportunity.id.desc()).limit(1)).first()
    if found is None:
        return dict.fromkeys(("opportunity_id", "opportunity_name", "opportunity_amount", "opportunity_stage"))
    return {"opportunity_id": str(found.id), "opportunity_name": found.name,
            "opportunity_amount": float(found.amount) if found.amount is not None else None,
            "opportunity_stage": found.sales_stage}


def fate(session: Session, prospect: Prospect) -> dict[str, Any]:
    """The lead's fate: {status, partner_account, rep, status_date, assigned_at, accepted_at,
    opportunity_id, opportunity_name, opportunity_amount, opportunity_stage}.

    Held leads are Pending (assigned, not yet accepted), Accepted or Converted; a lead nobody
    holds is Pulled back or Rejected when that was the last thing that happened to it, else
    Unassigned (new, in the open pool, in a shark tank, in manual review)."""
    last = session.execute(
        select(AssignmentHistory.action, AssignmentHistory.at)
        .where(AssignmentHistory.record_module == "prospect", AssignmentHistory.record_id == prospect.id)
        .order_by(AssignmentHistory.id.desc()).limit(1)).first()
    status = _HELD.get(prospect.distribution_state)
    if status is None:
        status = _RELEASED.get(last.action, "Unassigned") if last is not None else "Unassigned"
    partner = session.get(PartnerAccount, prospect.partner_account_id) if prospect.partner_account_id else None
    rep = session.get(PartnerUser, prospect.assigned_user_id) if prospect.assigned_user_id else None
    changed = [m for m in (prospect.assigned_at, prospect.accepted_at, prospect.converted_at,
                           last.at if last is not None else None) if m is not None]
    return {"status": status, "partner_account": partner.name if partner else None,
            "rep": rep.email if rep else None,
            "status_date": _iso(max(changed, key=lambda m: m.replace(tzinfo=None))) if changed else None,
            "assigned_at": _iso(prospect.assigned_at) if partner or rep else None,
            "accepted_at": _iso(prospect.accepted_at) if status in ("Accepted", "Converted") else None,
            **_opportunity(session, prospect)}
