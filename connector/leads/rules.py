"""Lead assignment rules: defining them (from the CLI or a plain list of dicts in the config) and
deciding which one fires for a lead, with the reasons.

A rule holds conditions on the lead (country, state, lead source, industry, segment or
employee/revenue bands, product interest, campaign) and on the partner (tier, competency, product
certification, territory). A list condition holds when the lead's (or partner's) value is one of
the listed, case-insensitively; an empty list or null bound is "any". Rules are tried by
`priority` (lower first, then id); inactive rules are skipped. The first rule whose lead conditions
hold *and* whose target still has a partner meeting its partner conditions wins. No winner: the
configured fallback (open pool or manual review) - a lead is never dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.leads import directory
from connector.leads import targets as partner_targets
from connector.leads.directory import Directory, Member, Partner, Rule
from connector.leads.eligibility import (
    Check,
    active_check,
    fold,
    folded,
    history_check,
    products_of,
    territory_check,
    users_check,
)
from connector.leads.errors import InvalidRule
from connector.store.assignments import ACCESS_TYPES
from connector.store.distribution import MODELS, RULE_FALLBACKS, AssignmentRule
from connector.store.partners import PartnerGroup
from connector.store.records import Prospect

SEGMENT_BANDS = ((100, "SMB"), (1000, "Mid-Market"))
"""A lead without a segment gets one from its company's employees: < 100 SMB, < 1000 Mid-Market,
else Enterprise."""
ENTERPRISE = "Enterprise"

LIST_FIELDS = ("countries", "states", "lead_sources", "industries", "segments", "product_interests",
               "partner_tiers", "partner_competencies", "partner_certifications")
BOUND_FIELDS = ("min_employees", "max_employees", "min_revenue", "max_revenue")
SPEC_FIELDS = frozenset((*LIST_FIELDS, *BOUND_FIELDS, "name", "priority", "active", "campaign_ids",
                         "partner_territory", "access_type", "target", "model", "fallback"))


def segment_of(prospect: Prospect) -> str | None:
    """The lead's segment: as given, else from its company's employee count; None when unknown."""
    if prospect.segment:
        return prospect.segment
    if prospect.company_employees is None:
        return None
    for limit, name in SEGMENT_BANDS:
        if prospect.company_employees < limit:
            return name
    return ENTERPRISE


@functools.lru_cache(maxsize=8192)
def _one_of(name: str, value: str | None, options: tuple[str, ...]) -> Check:
    """Whether the value is one of the options. Remembered (a Check is immutable): leads repeat the
    same countries, sources, industries and segments against the same rules."""
    if value and fold(value) in folded(options):
        return Check(name, True, f"{name} {value} is one of {', '.join(options)}")
    return Check(name, False, f"{name} {value or '(none)'} is not one of {', '.join(options)}")


def _within(name: str, value: Decimal | int | None, low: Decimal | int | None, high: Decimal | int | None) -> Check:
    band = f"{low if low is not None else '-'}..{high if high is not None else '-'}"
    ok = value is not None and (low is None or value >= low) and (high is None or value <= high)
    return Check(name, ok, f"{name} {value if value is not None else '(none)'} {'in' if ok else 'not in'} {band}")


def lead_checks(rule: Rule, prospect: Prospect) -> list[Check]:
    """The rule's conditions on the lead, only those it sets."""
    checks = []
    for name, value, options in (("country", prospect.country, rule.countries), ("state", prospect.state, rule.states),
                                 ("lead_source", prospect.lead_source, rule.lead_sources),
                                 ("industry", prospect.industry, rule.industries),
                                 ("segment", segment_of(prospect), rule.segments)):
        if options:
            checks.append(_one_of(name, value, options))
    if rule.min_employees is not None or rule.max_employees is not None:
        checks.append(_within("employees", prospect.company_employees, rule.min_employees, rule.max_employees))
    if rule.min_revenue is not None or rule.max_revenue is not None:
        checks.append(_within("revenue", prospect.company_annual_revenue, rule.min_revenue, rule.max_revenue))
    if rule.product_interests:
        shared = sorted(products_of(prospect) & folded(rule.product_interests))
        checks.append(Check("product_interest", bool(shared),
                            f"interested in {', '.join(shared)}" if shared
                            else f"product interest {prospect.product_interest or '(none)'} is not one of "
                                 f"{', '.join(rule.product_interests)}"))
    if rule.campaign_ids:
        inside = prospect.campaign_id in rule.campaign_ids
        checks.append(Check("campaign", inside, f"campaign {prospect.campaign_id} {'in' if inside else 'not in'} "
                                                f"{', '.join(map(str, rule.campaign_ids))}"))
    return checks


