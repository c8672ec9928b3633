"""The Partner Dashboard Report: per partner, its prospects, contacts, accounts, appointments (the
meeting activities its users logged) and opportunity value (per currency), within the period
(records by creation, appointments by when they happened). Archived records are left out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.reports.base import Env, Filters, Report, in_period, partner_scope
from connector.store.distribution import LeadActivity
from connector.store.partners import PartnerUser
from connector.store.records import CURRENCIES, Account, Contact, Opportunity, Prospect

COUNTED = (("prospects", Prospect), ("contacts", Contact), ("accounts", Account))


def partner_dashboard(session: Session, filters: Filters, env: Env) -> Report:
    scope = partner_scope(session, filters)
    figures: dict[int, dict[str, Any]] = {
        pid: {"partner_id": pid, "partner": name, "tier": tier, "prospects": 0, "contacts": 0, "accounts": 0,
              "appointments": 0, "opportunities": 0, **{f"value_{c}": 0.0 for c in CURRENCIES}}
        for pid, (name, tier) in scope.names.items()}
    for column, model in COUNTED:
        for pid, count in session.execute(
                select(model.partner_account_id, func.count()).where(
                    model.partner_account_id.is_not(None), model.archived_at.is_(None),
                    scope.clause(model.partner_account_id), in_period(model.created_at, filters))
                .group_by(model.partner_account_id)):
            if pid in figures:
                figures[pid][column] = count
    for pid, count in session.execute(
            select(PartnerUser.account_id, func.count()).join(LeadActivity, LeadActivity.user_id == PartnerUser.id)
            .where(LeadActivity.kind == "meeting", scope.clause(PartnerUser.account_id),
                   in_period(LeadActivity.at, filters))
            .group_by(PartnerUser.account_id)):
        if pid in figures:
            figures[pid]["appointments"] = count
    for pid, currency, count, value in session.execute(
            select(Opportunity.partner_account_id, Opportunity.currency, func.count(), func.sum(Opportunity.amount))
            .where(Opportunity.partner_account_id.is_not(None), Opportunity.archived_at.is_(None),
                   scope.clause(Opportunity.partner_account_id), in_period(Opportunity.created_at, filters))
            .group_by(Opportunity.partner_account_id, Opportunity.currency)):
        if pid in figures:
            figures[pid]["opportunities"] += count
            figures[pid][f"value_{currency}"] = float(value or 0)
    rows = sorted(figures.values(), key=lambda r: r["partner_id"])
    columns = ["partner_id", "partner", "tier", "prospects", "contacts", "accounts", "appointments",
               "opportunities", *(f"value_{c}" for c in CURRENCIES)]
    totals = {c: sum(r[c] for r in rows) for c in columns[3:]}
    return Report("partner-dashboard", "Partner Dashboard Report", columns, rows, {"partners": len(rows), **totals},
                  ("bar", "partner", "prospects"))
