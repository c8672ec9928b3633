"""Lead acceptance by segment, over the leads assigned in the period (by `assigned_at`, the current
holder's assignment): how many were accepted (rate), the mean hours from assignment to acceptance,
and SLA compliance against `leads.segment_sla_days` (a lead must be converted within its segment's
days of its assignment): met = converted in time; missed = converted late, or not converted and
past the deadline now; compliance = met / (met + missed). Leads still inside their window, and
leads of a segment without an SLA, count in neither.

One pass over the assigned leads (an index-only scan of `ix_prospects_report_assigned` on
PostgreSQL): the segment is computed in a subquery, and each segment's SLA (hours, and the cutoff
before which an unconverted lead has missed it) is a CASE on it, with no join."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, null, or_, select
from sqlalchemy.orm import Session

from connector.reports.base import Env, Filters, Report, hours_between, in_period, partner_scope, ratio, segment_expr
from connector.store.base import UTCDateTime
from connector.store.records import Prospect


def _by_segment(segment: ColumnElement[str], values: dict[str, Any], type_: Any = None) -> ColumnElement[Any]:
    """`values[segment]` in SQL (null for a segment without one): a CASE on the lead's segment."""
    if not values:
        return null()
    return case(*((segment == name, literal(value, type_)) for name, value in values.items()), else_=null())


def lead_acceptance(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    leads = (select(segment_expr().label("segment"), Prospect.assigned_at, Prospect.accepted_at, Prospect.converted_at)
             .where(Prospect.assigned_at.is_not(None), Prospect.archived_at.is_(None),
                    scope.clause(Prospect.partner_account_id), in_period(Prospect.assigned_at, filters))
             .subquery("leads"))
    sla_hours = _by_segment(leads.c.segment, {name: days * 24.0 for name, days in env.sla_days.items()})
    cutoff = _by_segment(leads.c.segment, {name: env.now - timedelta(days=days) for name, days in env.sla_days.items()},
                         UTCDateTime())
    converted = leads.c.converted_at.is_not(None)
    to_convert = hours_between(session, leads.c.assigned_at, leads.c.converted_at)
    met = and_(converted, to_convert <= sla_hours)
    missed = or_(and_(converted, to_convert > sla_hours),
                 and_(leads.c.converted_at.is_(None), leads.c.assigned_at < cutoff))
    query = (select(leads.c.segment, func.count(), func.count(leads.c.accepted_at),
                    func.avg(case((leads.c.accepted_at.is_not(None),
                                   hours_between(session, leads.c.assigned_at, leads.c.accepted_at)), else_=null())),
                    func.sum(case((met, 1), else_=0)), func.sum(case((missed, 1), else_=0)))
             .select_from(leads)
             .group_by(leads.c.segment).order_by(leads.c.segment))
    rows = []
    for seg, assigned, accepted, hours, met_count, missed_count in session.execute(query):
        met_count, missed_count = int(met_count or 0), int(missed_count or 0)
        rows.append({"segment": seg, "sla_days": env.sla_days.get(seg), "assigned": assigned, "accepted": accepted,
                     "acceptance_rate": ratio(accepted, assigned),
                     "hours_to_accept": None if hours is None else round(float(hours), 1),
                     "sla_met": met_count, "sla_missed": missed_count,
                     "sla_compliance": ratio(met_count, met_count + missed_count)})
    assigned_total, accepted_total = sum(r["assigned"] for r in rows), sum(r["accepted"] for r in rows)
    columns = ["segment", "sla_days", "assigned", "accepted", "acceptance_rate", "hours_to_accept", "sla_met",
               "sla_missed", "sla_compliance"]
    return Report("lead-acceptance", "Lead acceptance and SLA compliance by segment", columns, rows,
                  {"assigned": assigned_total, "accepted": accepted_total,
                   "acceptance_rate": ratio(accepted_total, assigned_total)},
                  ("bar", "segment", "acceptance_rate"))
