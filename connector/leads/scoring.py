"""Lead scoring: points from the scoring rules, applied as events arrive, whoever writes them.

- Activity rules add their points each time their event happens to a lead: a call, email or
  meeting logged (a `lead_activities` row, from LeadService.log_activity or a pull), a lead that
  arrives from a campaign (a new prospect with a `campaign_id`: "campaign_response"), a lead that
  arrives from a web form (a new prospect whose `lead_source` is one of FORM_SOURCES: "form"), or
  an event recorded with `record_event` (any of them). A rule with a campaign counts only for that
  campaign's leads. New leads are scored whoever writes them: a session's flush, or a bulk INSERT
  (a pull's new records) through `Database.inserted`.
- Field rules count once while a lead matches them (title contains, industry or source is one of,
  size (company employees) between): when a new or changed lead starts to match, the rule's points
  are added; when it stops, they are taken back.
Every change is a `lead_score_history` row (rule, campaign, points) in the writing transaction,
and `prospects.lead_score` is their sum. A lead whose score reaches the high-score threshold from
below notifies its holder (the assigned rep, else the holding partner's recipients) and the
vendor's recipients (`leads.review_recipients`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, get_history

from connector.clock import Clock
from connector.leads import notify
from connector.store.assignments import LeadScoreHistory
from connector.store.database import Database
from connector.store.distribution import LeadActivity
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Prospect
from connector.store.scoring import EVENTS, FIELDS, ScoringRule, ScoringSetting

ACTIVITY_EVENTS = ("call", "email", "meeting")
FIELD_COLUMNS = {"title": "title", "industry": "industry", "size": "company_employees", "source": "lead_source"}
CROSSINGS = "scoring_crossings"
FORM_SOURCES = frozenset({"web", "web form", "website", "form", "web-to-lead"})
"""`lead_source` values (case and spacing aside) that say the lead filled in a web form."""


class ScoringRulesError(ValueError):
    """A rules file that cannot be right; `problems` name the rule and field of each."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Rules:
    """The active rules and the threshold, read once per flush."""

    activity: Sequence[ScoringRule]
    field: Sequence[ScoringRule]
    threshold: int | None


def load_rules(session: Session) -> Rules:
    rules = list(session.scalars(select(ScoringRule).where(ScoringRule.active).order_by(ScoringRule.id)))
    setting = session.get(ScoringSetting, 1)
    return Rules([r for r in rules if r.event], [r for r in rules if r.field],
                 setting.high_score_threshold if setting else None)