def partner_checks(rule: Rule, account: Partner, prospect: Prospect) -> list[Check]:
    """The rule's conditions on one partner, only those it sets."""
    checks = []
    if rule.partner_tiers:
        checks.append(_one_of("tier", account.tier, rule.partner_tiers))
    for name, held, wanted in (("competency", account.competencies, rule.partner_competencies),
                               ("certification", account.certifications, rule.partner_certifications)):
        if wanted:
            shared = sorted(folded(held) & folded(wanted))
            checks.append(Check(name, bool(shared), f"has {name} {', '.join(shared)}" if shared
                                else f"has no {name} among {', '.join(wanted)}"))
    if rule.partner_territory:
        checks.append(territory_check(account, prospect))
    return checks


@dataclass(frozen=True)
class RuleVerdict:
    """How one rule fares on one lead: its lead checks, the partners it could give the lead to (in
    target order; for a group, with their memberships) and why the others cannot take it."""

    rule: Rule
    lead: tuple[Check, ...]
    candidates: tuple[Partner, ...] = ()
    members: tuple[Member, ...] = ()
    partners_out: Mapping[str, tuple[Check, ...]] = field(default_factory=dict)
    target_problem: str | None = None

    @property
    def candidate_ids(self) -> tuple[int, ...]:
        return tuple(a.id for a in self.candidates)

    @property
    def lead_matches(self) -> bool:
        return all(check.ok for check in self.lead)

    @property
    def fires(self) -> bool:
        return self.rule.active and self.lead_matches and bool(self.candidates)


@dataclass(frozen=True)
class RuleDecision:
    """The rules tried for a lead, in order, and the one that fires (None: the fallback applies)."""

    verdicts: tuple[RuleVerdict, ...]

    @property
    def chosen(self) -> RuleVerdict | None:
        return next((v for v in self.verdicts if v.fires), None)

    @property
    def exhausted(self) -> bool:
        """A rule matched the lead and has partners that could take it but for having held it already:
        the lead has been through every partner eligible for it."""
        return any(v.rule.active and v.lead_matches and not v.candidates
                   and any(all(c.name == "not_previous_holder" for c in checks) for checks in v.partners_out.values())
                   for v in self.verdicts)


Target = tuple[Partner, Member | None]


def targets(found: Directory, rule: Rule) -> tuple[list[Target], str | None]:
    """The partner accounts a rule may give leads to, in order (with their group membership for a
    group target), or why it has none."""
    if rule.target_type == "account":
        account = found.partners.get(rule.target_id)
        return ([(account, None)], None) if account else ([], f"partner account {rule.target_id} does not exist")
    if rule.target_type == "user":
        user = found.users.get(rule.target_id)
        if user is None:
            return [], f"partner user {rule.target_id} does not exist"
        if not user.usable:
            return [], f"partner user {user.email} is not an approved active user"
        return [(found.partners[user.account_id], None)], None
    members = found.members.get(rule.target_id, ())
    if not members:
        return [], f"partner group {rule.target_id} has no members"
    return [(found.partners[m.account_id], m) for m in members], None


def _fits(rule: Rule, account: Partner, prospect: Prospect, excluded: Collection[int]) -> bool:
    """Whether every partner check `evaluate` makes holds: the same tests as active_check, users_check,
    history_check and partner_checks, without their sentences (only a partner that is out needs them)."""
    if not account.active or not account.approved_users or account.id in excluded:
        return False
    if rule.partner_tiers and not (account.tier and fold(account.tier) in folded(rule.partner_tiers)):
        return False
    for held, wanted in ((account.competencies, rule.partner_competencies),
                         (account.certifications, rule.partner_certifications)):
        if wanted and not folded(held) & folded(wanted):
            return False
    return not rule.partner_territory or territory_check(account, prospect).ok


def evaluate(found: Directory, rule: Rule, prospect: Prospect, excluded: Collection[int]) -> RuleVerdict:
    """One rule on one lead: lead checks first; partners only when those hold."""
    lead = tuple(lead_checks(rule, prospect))
    if not rule.active or not all(c.ok for c in lead):
        return RuleVerdict(rule, lead)
    accounts, problem = targets(found, rule)
    candidates: list[Partner] = []
    members: list[Member] = []
    out: dict[str, tuple[Check, ...]] = {}
    for account, member in accounts:
        if not _fits(rule, account, prospect, excluded):
            checks = [active_check(account), users_check(len(account.approved_users)),
                      history_check(account, excluded), *partner_checks(rule, account, prospect)]
            out[account.name] = tuple(c for c in checks if not c.ok)
            continue
        candidates.append(account)
        if member is not None:
            members.append(member)
    return RuleVerdict(rule, lead, tuple(candidates), tuple(members), out, problem)


def ordered_rules(session: Session) -> list[AssignmentRule]:
    return list(session.scalars(select(AssignmentRule).order_by(AssignmentRule.priority, AssignmentRule.id)))


