"""Stack ranking of partner reps and of partners: won opportunities (Closed Won or PO Received)
and their value in the chosen currency (`currency`, USD by default), open pipeline (stages other
than won and Closed Lost), leads accepted and activities logged, all within the period
(opportunities by creation, leads by acceptance, activities by when). Ranked by won value, then
won count, then open pipeline; a rep is an opportunity's `sales_contact_id`, a lead's assigned
user, an activity's user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from connector.reports.base import Env, Filters, Report, in_period, partner_scope
from connector.store.distribution import LeadActivity
from connector.store.partners import PartnerUser
from connector.store.records import Opportunity, Prospect

WON = (10, 11)
LOST = 9
MEASURES = ("won_count", "won_value", "open_count", "leads_accepted", "activities")


def _opportunity_figures(session: Session, key: ColumnElement[Any], where: ColumnElement[bool],
                         filters: Filters) -> Any:
    won = Opportunity.sales_stage.in_(WON)
    return session.execute(
        select(key, func.sum(case((won, 1), else_=0)),
               func.sum(case((won & (Opportunity.currency == filters.currency), Opportunity.amount), else_=0)),
               func.sum(case((~won & (Opportunity.sales_stage != LOST), 1), else_=0)))
        .where(key.is_not(None), Opportunity.archived_at.is_(None), where, in_period(Opportunity.created_at, filters))
        .group_by(key))


def _ranked(name: str, title: str, figures: dict[int, dict[str, Any]], columns: list[str], filters: Filters) -> Report:
    rows = sorted(figures.values(), key=lambda r: (-r["won_value"], -r["won_count"], -r["open_count"], r["id"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return Report(name, title, ["rank", *columns, *MEASURES], rows, {"currency": filters.currency},
                  ("bar", columns[1], "won_value"))


def _blank(**fields: Any) -> dict[str, Any]:
    return {**fields, "won_count": 0, "won_value": 0.0, "open_count": 0, "leads_accepted": 0, "activities": 0}


def rep_ranking(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    figures = {uid: _blank(id=uid, rep=email, partner=scope.names[aid][0])
               for uid, email, aid in session.execute(
                   select(PartnerUser.id, PartnerUser.email, PartnerUser.account_id)
                   .where(scope.clause(PartnerUser.account_id)))
               if aid in scope.names}
    users = select(PartnerUser.id).where(scope.clause(PartnerUser.account_id))

    def theirs(column: Any) -> Any:
        return column.is_not(None) if scope.ids is None else column.in_(users)

    for uid, won, value, open_ in _opportunity_figures(session, Opportunity.sales_contact_id,
                                                      theirs(Opportunity.sales_contact_id), filters):
        if uid in figures:
            figures[uid].update(won_count=int(won or 0), won_value=float(value or 0), open_count=int(open_ or 0))
    for uid, count in session.execute(
            select(Prospect.assigned_user_id, func.count())
            .where(theirs(Prospect.assigned_user_id), Prospect.accepted_at.is_not(None),
                   Prospect.archived_at.is_(None), in_period(Prospect.accepted_at, filters))
            .group_by(Prospect.assigned_user_id)):
        if uid in figures:
            figures[uid]["leads_accepted"] = count
    for uid, count in session.execute(
            select(LeadActivity.user_id, func.count())
            .where(theirs(LeadActivity.user_id), in_period(LeadActivity.at, filters))
            .group_by(LeadActivity.user_id)):
        if uid in figures:
            figures[uid]["activities"] = count
    return _ranked("rep-ranking", "Stack ranking of partner reps", figures, ["id", "rep", "partner"], filters)


def partner_ranking(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    figures = {pid: _blank(id=pid, partner=name, tier=tier) for pid, (name, tier) in scope.names.items()}
    for pid, won, value, open_ in _opportunity_figures(session, Opportunity.partner_account_id,
                                                      scope.clause(Opportunity.partner_account_id), filters):
        if pid in figures:
            figures[pid].update(won_count=int(won or 0), won_value=float(value or 0), open_count=int(open_ or 0))
    for pid, count in session.execute(
            select(Prospect.partner_account_id, func.count())
            .where(Prospect.partner_account_id.is_not(None), Prospect.accepted_at.is_not(None),
                   Prospect.archived_at.is_(None), scope.clause(Prospect.partner_account_id),
                   in_period(Prospect.accepted_at, filters))
            .group_by(Prospect.partner_account_id)):
        if pid in figures:
            figures[pid]["leads_accepted"] = count
    for pid, count in session.execute(
            select(PartnerUser.account_id, func.count()).join(LeadActivity, LeadActivity.user_id == PartnerUser.id)
            .where(scope.clause(PartnerUser.account_id), in_period(LeadActivity.at, filters))
            .group_by(PartnerUser.account_id)):
        if pid in figures:
            figures[pid]["activities"] = count
    return _ranked("partner-ranking", "Stack ranking of partners", figures, ["id", "partner", "tier"], filters)
