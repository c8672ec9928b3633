"""Lead aging: the age colour of every lead, the deadlines of a held lead, and the sweep that reminds
holders before a deadline and pulls leads back past it.

Which Lead Configuration Rule applies to a lead: an active one valid today whose country is the
lead's (or unset) and whose group is one the lead is held through - the group of the assignment
rule that placed it, or a group its holder is a member of (or unset). The most specific wins
(group and country, then group, then country, then neither), the lowest id among equals.

Age: from the current holder's assignment (`assigned_at`), or from the lead's creation while nobody
holds it; a converted lead has no colour. Green for its first `green_days` days, yellow until
`yellow_days`, red after.

Deadlines of a held lead (state assigned or accepted):
- each active revoke rule `not_accepted` of the applicable rule: `hours` after the assignment,
  while the lead is not accepted;
- each active revoke rule `no_activity`: `days` after the latest of the assignment, the acceptance
  and the last activity;
- the segment SLA (`leads.segment_sla_days`, by the lead's segment, or the one its company's size
  gives): the lead must be converted within that many days of its assignment.
Past a deadline the lead is pulled back through LeadService.pullback (which revokes, records,
tells the holder and redistributes without the previous holders; a lead that has been through
every eligible partner goes to manual review). Before it, the holder is reminded once per deadline:
at `reminder_before` ahead of it, or half-way through the window when that is shorter.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from connector.clock import Clock
from connector.config.settings import LeadSettings
from connector.leads import assign, directory, lifecycle, notify
from connector.leads.errors import InvalidTransition
from connector.leads.rules import segment_of
from connector.leads.service import LeadService
from connector.store.aging import LeadConfigurationRule, LeadRevokeRule
from connector.store.database import Database
from connector.store.distribution import AssignmentRule
from connector.store.notifications import Notification
from connector.store.partners import PartnerGroupMember
from connector.store.records import Prospect

GREEN, YELLOW, RED = "green", "yellow", "red"
NOT_ACCEPTED, NO_ACTIVITY, SEGMENT_SLA = "not_accepted", "no_activity", "segment_sla"
ACTOR = "aging-sweep"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class AgingRules:
    """The configuration rules (with their revoke rules) and the group links a lead's rule depends
    on, read once and used for many leads (the sweep, `leads show`, export)."""

    rules: Sequence[LeadConfigurationRule]
    groups_of_account: Mapping[int, frozenset[int]]
    group_of_rule: Mapping[int, int]

    @classmethod
    def load(cls, session: Session) -> AgingRules:
        rules = list(session.scalars(select(LeadConfigurationRule).where(LeadConfigurationRule.active.is_(True))
                                     .options(selectinload(LeadConfigurationRule.revoke_rules))
                                     .order_by(LeadConfigurationRule.id)))
        memberships: dict[int, set[int]] = {}
        for account_id, group_id in session.execute(select(PartnerGroupMember.account_id, PartnerGroupMember.group_id)):
            memberships.setdefault(account_id, set()).add(group_id)
        group_rules = {rule_id: group_id for rule_id, group_id in session.execute(
            select(AssignmentRule.id, AssignmentRule.target_id).where(AssignmentRule.target_type == "group"))}
        return cls(rules, {a: frozenset(g) for a, g in memberships.items()}, group_rules)

    def groups_of(self, prospect: Prospect) -> set[int]:
        """The groups the lead is held through."""
        groups = set(self.groups_of_account.get(prospect.partner_account_id, ())) if prospect.partner_account_id else set()
        if prospect.assignment_rule_id in self.group_of_rule:
            groups.add(self.group_of_rule[prospect.assignment_rule_id])
        return groups

    def rule_for(self, prospect: Prospect, now: datetime) -> LeadConfigurationRule | None:
        """The configuration rule that applies to the lead now (see the module docstring)."""
        today, groups = now.date(), self.groups_of(prospect)
        country = (prospect.country or "").strip().upper()
        best: tuple[int, LeadConfigurationRule] | None = None
        for rule in self.rules:
            if not rule.active or (rule.valid_from and today < rule.valid_from) or (
                    rule.valid_until and today > rule.valid_until):
                continue
            if (rule.country and rule.country.upper() != country) or (rule.group_id and rule.group_id not in groups):
                continue
            score = 2 * (rule.group_id is not None) + (rule.country is not None)
            if best is None or score > best[0]:
                best = (score, rule)
        return best[1] if best else None


def age_start(prospect: Prospect) -> datetime:
    """Where a lead's age counts from: its current assignment, else its creation."""
    return prospect.assigned_at or prospect.created_at


