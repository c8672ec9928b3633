"""Pipeline: the opportunities created in the period (not archived), their count and value per
currency, by sales stage and by segment (the segment of the lead the opportunity's contact was
converted from; "(none)" without one)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.reports.base import Env, NO_SEGMENT, Filters, Report, in_period, partner_scope, segment_expr
from connector.store.records import SALES_STAGES, Contact, Opportunity, Prospect


def pipeline_by_stage(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    query = (select(Opportunity.sales_stage, Opportunity.currency, func.count(), func.sum(Opportunity.amount))
             .where(Opportunity.archived_at.is_(None), scope.clause(Opportunity.partner_account_id),
                    in_period(Opportunity.created_at, filters))
             .group_by(Opportunity.sales_stage, Opportunity.currency)
             .order_by(Opportunity.sales_stage, Opportunity.currency))
    rows = [{"stage": stage, "stage_name": SALES_STAGES[stage], "currency": currency, "opportunities": count,
             "value": float(value or 0)} for stage, currency, count, value in session.execute(query)]
    return Report("pipeline-by-stage", "Pipeline by stage", ["stage", "stage_name", "currency", "opportunities", "value"],
                  rows, _totals(rows), ("bar", "stage_name", "value"))


def pipeline_by_segment(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    segment = func.coalesce(segment_expr(), NO_SEGMENT).label("segment")
    query = (select(segment, Opportunity.currency, func.count(), func.sum(Opportunity.amount))
             .select_from(Opportunity)
             .outerjoin(Contact, Contact.id == Opportunity.contact_id)
             .outerjoin(Prospect, Prospect.id == Contact.prospect_id)
             .where(Opportunity.archived_at.is_(None), scope.clause(Opportunity.partner_account_id),
                    in_period(Opportunity.created_at, filters))
             .group_by(segment, Opportunity.currency)
             .order_by(segment, Opportunity.currency))
    rows = [{"segment": seg, "currency": currency, "opportunities": count, "value": float(value or 0)}
            for seg, currency, count, value in session.execute(query)]
    return Report("pipeline-by-segment", "Pipeline by segment", ["segment", "currency", "opportunities", "value"],
                  rows, _totals(rows), ("pie", "segment", "value"))


def _totals(rows: list[dict[str, object]]) -> dict[str, object]:
    by_currency: dict[str, float] = {}
    for row in rows:
        by_currency[str(row["currency"])] = by_currency.get(str(row["currency"]), 0.0) + float(row["value"])  # type: ignore[arg-type]
    return {"opportunities": sum(int(r["opportunities"]) for r in rows),  # type: ignore[call-overload]
            **{f"value_{c}": round(v, 2) for c, v in sorted(by_currency.items())}}
