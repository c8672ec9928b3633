"""Conversion by stage, over what was created in the period: the lead funnel (leads, assigned,
accepted, converted) and the opportunity funnel (the progression stages 1-8, Closed Won, PO
Received). An opportunity counts as having reached every progression stage up to its current one
(Closed Won and PO Received imply all eight before them); a Closed Lost or Other opportunity counts
at the first stage only, as nothing says how far it got. `conversion` is the share of the step
before, `overall` the share of the funnel's first step."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from connector.reports.base import Env, Filters, Report, in_period, partner_scope, ratio
from connector.store.records import SALES_STAGES, Opportunity, Prospect

PROGRESSION = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def conversion_by_stage(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    converted = Prospect.converted_at.is_not(None)
    accepted = or_(Prospect.accepted_at.is_not(None), converted)
    assigned = or_(Prospect.assigned_at.is_not(None), accepted)
    leads = session.execute(
        select(func.count(), _count(assigned), _count(accepted), _count(converted))
        .where(Prospect.archived_at.is_(None), scope.clause(Prospect.partner_account_id),
               in_period(Prospect.created_at, filters))).one()
    rows = _funnel("lead", zip(("Leads", "Assigned", "Accepted", "Converted"), (int(n or 0) for n in leads)))
    by_stage = dict(session.execute(
        select(Opportunity.sales_stage, func.count())
        .where(Opportunity.archived_at.is_(None), scope.clause(Opportunity.partner_account_id),
               in_period(Opportunity.created_at, filters))
        .group_by(Opportunity.sales_stage)).all())
    total = sum(by_stage.values())
    reached = []
    for position, stage in enumerate(PROGRESSION):
        at_or_beyond = sum(by_stage.get(s, 0) for s in PROGRESSION[position:])
        reached.append((SALES_STAGES[stage], total if position == 0 else at_or_beyond))
    rows += _funnel("opportunity", reached)
    return Report("conversion-by-stage", "Conversion by stage", ["funnel", "stage", "reached", "conversion", "overall"],
                  rows, {"leads": rows[0]["reached"], "opportunities": total}, ("bar", "stage", "reached"))


def _funnel(funnel: str, steps: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for stage, count in steps:
        first = rows[0]["reached"] if rows else count
        previous = rows[-1]["reached"] if rows else count
        rows.append({"funnel": funnel, "stage": stage, "reached": count,
                     "conversion": ratio(count, previous), "overall": ratio(count, first)})
    return rows