def _fold(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def matches(rule: ScoringRule, prospect: Prospect) -> bool:
    """Whether a field rule holds for the lead as it is now."""
    value = getattr(prospect, FIELD_COLUMNS[str(rule.field)])
    if value is None or value == "":
        return False
    if rule.field == "size":
        return (rule.min_value is None or value >= rule.min_value) and (rule.max_value is None or value <= rule.max_value)
    if rule.field == "title":
        return any(_fold(v) in _fold(value) for v in rule.values if _fold(v))
    return _fold(value) in {_fold(v) for v in rule.values}


def _add(session: Session, prospect: Prospect, rules: Rules, rule: str, points: int, campaign_id: int | None,
         now: datetime) -> None:
    before = prospect.lead_score or 0
    prospect.lead_score = before + points
    session.add(LeadScoreHistory(prospect=prospect, campaign_id=campaign_id, rule=rule, score=points, at=now))
    if rules.threshold is not None and before < rules.threshold <= prospect.lead_score:
        session.info.setdefault(CROSSINGS, []).append((prospect, now))


def apply_event(session: Session, prospect: Prospect, kind: str, campaign_id: int | None, rules: Rules,
                now: datetime) -> int:
    """Score one event; returns the points added."""
    total = 0
    for rule in rules.activity:
        if rule.event == kind and (rule.campaign_id is None or rule.campaign_id == campaign_id):
            _add(session, prospect, rules, rule.name, rule.points, campaign_id, now)
            total += rule.points
    return total


def apply_fields(session: Session, prospect: Prospect, rules: Rules, now: datetime, *, fresh: bool = False) -> None:
    """Bring the lead's field-rule points in line with what it matches now (`fresh`: a lead just
    inserted, which has earned nothing yet)."""
    earned: dict[str, int] = {}
    if prospect.id is not None and not fresh:
        earned = dict(session.execute(
            select(LeadScoreHistory.rule, func.sum(LeadScoreHistory.score))
            .where(LeadScoreHistory.prospect_id == prospect.id,
                   LeadScoreHistory.rule.in_([r.name for r in rules.field]))
            .group_by(LeadScoreHistory.rule)).all())
    for rule in rules.field:
        held = int(earned.get(rule.name) or 0)
        if matches(rule, prospect):
            if held != rule.points:
                _add(session, prospect, rules, rule.name, rule.points - held, prospect.campaign_id, now)
        elif held:
            _add(session, prospect, rules, rule.name, -held, prospect.campaign_id, now)


def from_form(prospect: Prospect) -> bool:
    """Whether the lead came from a web form (its `lead_source`, see FORM_SOURCES)."""
    return prospect.lead_source is not None and _fold(prospect.lead_source) in FORM_SOURCES


def apply_arrival(session: Session, prospect: Prospect, rules: Rules, now: datetime) -> None:
    """Score a lead that has just arrived: its field rules, its campaign response, its form fill."""
    if rules.field:
        apply_fields(session, prospect, rules, now, fresh=True)
    if prospect.campaign_id is not None:
        apply_event(session, prospect, "campaign_response", prospect.campaign_id, rules, now)
    if from_form(prospect):
        apply_event(session, prospect, "form", prospect.campaign_id, rules, now)


def _fields_changed(prospect: Prospect) -> bool:
    """A scored field's net change (`get_history` per column: `inspect(...).attrs` would build an
    AttributeState for each of the lead's attributes first, at every flush of a lead)."""
    return any(get_history(prospect, column, PASSIVE_NO_INITIALIZE).has_changes() for column in FIELD_COLUMNS.values())


def record_event(db: Database, prospect_id: int, kind: str, now: datetime, campaign_id: int | None = None) -> int:
    """Score an event that is not an activity row (a form fill, a campaign response); the points."""
    if kind not in EVENTS:
        raise ValueError(f"event {kind!r} is not one of {', '.join(EVENTS)}")
    with db.session() as session:
        prospect = session.get(Prospect, prospect_id)
        if prospect is None:
            raise LookupError(f"lead {prospect_id} does not exist")
        return apply_event(session, prospect, kind, campaign_id, load_rules(session), now)


def _recipients(session: Session, prospect: Prospect, vendor: Iterable[str]) -> list[str]:
    holder: list[str] = []
    if prospect.assigned_user_id is not None:
        user = session.get(PartnerUser, prospect.assigned_user_id)
        holder = [user.email] if user else []
    elif prospect.partner_account_id is not None:
        account = session.get(PartnerAccount, prospect.partner_account_id)
        holder = list(account.notification_recipients or []) if account else []
    return [*holder, *vendor]


def install(db: Database, clock: Clock, vendor_recipients: Sequence[str]) -> None:
    """Score new activities, new leads (bulk-inserted ones too) and changed lead fields in every
    session of `db` (install once)."""

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        new = session.new  # a new set at each read: read once
        activities = [a for a in new if isinstance(a, LeadActivity) and a.kind in ACTIVITY_EVENTS]
        leads = [p for p in (*new, *session.dirty) if isinstance(p, Prospect)
                 and (p in new or _fields_changed(p))]  # a scored field's net change
        if not activities and not leads:
            return
        with session.no_autoflush:
            rules = load_rules(session)
            if not (rules.activity or rules.field):
                return
            now = clock.now()
            for lead in leads:
                if lead in new:
                    apply_arrival(session, lead, rules, now)
                elif rules.field:
                    apply_fields(session, lead, rules, now)
            for activity in activities:
                prospect = activity.prospect if activity.prospect is not None else session.get(Prospect, activity.prospect_id)
                if prospect is not None:
                    apply_event(session, prospect, activity.kind, prospect.campaign_id, rules, activity.at or now)

    def after_flush(session: Session, _context: object) -> None:
        crossings = session.info.pop(CROSSINGS, [])
        for prospect, now in crossings:
            name = " ".join(filter(None, (prospect.first_name, prospect.last_name))) or prospect.email or f"#{prospect.id}"
            notify.queue(session, kind="high_score", recipients=_recipients(session, prospect, vendor_recipients),
                         subject=f"High-score lead: {name} ({prospect.lead_score} points)",
                         body=f"Lead {prospect.id} ({name}, {prospect.company_name or 'no company'}) reached "
                              f"{prospect.lead_score} points.",
                         event_key=f"{prospect.id}:{now.isoformat()}", now=now, record_module="prospect",
                         record_id=prospect.id)

    def inserted(session: Session, table: str, ids: Sequence[int]) -> None:
        if table != Prospect.__tablename__ or not ids:
            return
        with session.no_autoflush:
            rules = load_rules(session)
            if not (rules.activity or rules.field):
                return
            query = select(Prospect).where(Prospect.id.in_(ids))
            if not rules.field:  # only events can score: leave out the leads that can raise none
                query = query.where(Prospect.campaign_id.is_not(None) | Prospect.lead_source.is_not(None))
            now = clock.now()
            for lead in session.scalars(query):
                apply_arrival(session, lead, rules, now)
        session.flush()

    event.listen(db.sessions, "before_flush", before_flush)
    event.listen(db.sessions, "after_flush", after_flush)
    db.insert_hooks.append(inserted)


def parse_rules(document: Any, source: str) -> tuple[int | None, list[dict[str, Any]]]:
    """The threshold and rule specs of a rules document ({threshold, rules: [...]}); ScoringRulesError
    naming `source`, the rule and the field of every problem."""
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise ScoringRulesError([f"{source}: expected a mapping with 'threshold' and 'rules'"])
    unknown = set(document) - {"threshold", "rules"}
    if unknown:
        problems.append(f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: threshold, rules)")
    threshold = document.get("threshold")
    if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= 0):
        problems.append(f"{source}: threshold {threshold!r} is not a positive whole number")
    specs: list[dict[str, Any]] = []
    raw = document.get("rules") or []
    if not isinstance(raw, list):
        raise ScoringRulesError([*problems, f"{source}: rules must be a list"])
    names: set[str] = set()
    for n, item in enumerate(raw, 1):
        where = f"{source}: rule {n}"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a mapping")
            continue
        name = item.get("name")
        where += f" ({name})" if name else ""
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: name is required")
        elif name in names:
            problems.append(f"{where}: name {name!r} is used twice")
        names.add(str(name))
        points = item.get("points")
        if not isinstance(points, int) or isinstance(points, bool):
            problems.append(f"{where}: points {points!r} is not a whole number")
        spec: dict[str, Any] = {"name": name, "points": points, "active": bool(item.get("active", True)),
                                "event": None, "field": None, "values": [], "min_value": None, "max_value": None,
                                "campaign_id": None}
        allowed = {"name", "points", "active"}
        if ("event" in item) == ("field" in item):
            problems.append(f"{where}: give exactly one of event ({', '.join(EVENTS)}) or field ({', '.join(FIELDS)})")
        elif "event" in item:
            allowed |= {"event", "campaign"}
            if item["event"] not in EVENTS:
                problems.append(f"{where}: event {item['event']!r} is not one of {', '.join(EVENTS)}")
            spec["event"] = item["event"]
            campaign = item.get("campaign")
            if campaign is not None and (not isinstance(campaign, int) or isinstance(campaign, bool)):
                problems.append(f"{where}: campaign {campaign!r} is not a UPM campaign id")
            spec["campaign_id"] = campaign
        else:
            field = item["field"]
            spec["field"] = field
            if field not in FIELDS:
                problems.append(f"{where}: field {field!r} is not one of {', '.join(FIELDS)}")
            elif field == "size":
                allowed |= {"field", "min", "max"}
                for key in ("min", "max"):
                    value = item.get(key)
                    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                        problems.append(f"{where}: {key} {value!r} is not a whole number")
                if item.get("min") is None and item.get("max") is None:
                    problems.append(f"{where}: size needs min, max or both")
                spec["min_value"], spec["max_value"] = item.get("min"), item.get("max")
            else:
                key = "contains" if field == "title" else "in"
                allowed |= {"field", key}
                values = item.get(key)
                if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                    problems.append(f"{where}: {field} needs '{key}': a list of text values")
                spec["values"] = values if isinstance(values, list) else []
        extra = set(item) - allowed
        if extra:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        specs.append(spec)
    if problems:
        raise ScoringRulesError(problems)
    return threshold, specs


def save_rules(session: Session, threshold: int | None, specs: Sequence[Mapping[str, Any]]) -> list[ScoringRule]:
    """Make the stored rules exactly `specs` (updated by name, others deleted) and set the threshold.
    Scores already earned stay; new events are scored by the new rules."""
    existing = {r.name: r for r in session.scalars(select(ScoringRule))}
    kept = []
    for spec in specs:
        rule = existing.pop(str(spec["name"]), None) or ScoringRule(name=spec["name"])
        for key, value in spec.items():
            setattr(rule, key, value)
        session.add(rule)
        kept.append(rule)
    if existing:
        session.execute(delete(ScoringRule).where(ScoringRule.id.in_([r.id for r in existing.values()])))
    setting = session.get(ScoringSetting, 1) or ScoringSetting(id=1)
    setting.high_score_threshold = threshold
    session.add(setting)
    session.flush()
    return kept


def history(session: Session, prospect_id: int) -> list[LeadScoreHistory]:
    """A lead's score changes, oldest first."""
    return list(session.scalars(select(LeadScoreHistory).where(LeadScoreHistory.prospect_id == prospect_id)
                                .order_by(LeadScoreHistory.id)))
