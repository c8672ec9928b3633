"""The report figures computed in plain Python over a Seed: the independent answers the tests
compare the SQL reports with."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from reporting.seed import NOW, SLA, Seed

WON, LOST = (10, 11), 9
PROGRESSION = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)
STAGE_NAMES = {1: "Prospecting", 2: "Qualification", 3: "Needs Analysis", 4: "Value Proposition",
               5: "Id. Decision Makers", 6: "Perception Analysis", 7: "Proposal/Price Quote",
               8: "Negotiation/Review", 9: "Closed Lost", 10: "Closed Won", 11: "PO Received", 12: "Other"}


class Case:
    """A filter combination: the report Filters keywords and the partner ids it selects."""

    def __init__(self, seed: Seed, *, period: tuple[datetime, datetime] | None = None, group: bool = False,
                 tier: str | None = None, region: str | None = None, partner: str | None = None,
                 viewer_of: str | None = None, currency: str = "USD"):
        self.period, self.currency = period, currency
        self.kwargs: dict[str, Any] = {"currency": currency}
        if period:
            self.kwargs.update(period_from=period[0], period_to=period[1])
        ids: set[int] | None = None

        def narrow(chosen: set[int]) -> None:
            nonlocal ids
            ids = chosen if ids is None else ids & chosen

        def family(name: str) -> set[int]:
            root = seed.partner_id(name)
            return {p["id"] for p in seed.partners if p["id"] == root or p["parent_id"] == root}

        if viewer_of:
            self.kwargs["viewer"] = seed.users_of(seed.partner_id(viewer_of))[0]
            narrow(family(viewer_of))
        if partner:
            self.kwargs["partner"] = seed.partner_id(partner)
            narrow(family(partner))
        if group:
            self.kwargs["group"] = "West"
            narrow(set(seed.group_members))
        if tier:
            self.kwargs["tier"] = tier
            narrow({p["id"] for p in seed.partners if p["tier"] == tier})
        if region:
            self.kwargs["region"] = region
            narrow({p["id"] for p in seed.partners if region in p["countries"]})
        self.ids = ids
        self.seed = seed

    def __repr__(self) -> str:
        return repr(self.kwargs)

    def scoped(self, pid: int | None) -> bool:
        return self.ids is None or pid in self.ids

    def within(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        return self.period is None or self.period[0] <= moment < self.period[1]

    def partners(self) -> list[dict[str, Any]]:
        return [p for p in self.seed.partners if self.scoped(p["id"])]

    def live(self, rows: list[dict[str, Any]], stamp: str = "created_at") -> list[dict[str, Any]]:
        return [r for r in rows if r.get("archived_at") is None and self.scoped(r["partner_account_id"])
                and self.within(r[stamp])]

    def account_of_user(self, user_id: int | None) -> int | None:
        return next((u["account_id"] for u in self.seed.users if u["id"] == user_id), None)

    def activities(self) -> list[dict[str, Any]]:
        return [a for a in self.seed.activities if a["user_id"] is not None
                and self.scoped(self.account_of_user(a["user_id"])) and self.within(a["at"])]


def segment_of(prospect: dict[str, Any] | None) -> str:
    if prospect is None:
        return "(none)"
    if prospect["segment"]:
        return str(prospect["segment"])
    employees = prospect["company_employees"]
    if employees is None:
        return "(none)"
    return "SMB" if employees < 100 else "Mid-Market" if employees < 1000 else "Enterprise"


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def dashboard(case: Case) -> list[dict[str, Any]]:
    rows = []
    for p in case.partners():
        row: dict[str, Any] = {"partner_id": p["id"], "partner": p["name"], "tier": p["tier"]}
        for name in ("prospects", "contacts", "accounts"):
            records = getattr(case.seed, name)
            row[name] = sum(1 for r in case.live(records) if r["partner_account_id"] == p["id"])
        row["appointments"] = sum(1 for a in case.activities() if a["kind"] == "meeting"
                                  and case.account_of_user(a["user_id"]) == p["id"])
        opps = [o for o in case.live(case.seed.opportunities) if o["partner_account_id"] == p["id"]]
        row["opportunities"] = len(opps)
        for currency in ("USD", "GBP", "AUD", "INR"):
            row[f"value_{currency}"] = float(sum((o["amount"] for o in opps if o["currency"] == currency), Decimal(0)))
        rows.append(row)
    return rows


def pipeline_by_stage(case: Case) -> list[dict[str, Any]]:
    groups: dict[tuple[int, str], list[Decimal]] = {}
    for o in case.live(case.seed.opportunities):
        groups.setdefault((o["sales_stage"], o["currency"]), []).append(o["amount"])
    return [{"stage": stage, "stage_name": STAGE_NAMES[stage], "currency": currency, "opportunities": len(amounts),
             "value": float(sum(amounts, Decimal(0)))} for (stage, currency), amounts in sorted(groups.items())]


def pipeline_by_segment(case: Case) -> list[dict[str, Any]]:
    contacts = {c["id"]: c for c in case.seed.contacts}
    prospects = {p["id"]: p for p in case.seed.prospects}
    groups: dict[tuple[str, str], list[Decimal]] = {}
    for o in case.live(case.seed.opportunities):
        contact = contacts.get(o["contact_id"])
        prospect = prospects.get(contact["prospect_id"]) if contact else None
        groups.setdefault((segment_of(prospect), o["currency"]), []).append(o["amount"])
    return [{"segment": segment, "currency": currency, "opportunities": len(amounts),
             "value": float(sum(amounts, Decimal(0)))} for (segment, currency), amounts in sorted(groups.items())]


def lead_acceptance(case: Case) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in case.live([p for p in case.seed.prospects if p["assigned_at"]], "assigned_at"):
        groups.setdefault(segment_of(p), []).append(p)
    rows = []
    for segment, leads in sorted(groups.items()):
        accepted = [p for p in leads if p["accepted_at"]]
        days = SLA.get(segment)
        met = missed = 0
        if days is not None:
            for p in leads:
                if p["converted_at"]:
                    within = hours(p["assigned_at"], p["converted_at"]) <= days * 24
                    met, missed = met + within, missed + (not within)
                elif p["assigned_at"] < NOW - timedelta(days=days):
                    missed += 1
        waits = [hours(p["assigned_at"], p["accepted_at"]) for p in accepted]
        rows.append({"segment": segment, "sla_days": days, "assigned": len(leads), "accepted": len(accepted),
                     "acceptance_rate": pct(len(accepted), len(leads)),
                     "hours_to_accept": round(sum(waits) / len(waits), 1) if waits else None,
                     "sla_met": met, "sla_missed": missed, "sla_compliance": pct(met, met + missed)})
    return rows


def conversion_by_stage(case: Case) -> list[dict[str, Any]]:
    leads = case.live(case.seed.prospects)
    steps = [("lead", "Leads", len(leads)),
             ("lead", "Assigned", sum(1 for p in leads if p["assigned_at"] or p["accepted_at"] or p["converted_at"])),
             ("lead", "Accepted", sum(1 for p in leads if p["accepted_at"] or p["converted_at"])),
             ("lead", "Converted", sum(1 for p in leads if p["converted_at"]))]
    opps = case.live(case.seed.opportunities)
    for position, stage in enumerate(PROGRESSION):
        reached = len(opps) if position == 0 else sum(1 for o in opps if o["sales_stage"] in PROGRESSION[position:])
        steps.append(("opportunity", STAGE_NAMES[stage], reached))
    rows: list[dict[str, Any]] = []
    for funnel, stage, reached in steps:
        same = [r for r in rows if r["funnel"] == funnel]
        first = same[0]["reached"] if same else reached
        previous = same[-1]["reached"] if same else reached
        rows.append({"funnel": funnel, "stage": stage, "reached": reached, "conversion": pct(reached, previous),
                     "overall": pct(reached, first)})
    return rows


def _rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (-r["won_value"], -r["won_count"], -r["open_count"], r["id"]))
    for n, row in enumerate(rows, 1):
        row["rank"] = n
    return rows


def _opportunity_measures(case: Case, opps: list[dict[str, Any]]) -> dict[str, Any]:
    won = [o for o in opps if o["sales_stage"] in WON]
    return {"won_count": len(won),
            "won_value": float(sum((o["amount"] for o in won if o["currency"] == case.currency), Decimal(0))),
            "open_count": sum(1 for o in opps if o["sales_stage"] not in (*WON, LOST))}


def rep_ranking(case: Case) -> list[dict[str, Any]]:
    opps = [o for o in case.seed.opportunities if o["archived_at"] is None and case.within(o["created_at"])]
    names = {p["id"]: p["name"] for p in case.seed.partners}
    rows = []
    for user in case.seed.users:
        if not case.scoped(user["account_id"]):
            continue
        mine = [o for o in opps if o["sales_contact_id"] == user["id"]]
        rows.append({"id": user["id"], "rep": user["email"], "partner": names[user["account_id"]],
                     **_opportunity_measures(case, mine),
                     "leads_accepted": sum(1 for p in case.seed.prospects if p["assigned_user_id"] == user["id"]
                                           and p["archived_at"] is None and case.within(p["accepted_at"])),
                     "activities": sum(1 for a in case.activities() if a["user_id"] == user["id"])})
    return _rank(rows)


def partner_ranking(case: Case) -> list[dict[str, Any]]:
    rows = []
    for p in case.partners():
        mine = [o for o in case.live(case.seed.opportunities) if o["partner_account_id"] == p["id"]]
        rows.append({"id": p["id"], "partner": p["name"], "tier": p["tier"], **_opportunity_measures(case, mine),
                     "leads_accepted": sum(1 for lead in case.live(case.seed.prospects, "accepted_at")
                                           if lead["partner_account_id"] == p["id"]),
                     "activities": sum(1 for a in case.activities() if case.account_of_user(a["user_id"]) == p["id"])})
    return _rank(rows)


def partner_adoption(case: Case) -> list[dict[str, Any]]:
    rows = []
    for p in case.partners():
        acts = [a for a in case.activities() if case.account_of_user(a["user_id"]) == p["id"]]
        opps = sum(1 for o in case.live(case.seed.opportunities) if o["partner_account_id"] == p["id"])
        accepted = sum(1 for lead in case.live(case.seed.prospects, "accepted_at") if lead["partner_account_id"] == p["id"])
        rows.append({"partner_id": p["id"], "partner": p["name"], "tier": p["tier"],
                     "active": bool(acts or opps or accepted), "activities": len(acts), "opportunities": opps,
                     "leads_accepted": accepted,
                     "last_activity_at": max(a["at"] for a in acts).isoformat() if acts else None})
    return rows


EXPECTED = {
    "partner-dashboard": dashboard, "pipeline-by-stage": pipeline_by_stage, "pipeline-by-segment": pipeline_by_segment,
    "lead-acceptance": lead_acceptance, "conversion-by-stage": conversion_by_stage, "rep-ranking": rep_ranking,
    "partner-ranking": partner_ranking, "partner-adoption": partner_adoption,
}