def age_colour(prospect: Prospect, rules: AgingRules, now: datetime) -> str | None:
    """green, yellow or red by the applicable configuration rule; None when no rule applies or the
    lead was converted."""
    if prospect.distribution_state == lifecycle.CONVERTED:
        return None
    rule = rules.rule_for(prospect, now)
    if rule is None:
        return None
    age = now - age_start(prospect)
    if age < rule.green_days * DAY:
        return GREEN
    return YELLOW if age < rule.yellow_days * DAY else RED


@dataclass(frozen=True)
class Deadline:
    """A moment by which the holder must have done something, or lose the lead."""

    kind: str  # not_accepted, no_activity, segment_sla
    name: str
    """The revoke rule's name, or "segment SLA SMB"."""
    starts: datetime
    due: datetime
    inclusive: bool
    """True (greater_or_equal): reaching `due` is a breach; False (greater_than): only passing it."""
    key: str
    """Names this deadline of this lead for the once-only reminder."""

    def breached(self, now: datetime) -> bool:
        return now >= self.due if self.inclusive else now > self.due

    def remind_at(self, reminder_before: timedelta) -> datetime:
        return self.due - min(reminder_before, (self.due - self.starts) / 2)

    def task(self) -> str:
        """What the holder must do, by when."""
        what = {NOT_ACCEPTED: "accept it", NO_ACTIVITY: "log an activity on it", SEGMENT_SLA: "convert it"}[self.kind]
        return f"{what} by {self.due:%Y-%m-%d %H:%M} UTC"

    def describe(self) -> str:
        return f"{self.name}: {self.task()}"


def _revoke_deadline(prospect: Prospect, revoke: LeadRevokeRule) -> Deadline | None:
    assigned = prospect.assigned_at
    assert assigned is not None
    if revoke.condition == NOT_ACCEPTED:
        if prospect.distribution_state != lifecycle.ASSIGNED or revoke.hours is None:
            return None
        starts, length = assigned, timedelta(hours=revoke.hours)
    else:
        if revoke.days is None:
            return None
        starts = max(t for t in (assigned, prospect.accepted_at, prospect.last_activity_at) if t is not None)
        length = revoke.days * DAY
    return Deadline(revoke.condition, revoke.name, starts, starts + length, revoke.operator == "greater_or_equal",
                    f"prospect-{prospect.id}-revoke-{revoke.id}-{(starts + length).isoformat()}")


def deadlines(prospect: Prospect, rules: AgingRules, segment_sla_days: Mapping[str, int],
              now: datetime) -> list[Deadline]:
    """The deadlines of a held lead, earliest first (none for a lead nobody holds)."""
    if prospect.distribution_state not in lifecycle.HELD or prospect.assigned_at is None:
        return []
    found: list[Deadline] = []
    rule = rules.rule_for(prospect, now)
    for revoke in (rule.revoke_rules if rule is not None else ()):
        deadline = _revoke_deadline(prospect, revoke) if revoke.active else None
        if deadline is not None:
            found.append(deadline)
    segment = segment_of(prospect)
    if segment in segment_sla_days:
        due = prospect.assigned_at + segment_sla_days[segment] * DAY
        found.append(Deadline(SEGMENT_SLA, f"segment SLA {segment} ({segment_sla_days[segment]} days)",
                              prospect.assigned_at, due, False, f"prospect-{prospect.id}-sla-{due.isoformat()}"))
    return sorted(found, key=lambda d: d.due)


@dataclass(frozen=True)
class SweepAction:
    """A reminder or a pullback the sweep made (or, on a dry run, would make)."""

    prospect_id: int
    lead: str
    action: str  # remind, pullback
    deadline: Deadline
    recipients: tuple[str, ...] = ()
    outcome: lifecycle.Outcome | None = None

    def line(self) -> str:
        lead = f"lead {self.prospect_id} {self.lead}"
        if self.action == "remind":
            return f"remind   {lead}: {self.deadline.describe()} -> {', '.join(self.recipients) or '(nobody to tell)'}"
        text = f"pullback {lead}: {self.deadline.name} passed {self.deadline.due:%Y-%m-%d %H:%M} UTC"
        if self.outcome is not None:
            holder = f" to partner {self.outcome.account_id}" if self.outcome.account_id else ""
            text += f" -> {self.outcome.state}{holder} ({self.outcome.reason})"
        return text


