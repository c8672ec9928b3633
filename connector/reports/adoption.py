"""Partner adoption: which partners were active in the period (an activity logged by one of its
users, an opportunity it created, or a lead it accepted), with those counts and its latest
activity; the summary gives the share of partners in scope that were active."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.reports.base import Env, Filters, Report, in_period, partner_scope, ratio
from connector.store.distribution import LeadActivity
from connector.store.partners import PartnerUser
from connector.store.records import Opportunity, Prospect


def partner_adoption(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    rows: dict[int, dict[str, Any]] = {
        pid: {"partner_id": pid, "partner": name, "tier": tier, "activities": 0, "opportunities": 0,
              "leads_accepted": 0, "last_activity_at": None, "active": False}
        for pid, (name, tier) in scope.names.items()}
    for pid, count, latest in session.execute(
            select(PartnerUser.account_id, func.count(), func.max(LeadActivity.at))
            .join(LeadActivity, LeadActivity.user_id == PartnerUser.id)
            .where(scope.clause(PartnerUser.account_id), in_period(LeadActivity.at, filters))
            .group_by(PartnerUser.account_id)):
        if pid in rows:
            rows[pid].update(activities=count, last_activity_at=latest.isoformat() if latest else None)
    for column, model, stamp in (("opportunities", Opportunity, Opportunity.created_at),
                                 ("leads_accepted", Prospect, Prospect.accepted_at)):
        for pid, count in session.execute(
                select(model.partner_account_id, func.count())
                .where(model.partner_account_id.is_not(None), stamp.is_not(None), model.archived_at.is_(None),
                       scope.clause(model.partner_account_id), in_period(stamp, filters))
                .group_by(model.partner_account_id)):
            if pid in rows:
                rows[pid][column] = count
    ordered = sorted(rows.values(), key=lambda r: r["partner_id"])
    for row in ordered:
        row["active"] = bool(row["activities"] or row["opportunities"] or row["leads_accepted"])
    active = sum(1 for r in ordered if r["active"])
    columns = ["partner_id", "partner", "tier", "active", "activities", "opportunities", "leads_accepted",
               "last_activity_at"]
    return Report("partner-adoption", "Partner adoption", columns, ordered,
                  {"partners": len(ordered), "active": active, "adoption": ratio(active, len(ordered))},
                  ("bar", "partner", "activities"))
