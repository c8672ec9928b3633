"""LeadService: the lead distribution actions the CLI, the scheduler and the HTTP API call.

Every action is one transaction: it locks the lead, decides, writes the lead, its grants, its
histories and the emails it queues, and commits them together (or nothing). Partner actions take
the acting user's id and are checked against what that user holds or sees.

Distribution order: a protected (named) account's owner first, whatever the rules say; then the
first rule that fires (round robin, shark tank or direct); else the fallback (open pool or manual
review). Redistribution after a rejection or pullback passes every previous holder by; a lead that
has been through every partner eligible for it goes to manual review.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.config.settings import LeadSettings
from connector.leads import (
    assign,
    directory,
    inbox,
    lifecycle,
    named_accounts,
    round_robin,
    rules,
    shark_tank,
    targets,
)
from connector.leads.eligibility import PartnerVerdict, partner_list
from connector.leads.errors import InvalidTransition, NotAllowed, NotFound
from connector.leads.lifecycle import Outcome
from connector.leads.locks import lock
from connector.leads.visibility import visible_prospects
from connector.store.assignments import AssignmentHistory, LeadStatusHistory, RecordAssignment
from connector.store.database import Database
from connector.store.distribution import AssignmentRule, LeadActivity
from connector.store.partners import PartnerGroup, PartnerUser
from connector.store.records import Prospect

RULES_ACTOR = "lead-rules"


@dataclass(frozen=True)
class LeadDetails:
    """One lead as `leads show` and the API present it."""

    prospect: Prospect
    grants: list[RecordAssignment]
    status_history: list[LeadStatusHistory]
    assignment_history: list[AssignmentHistory]
    activities: list[LeadActivity]


class LeadService:
    """The facade over connector.leads. `review_recipients`: who hears of leads sent to manual review
    and of rejections (the channel account managers); default `settings.review_recipients`."""

    def __init__(self, db: Database, settings: LeadSettings, clock: Clock, *,
                 review_recipients: Sequence[str] | None = None):
        self.db = db
        self.settings = settings
        self.clock = clock
        self.review_recipients = list(settings.review_recipients if review_recipients is None else review_recipients)

    # -- distribution -----------------------------------------------------------------------------

    def distribute(self, prospect_id: int, exclude_accounts: Collection[int] = (), *,
                   actor: str = RULES_ACTOR) -> Outcome:
        """Place a new, open-pool or manual-review lead: named account, rules, or the fallback.
        InvalidTransition when the lead is already placed (another process got there first)."""
        with self.db.session() as session:
            prospect = lock(session, Prospect, prospect_id)
            if prospect.distribution_state not in lifecycle.DISTRIBUTABLE:
                raise InvalidTransition(f"lead {prospect_id} is already {prospect.distribution_state}")
            return self.place(session, prospect, exclude_accounts, actor)

    def distribute_new(self, limit: int = 100) -> list[Outcome]:
        """Distribute up to `limit` of the vendor's leads never distributed yet, oldest first, one
        transaction each. A partner's own leads (a partner holds them from the start) are left alone."""
        with self.db.session() as session:
            ids = list(session.scalars(select(Prospect.id).where(
                Prospect.distribution_state == lifecycle.NEW, Prospect.archived_at.is_(None),
                Prospect.partner_account_id.is_(None)).order_by(Prospect.id).limit(limit)))
        outcomes = []
        for prospect_id in ids:
            try:
                outcomes.append(self.distribute(prospect_id))
            except InvalidTransition:
                continue  # placed meanwhile by another process
        return outcomes

    def place(self, session: Session, prospect: Prospect, exclude: Collection[int] = (),
              actor: str = RULES_ACTOR) -> Outcome:
        """Distribute a lead inside the caller's transaction (complete-mode sync calls this for a lead it
        has just written; everyone else calls `distribute`, which locks the lead first)."""
        now = self.clock.now()
        excluded = set(exclude) | set(prospect.previous_holder_ids or ())
        protected = named_accounts.protection(session, prospect)
        if protected is not None:
            owner = protected.partner
            if owner.id in excluded or not owner.active:
                return self._hold(session, prospect, lifecycle.MANUAL_REVIEW, actor,
                                  f"named account {protected.account_name}: its owner {owner.name} cannot take it")
            reason = f"named account {protected.account_name}"
            assign.give(session, prospect, account_id=owner.id, user_id=protected.rep_id,
                        access_type=self.settings.default_access_type, actor=actor, reason=reason, now=now)
            return Outcome.of(prospect, reason)
        if prospect.partner_account_id is not None:  # a partner holds it undistributed (its own lead): taken back
            assign.release(session, prospect, action="revoked", actor=actor, reason="taken back for distribution",
                           now=now, remember=False)
        decision = rules.decide(session, prospect, excluded)
        chosen = decision.chosen
        if chosen is None:
            if decision.exhausted:
                return self._hold(session, prospect, lifecycle.MANUAL_REVIEW, actor,
                                  "every partner eligible for it has already had it")
            return self._hold(session, prospect, self._fallback_state(self.settings.fallback), actor, "no rule matched")
        rule = chosen.rule
        access = rule.access_type or self.settings.default_access_type
        reason = f"rule {rule.name}"
        if rule.model == "shark_tank":
            window = timedelta(seconds=self.settings.shark_tank_window)
            shark_tank.publish(session, prospect, chosen.candidate_ids, window=window, actor=actor, reason=reason,
                               now=now, rule_id=rule.id)
            return Outcome.of(prospect, reason, group_id=rule.target_id, rule=rule.name)
        if rule.model == "round_robin":
            member = round_robin.next_member(session, rule.target_id, chosen.members, now)
            assert member is not None  # the rule fired: it has candidates
            assign.give(session, prospect, account_id=member.account_id,
                        user_id=directory.of(session).usable_user(member.user_id),
                        access_type=access, actor=actor, reason=f"{reason} (round robin)", now=now, rule_id=rule.id)
            return Outcome.of(prospect, reason, group_id=rule.target_id, rule=rule.name)
        if rule.target_type == "group":
            group = session.get(PartnerGroup, rule.target_id)
            assert group is not None
            assign.give_to_group(session, prospect, group, access_type=access, actor=actor, reason=reason, now=now,
                                 rule_id=rule.id)
            return Outcome.of(prospect, reason, group_id=group.id, rule=rule.name)
        user = session.get(PartnerUser, rule.target_id) if rule.target_type == "user" else None
        assign.give(session, prospect, account_id=chosen.candidates[0].id, user_id=user.id if user else None,
                    access_type=access, actor=actor, reason=reason, now=now, rule_id=rule.id)
        return Outcome.of(prospect, reason, rule=rule.name)

    def assign(self, prospect_id: int, target: str, *, reason: str, access_type: str | None = None,
               actor: str = "cam", notify: bool = True) -> Outcome:
        """Direct assignment by a person ("Manually Assign Named Partner"): `target` is user:EMAIL,
        account:NAME or group:NAME (or :ID); see connector.leads.targets. Replaces any current holder or
        pool; a reason is required. `notify` False: the partner is not emailed."""
        if not reason.strip():
            raise NotAllowed("a direct assignment needs a reason")
        access = access_type or self.settings.default_access_type
        now = self.clock.now()
        with self.db.session() as session:
            session.info[assign.QUIET] = not notify
            prospect = lock(session, Prospect, prospect_id)
            if prospect.distribution_state == lifecycle.CONVERTED:
                raise InvalidTransition(f"lead {prospect_id} was converted")
            found = targets.resolve(session, target)
            group = session.get(PartnerGroup, found.id) if found.kind == "group" else None
            account_id = found.account_id
            assign.release(session, prospect, action="revoked", actor=actor, reason=f"reassigned: {reason}", now=now,
                           remember=prospect.partner_account_id != account_id)
            if group is not None:
                assign.give_to_group(session, prospect, group, access_type=access, actor=actor, reason=reason, now=now)
                return Outcome.of(prospect, reason, group_id=group.id)
            assert account_id is not None
            assign.give(session, prospect, account_id=account_id, user_id=found.id if found.kind == "user" else None,
                        access_type=access, actor=actor, reason=reason, now=now)
            return Outcome.of(prospect, reason)

    def assign_round_robin(self, prospect_id: int, group: str, *, reason: str, actor: str = "cam",
                           notify: bool = True) -> Outcome:
        """A person hands the lead to a group by round robin: the group's next member in rotation
        that may take this lead (its partner list verdict) gets it, and the cursor moves as the
        rules' round robin moves it. NotAllowed when no member may take it."""
        if not reason.strip():
            raise NotAllowed("an assignment by a person needs a reason")
        now = self.clock.now()
        with self.db.session() as session:
            session.info[assign.QUIET] = not notify
            prospect, found, eligible = self._group_placement(session, prospect_id, group)
            members = [m for m in directory.of(session).members.get(found.id, ()) if m.account_id in eligible]
            member = round_robin.next_member(session, found.id, members, now)
            if member is None:
                raise NotAllowed(f"no member of the group {found.name} may take this lead")
            assign.release(session, prospect, action="revoked", actor=actor, reason=f"reassigned: {reason}", now=now,
                           remember=prospect.partner_account_id not in (None, member.account_id))
            assign.give(session, prospect, account_id=member.account_id,
                        user_id=directory.of(session).usable_user(member.user_id),
                        access_type=self.settings.default_access_type, actor=actor,
                        reason=f"{reason} (round robin in {found.name})", now=now)
            return Outcome.of(prospect, f"{reason} (round robin in {found.name})", group_id=found.id)

    def send_to_shark_tank(self, prospect_id: int, group: str, *, reason: str, actor: str = "cam",
                           notify: bool = True) -> Outcome:
        """A person offers the lead to a group's members that may take it: the first to claim it
        within `shark_tank_window` wins. NotAllowed when no member may take it."""
        if not reason.strip():
            raise NotAllowed("an assignment by a person needs a reason")
        now = self.clock.now()
        with self.db.session() as session:
            session.info[assign.QUIET] = not notify
            prospect, found, eligible = self._group_placement(session, prospect_id, group)
            offered = sorted({m.account_id for m in directory.of(session).members.get(found.id, ())} & eligible)
            if not offered:
                raise NotAllowed(f"no member of the group {found.name} may take this lead")
            assign.release(session, prospect, action="revoked", actor=actor, reason=f"reassigned: {reason}", now=now,
                           remember=prospect.partner_account_id is not None)
            shark_tank.publish(session, prospect, offered, window=timedelta(seconds=self.settings.shark_tank_window),
                               actor=actor, reason=f"{reason} (group {found.name})", now=now, rule_id=None)
            return Outcome.of(prospect, f"{reason} (shark tank in {found.name})", group_id=found.id)

    def _group_placement(self, session: Session, prospect_id: int, group: str) -> tuple[Prospect, PartnerGroup, set[int]]:
        """The locked lead, the group `group` names (NAME or group:NAME), and the accounts the
        partner list finds eligible for the lead."""
        prospect = lock(session, Prospect, prospect_id)
        if prospect.distribution_state == lifecycle.CONVERTED:
            raise InvalidTransition(f"lead {prospect_id} was converted")
        target = targets.resolve(session, group if group.lower().startswith("group:") else f"group:{group}")
        found = session.get(PartnerGroup, target.id)
        if found is None:
            raise NotFound(f"no partner group {group}")
        eligible = {v.account_id for v in partner_list(session, prospect) if v.eligible}
        return prospect, found, eligible

    def pullback(self, prospect_id: int, reason: str, *, actor: str = "pullback") -> Outcome:
        """Take a lead back from its holder (no follow-up in time, or a person decided): revoke, record,
        tell the holder, and redistribute to someone else."""
        now = self.clock.now()
        with self.db.session() as session:
            prospect = lock(session, Prospect, prospect_id)
            if prospect.distribution_state not in lifecycle.HELD:
                raise InvalidTransition(f"lead {prospect_id} is {prospect.distribution_state}: nobody holds it")
            to = directory.of(session).recipients(prospect.partner_account_id, prospect.assigned_user_id)
            entry = lifecycle.change_status(session, prospect, lifecycle.STATUS_OPEN, actor=actor, now=now,
                                            reason=f"pulled back: {reason}")
            assign.release(session, prospect, action="pulled_back", actor=actor, reason=reason, now=now)
            assign.tell(session, prospect, "pullback", to, f"Lead withdrawn: {assign.lead_label(prospect)}",
                        f"The lead {assign.lead_label(prospect)} was withdrawn from you: {reason}.", entry, now)
            return self.place(session, prospect, actor=actor)

    def expire_pools(self) -> list[Outcome]:
        """Shark-tank leads nobody claimed in time fall back per their rule (round robin among the pool,
        open pool or manual review; the configured fallback when the rule names none)."""
        now = self.clock.now()
        with self.db.session() as session:
            due = shark_tank.due(session, now)
        outcomes = []
        for prospect_id in due:
            with self.db.session() as session:
                prospect = lock(session, Prospect, prospect_id)
                if prospect.distribution_state != lifecycle.POOL or (prospect.pool_until or now) > now:
                    continue  # claimed meanwhile
                outcomes.append(self._expire(session, prospect))
        return outcomes

    # -- partner actions ----------------------------------------------------------------------------

    def claim(self, prospect_id: int, user_id: int) -> Outcome:
        """Claim a shark-tank lead for the user's partner: the first claim wins, later ones get
        AlreadyClaimed."""
        now = self.clock.now()
        with self.db.session() as session:
            user = inbox.acting_user(session, user_id)
            prospect = shark_tank.take(session, prospect_id, user.account_id, user.id, now)
            shark_tank.award(session, prospect, access_type=self._access(session, prospect.assignment_rule_id),
                             actor=user.email, now=now)
            return Outcome.of(prospect, f"claimed by {user.email}")

    def accept(self, prospect_id: int, user_id: int) -> Outcome:
        """The holder (or, for a group assignment, a member) takes the lead."""
        now = self.clock.now()
        with self.db.session() as session:
            user = inbox.acting_user(session, user_id)
            prospect = lock(session, Prospect, prospect_id)
            inbox.accept(session, prospect, user, now)
            return Outcome.of(prospect, f"accepted by {user.email}")

    def reject(self, prospect_id: int, user_id: int, reason: str) -> Outcome:
        """The holder gives the lead back with a reason; it is redistributed without that partner."""
        now = self.clock.now()
        with self.db.session() as session:
            user = inbox.acting_user(session, user_id)
            prospect = lock(session, Prospect, prospect_id)
            entry = inbox.reject(session, prospect, user, reason, now)
            assign.tell(session, prospect, "rejection", self.review_recipients,
                        f"Lead rejected: {assign.lead_label(prospect)}",
                        f"{user.email} ({user.account.name}) rejected {assign.lead_label(prospect)}: {reason}",
                        entry, now)
            return self.place(session, prospect, actor=user.email)

    def log_activity(self, prospect_id: int, user_id: int, kind: str, subject: str | None = None,
                     body: str | None = None) -> int:
        """A call, email, meeting or note by the user; returns the activity id."""
        with self.db.session() as session:
            user = inbox.acting_user(session, user_id)
            prospect = lock(session, Prospect, prospect_id)
            activity = inbox.log_activity(session, prospect, user, kind, subject, body, self.clock.now())
            session.flush()
            return activity.id

    def change_status(self, prospect_id: int, user_id: int, status: str, reason: str | None = None) -> Outcome:
        """The holder's working status on an accepted lead (the reviewers are told)."""
        now = self.clock.now()
        with self.db.session() as session:
            user = inbox.acting_user(session, user_id)
            prospect = lock(session, Prospect, prospect_id)
            entry = inbox.set_status(session, prospect, user, status, reason, now)
            assign.tell(session, prospect, "status_change", self.review_recipients,
                        f"Lead {status}: {assign.lead_label(prospect)}",
                        f"{user.email} set {assign.lead_label(prospect)} to {status}{f': {reason}' if reason else '.'}",
                        entry, now)
            return Outcome.of(prospect, f"{status} by {user.email}")

    def convert(self, prospect_id: int, user_id: int, *, account_id: int | None = None,
                new_account: bool = False) -> int:
        """Convert the prospect to a contact (at an existing account, or a new one from its company);
        returns the contact id."""
        with self.db.session() as session:
            user = inbox.acting_user(session, user_id)
            prospect = lock(session, Prospect, prospect_id)
            contact = inbox.convert(session, prospect, user, account_id=account_id, new_account=new_account,
                                    now=self.clock.now())
            return contact.id

    # -- reading ------------------------------------------------------------------------------------

    def partner_list(self, prospect_id: int) -> list[PartnerVerdict]:
        """Every partner for this lead, ranked, with why each is in or out ("Generate Partner List")."""
        with self.db.session() as session:
            return partner_list(session, load(session, prospect_id))

    def visible_prospects(self, user_id: int) -> list[Prospect]:
        """The prospects this partner user sees (visibility.py decides)."""
        with self.db.session() as session:
            return list(session.scalars(visible_prospects(session, user_id)))

    def prospects(self, state: str | None = None, limit: int = 100) -> list[Prospect]:
        """The vendor's view: prospects by distribution state, newest first."""
        with self.db.session() as session:
            query = select(Prospect).where(Prospect.archived_at.is_(None)).order_by(Prospect.id.desc()).limit(limit)
            return list(session.scalars(query if state is None else query.where(Prospect.distribution_state == state)))

    def details(self, prospect_id: int) -> LeadDetails:
        """A lead with its grants and histories (status, assignment, activity), oldest first."""
        with self.db.session() as session:
            prospect = load(session, prospect_id)
            ordered = (AssignmentHistory.at, AssignmentHistory.id)
            return LeadDetails(
                prospect,
                assign.active_grants(session, prospect_id),
                list(session.scalars(select(LeadStatusHistory).where(LeadStatusHistory.prospect_id == prospect_id)
                                     .order_by(LeadStatusHistory.at, LeadStatusHistory.id))),
                list(session.scalars(select(AssignmentHistory).where(AssignmentHistory.record_module == assign.MODULE,
                                                                     AssignmentHistory.record_id == prospect_id)
                                     .order_by(*ordered))),
                list(session.scalars(select(LeadActivity).where(LeadActivity.prospect_id == prospect_id)
                                     .order_by(LeadActivity.at, LeadActivity.id))),
            )

    def user_id(self, email: str) -> int:
        """The partner user with this email (case-insensitive)."""
        with self.db.session() as session:
            return inbox.user_by_email(session, email).id

    def explain_rules(self, prospect_id: int) -> rules.RuleDecision:
        """Every rule on this lead, in order, with the one that would fire and why."""
        with self.db.session() as session:
            prospect = load(session, prospect_id)
            return rules.decide(session, prospect, set(prospect.previous_holder_ids), explain=True)

    def save_rules(self, specs: Iterable[Mapping[str, Any]]) -> list[AssignmentRule]:
        """Create or update assignment rules by name (see rules.upsert_rules for the keys)."""
        with self.db.session() as session:
            return rules.upsert_rules(session, specs)

    def rules(self) -> list[AssignmentRule]:
        """The assignment rules in the order they are tried."""
        with self.db.session() as session:
            return rules.ordered_rules(session)

    # -- internals ----------------------------------------------------------------------------------

    def _access(self, session: Session, rule_id: int | None) -> str:
        rule = session.get(AssignmentRule, rule_id) if rule_id is not None else None
        return (rule.access_type if rule is not None else None) or self.settings.default_access_type

    def _expire(self, session: Session, prospect: Prospect) -> Outcome:
        now = self.clock.now()
        rule = session.get(AssignmentRule, prospect.assignment_rule_id) if prospect.assignment_rule_id else None
        fallback = (rule.fallback if rule is not None else None) or self.settings.fallback
        pool = shark_tank.offered_to(session, prospect.id)
        reason = f"shark-tank window closed unclaimed; fallback {fallback}"
        assign.release(session, prospect, action="expired", actor=RULES_ACTOR, reason=reason, now=now)
        if fallback == "round_robin" and rule is not None:
            found = directory.of(session)
            in_pool = [m for m in found.members.get(rule.target_id, ()) if m.account_id in pool]
            member = round_robin.next_member(session, rule.target_id, in_pool, now)
            if member is not None:
                assign.give(session, prospect, account_id=member.account_id,
                            user_id=found.usable_user(member.user_id), access_type=self._access(session, rule.id),
                            actor=RULES_ACTOR, reason=reason, now=now, rule_id=rule.id)
                return Outcome.of(prospect, reason, group_id=rule.target_id, rule=rule.name)
            fallback = "manual_review"
        return self._hold(session, prospect, self._fallback_state(fallback), RULES_ACTOR, reason)

    @staticmethod
    def _fallback_state(fallback: str) -> str:
        return lifecycle.OPEN if fallback == "open_pool" else lifecycle.MANUAL_REVIEW

    def _hold(self, session: Session, prospect: Prospect, state: str, actor: str, reason: str) -> Outcome:
        """Nobody gets the lead: the open pool, or manual review (the reviewers are told)."""
        now = self.clock.now()
        prospect.partner_account_id, prospect.assigned_user_id = None, None
        prospect.assigned_at, prospect.accepted_at, prospect.pool_until = None, None, None
        prospect.distribution_state = state
        status = lifecycle.STATUS_OPEN if state == lifecycle.OPEN else lifecycle.STATUS_MANUAL_REVIEW
        entry = lifecycle.change_status(session, prospect, status, actor=actor, reason=reason, now=now)
        if state == lifecycle.MANUAL_REVIEW:
            assign.tell(session, prospect, "manual_review", self.review_recipients,
                        f"Lead needs a decision: {assign.lead_label(prospect)}",
                        f"The lead {assign.lead_label(prospect)} needs a manual assignment: {reason}.", entry, now)
        return Outcome.of(prospect, reason)


def load(session: Session, prospect_id: int) -> Prospect:
    """A prospect read without locking (for answers that change nothing)."""
    prospect = session.get(Prospect, prospect_id)
    if prospect is None:
        raise NotFound(f"prospect {prospect_id} does not exist")
    return prospect