@dataclass
class SweepReport:
    """What one sweep did, or would do on a dry run."""

    dry_run: bool
    checked: int = 0
    reminders: list[SweepAction] = field(default_factory=list)
    pullbacks: list[SweepAction] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = "would" if self.dry_run else "did"
        summary = (f"{self.checked} held lead(s) checked; {head} send {len(self.reminders)} reminder(s) and "
                   f"pull back {len(self.pullbacks)} lead(s)")
        return [*(a.line() for a in self.reminders), *(a.line() for a in self.pullbacks), summary]


def reminder_recipients(session: Session, prospect: Prospect) -> list[str]:
    """Who is reminded: the holder's lead recipients, or every member of the group holding it."""
    found = directory.of(session)
    if prospect.partner_account_id is not None:
        return found.recipients(prospect.partner_account_id, prospect.assigned_user_id)
    groups = [g.assignee_id for g in assign.active_grants(session, prospect.id) if g.assignee_type == "group"]
    return [r for g in groups for m in found.members.get(g, ()) for r in found.recipients(m.account_id, m.user_id)]


def _already_reminded(session: Session, deadline: Deadline) -> bool:
    return session.scalar(select(Notification.id).where(
        Notification.dedupe_key.like(f"reminder:{deadline.key}:%")).limit(1)) is not None


def _held_ids(db: Database, batch: int) -> Iterator[list[int]]:
    last = 0
    while True:
        with db.session() as session:
            ids = list(session.scalars(select(Prospect.id).where(
                Prospect.id > last, Prospect.distribution_state.in_(lifecycle.HELD), Prospect.archived_at.is_(None))
                .order_by(Prospect.id).limit(batch)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def sweep(db: Database, settings: LeadSettings, clock: Clock, dry_run: bool = False, *,
          reminder_before: timedelta = timedelta(hours=24), batch: int = 500,
          should_stop: Callable[[], bool] = lambda: False) -> SweepReport:
    """Remind holders of deadlines coming up and pull back leads past one (see the module docstring).
    Each reminder is queued, and each pullback made, in its own transaction; a dry run writes nothing.
    Leads sent to manual review are announced to `settings.review_recipients`."""
    report = SweepReport(dry_run)
    service = LeadService(db, settings, clock, review_recipients=settings.review_recipients)
    with db.session() as session:
        rules = AgingRules.load(session)
    for ids in _held_ids(db, batch):
        if should_stop():
            break
        for prospect_id in ids:
            report.checked += 1
            _sweep_lead(db, service, rules, settings, prospect_id, clock.now(), reminder_before, report)
    return report


def _sweep_lead(db: Database, service: LeadService, rules: AgingRules, settings: LeadSettings, prospect_id: int,
                now: datetime, reminder_before: timedelta, report: SweepReport) -> None:
    with db.session() as session:
        prospect = session.get(Prospect, prospect_id)
        if prospect is None:
            return
        due = deadlines(prospect, rules, settings.segment_sla_days, now)
        label = assign.lead_label(prospect)
        breached = next((d for d in due if d.breached(now)), None)
        if breached is None:
            _remind(session, prospect, label, due, now, reminder_before, report)
            return
    if report.dry_run:
        report.pullbacks.append(SweepAction(prospect_id, label, "pullback", breached))
        return
    try:
        outcome = service.pullback(prospect_id, f"{breached.name}: deadline {breached.due:%Y-%m-%d %H:%M} UTC passed",
                                   actor=ACTOR)
    except InvalidTransition:
        return  # given back, or taken, meanwhile
    report.pullbacks.append(SweepAction(prospect_id, label, "pullback", breached, outcome=outcome))


def _remind(session: Session, prospect: Prospect, label: str, due: Collection[Deadline], now: datetime,
            reminder_before: timedelta, report: SweepReport) -> None:
    for deadline in due:
        if now < deadline.remind_at(reminder_before) or _already_reminded(session, deadline):
            continue
        to = tuple(reminder_recipients(session, prospect))
        if not report.dry_run:
            notify.queue(session, kind="reminder", recipients=to, event_key=deadline.key, now=now,
                         subject=f"Reminder: {label} - {deadline.task()}",
                         body=(f"The lead {label} is yours under {deadline.name}: {deadline.task()}, or it will be "
                               "withdrawn and given to another partner."),
                         record_module=assign.MODULE, record_id=prospect.id)
        report.reminders.append(SweepAction(prospect.id, label, "remind", deadline, to))
