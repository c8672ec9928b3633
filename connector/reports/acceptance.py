"""Lead acceptance by segment, over the leads assigned in the period (by `assigned_at`, the current
holder's assignment): how many were accepted (rate), the mean hours from assignment to acceptance,
and SLA compliance against `leads.segment_sla_days` (a lead must be converted within its segment's
days of its assignment): met = converted in time; missed = converted late, or not converted and
past the deadline now; compliance = met / (met + missed). Leads still inside their window count
in neither."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from connector.reports.base import Env, Filters, Report, hours_between, in_period, partner_scope, ratio, segment_expr
from connector.store.records import Prospect


def lead_acceptance(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    segment = segment_expr()
    sla = env.sla_days
    sla_hours = case(*[(segment == name, literal(days * 24.0)) for name, days in sla.items()], else_=None)
    deadline_passed = case(*[(segment == name, Prospect.assigned_at < env.now - timedelta(days=days))
                             for name, days in sla.items()], else_=False)
    to_convert = hours_between(session, Prospect.assigned_at, Prospect.converted_at)
    converted = Prospect.converted_at.is_not(None)
    met = and_(converted, to_convert <= sla_hours)
    missed = case((converted, to_convert > sla_hours), else_=deadline_passed)
    query = (select(segment.label("segment"), func.count(),
                    func.count(Prospect.accepted_at),
                    func.avg(case((Prospect.accepted_at.is_not(None),
                                   hours_between(session, Prospect.assigned_at, Prospect.accepted_at)))),
                    func.sum(case((met, 1), else_=0)),
                    func.sum(case((and_(sla_hours.is_not(None), missed), 1), else_=0)))
             .where(Prospect.assigned_at.is_not(None), Prospect.archived_at.is_(None),
                    scope.clause(Prospect.partner_account_id), in_period(Prospect.assigned_at, filters))
             .group_by(segment).order_by(segment))
    rows = []
    for seg, assigned, accepted, hours, met_count, missed_count in session.execute(query):
        met_count, missed_count = int(met_count or 0), int(missed_count or 0)
        rows.append({"segment": seg, "sla_days": sla.get(seg), "assigned": assigned, "accepted": accepted,
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