def decide(session: Session, prospect: Prospect, excluded: Collection[int] = (), *,
           explain: bool = False) -> RuleDecision:
    """Try the rules in order. Stops at the first that fires unless `explain` (then every rule is
    reported, the winner still being the first that fires)."""
    found = directory.of(session)
    verdicts = []
    for rule in found.rules:
        verdict = evaluate(found, rule, prospect, excluded)
        verdicts.append(verdict)
        if verdict.fires and not explain:
            break
    return RuleDecision(tuple(verdicts))


def describe(verdict: RuleVerdict) -> list[str]:
    """Sentences saying why a rule fires or not (for `leads rules test` and the API)."""
    rule = verdict.rule
    head = f"#{rule.priority} {rule.name} -> {rule.target_type} {rule.target_id} ({rule.model})"
    if not rule.active:
        return [f"{head}: inactive, skipped"]
    lines = [f"{head}: {'FIRES' if verdict.fires else 'no'}"]
    lines += [f"  {'ok ' if c.ok else 'NO '} {c.detail}" for c in verdict.lead] or ["  ok  no lead conditions"]
    if verdict.lead_matches:
        if verdict.target_problem:
            lines.append(f"  NO  {verdict.target_problem}")
        lines.append(f"  partners that can take it: {len(verdict.candidates)}")
        lines += [f"  out: {name}: {'; '.join(c.detail for c in checks)}"
                  for name, checks in verdict.partners_out.items()]
    return lines


def _as_list(key: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise InvalidRule(f"{key}: expected a list, got {value!r}")


def upsert_rules(session: Session, specs: Iterable[Mapping[str, Any]]) -> list[AssignmentRule]:
    """Create or update rules (matched by name) from plain dicts, as the config or the CLI gives them:

        {"name": "US security", "priority": 10, "countries": ["US"], "segments": ["SMB"],
         "partner_tiers": ["Gold"], "access_type": "Read-Write", "target": "group:US resellers",
         "model": "round_robin", "fallback": "manual_review"}

    Keys are the rule's columns plus `target`. A group target without `model` takes the group's
    distribution model; user and account targets are `direct`. Raises InvalidRule naming the problem."""
    saved = []
    for spec in specs:
        unknown = sorted(set(spec) - SPEC_FIELDS)
        if unknown:
            raise InvalidRule(f"rule {spec.get('name')!r}: unknown key(s) {', '.join(unknown)}")
        name = str(spec.get("name") or "").strip()
        if not name:
            raise InvalidRule("a rule needs a name")
        rule = session.scalars(select(AssignmentRule).where(AssignmentRule.name == name)).first()
        if rule is None:
            if "target" not in spec:
                raise InvalidRule(f"rule {name!r}: a new rule needs a target")
            rule = AssignmentRule(name=name)
        with session.no_autoflush:
            _apply(session, rule, spec)
        session.add(rule)
        saved.append(rule)
    session.flush()
    return saved


def _apply(session: Session, rule: AssignmentRule, spec: Mapping[str, Any]) -> None:
    for key in LIST_FIELDS:
        if key in spec:
            setattr(rule, key, [str(v) for v in _as_list(key, spec[key])])
    if "campaign_ids" in spec:
        rule.campaign_ids = [int(v) for v in _as_list("campaign_ids", spec["campaign_ids"])]
    for key in BOUND_FIELDS:
        if key in spec:
            value = spec[key]
            setattr(rule, key, None if value is None else
                    (Decimal(str(value)) if key.endswith("revenue") else int(value)))
    for key in ("priority", "active", "partner_territory"):
        if key in spec:
            setattr(rule, key, int(spec[key]) if key == "priority" else bool(spec[key]))
    if "access_type" in spec:
        if spec["access_type"] is not None and spec["access_type"] not in ACCESS_TYPES:
            raise InvalidRule(f"rule {rule.name!r}: access_type must be one of {', '.join(ACCESS_TYPES)}")
        rule.access_type = spec["access_type"]
    if "fallback" in spec:
        if spec["fallback"] is not None and spec["fallback"] not in RULE_FALLBACKS:
            raise InvalidRule(f"rule {rule.name!r}: fallback must be one of {', '.join(RULE_FALLBACKS)}")
        rule.fallback = spec["fallback"]
    group = None
    if "target" in spec:
        target = partner_targets.resolve(session, str(spec["target"]))
        rule.target_type, rule.target_id = target.kind, target.id
    if rule.target_type == "group":
        group = session.get(PartnerGroup, rule.target_id)
    model = spec.get("model") or (group.distribution_model if group is not None and "target" in spec else None)
    if model is not None:
        rule.model = model
    elif rule.target_type != "group":
        rule.model = "direct"
    if rule.model not in MODELS:
        raise InvalidRule(f"rule {rule.name!r}: model must be one of {', '.join(MODELS)}")
    if rule.target_type != "group" and rule.model != "direct":
        raise InvalidRule(f"rule {rule.name!r}: {rule.model} needs a group target")
    if rule.fallback == "round_robin" and rule.model != "shark_tank":
        raise InvalidRule(f"rule {rule.name!r}: the round_robin fallback is for shark-tank rules")
