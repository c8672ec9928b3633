"""Opportunity -> registered deal ("Register your Deal", once the opportunity is Closed Won): the
deal carries the opportunity's account, amount, currency and partner, its notes (the engagement
history, copied onto the deal) and its grants; the campaign attribution (campaign, offer, tactic)
and the contact stay on the opportunity the deal links to, and are read through it.

Prospect -> contact is LeadService.convert (connector/leads/inbox.py), which the records service
calls after its own checks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.leads import assign
from connector.leads.errors import InvalidTransition
from connector.store.records import SALES_STAGES, Note, Opportunity, RegisteredDeal

CLOSED_WON = 10
OPPORTUNITY, DEAL = "opportunity", "registered_deal"


def register(session: Session, opportunity: Opportunity, actor: str, now: datetime, *, name: str | None = None,
             approval_status: str | None = None) -> RegisteredDeal:
    """The deal registered from this opportunity; InvalidTransition unless it is Closed Won and has
    no live deal yet."""
    if opportunity.sales_stage != CLOSED_WON:
        stage = SALES_STAGES.get(opportunity.sales_stage, opportunity.sales_stage)
        raise InvalidTransition(f"opportunity {opportunity.id} is at stage {opportunity.sales_stage} ({stage}): "
                                "only a Closed Won opportunity registers as a deal")
    existing = session.scalar(select(RegisteredDeal.id).where(RegisteredDeal.opportunity_id == opportunity.id,
                                                              RegisteredDeal.archived_at.is_(None)))
    if existing is not None:
        raise InvalidTransition(f"opportunity {opportunity.id} is already registered as deal {existing}")
    deal = RegisteredDeal(opportunity_id=opportunity.id, name=name or opportunity.name, account_id=opportunity.account_id,
                          amount=opportunity.amount, currency=opportunity.currency,
                          approval_status=approval_status or "Pending", registered_at=now,
                          partner_account_id=opportunity.partner_account_id)
    session.add(deal)
    session.flush()
    notes = session.scalars(select(Note).where(Note.record_module == OPPORTUNITY, Note.record_id == opportunity.id,
                                               Note.archived_at.is_(None)).order_by(Note.id))
    session.add_all([Note(record_module=DEAL, record_id=deal.id, title=note.title, body=note.body,
                          author_user_id=note.author_user_id) for note in notes])
    reason = f"registered from opportunity {opportunity.id}"
    for grant in assign.active_grants(session, opportunity.id, OPPORTUNITY):
        assign.grant(session, deal.id, [(grant.assignee_type, grant.assignee_id)], grant.access_type, actor=actor,
                     reason=reason, now=now, module=DEAL)
    return deal
