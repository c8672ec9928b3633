"""Lead aging as pure functions of a lead, the rules and an injected time: age colours, which rule
applies, revoke and SLA deadlines, reminder timing."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from leads.conftest import Make

from connector.clock import ManualClock
from connector.leads import lifecycle
from connector.leads.aging import (
    GREEN,
    NO_ACTIVITY,
    NOT_ACCEPTED,
    RED,
    SEGMENT_SLA,
    YELLOW,
    AgingRules,
    age_colour,
    deadlines,
)
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.aging import LeadConfigurationRule, LeadRevokeRule
from connector.store.records import Prospect

from .support_delivery import aging_rule

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SLA = {"SMB": 7, "Mid-Market": 90, "Enterprise": 180}
ACME, GROUP = 1, 10


def rule(rule_id: int, name: str, green: int, yellow: int, *, revoke: tuple[LeadRevokeRule, ...] = (),
         **fields: Any) -> LeadConfigurationRule:
    values: dict[str, Any] = {"active": True, "group_id": None, "country": None, "valid_from": None, "valid_until": None}
    values.update(fields)
    return LeadConfigurationRule(id=rule_id, name=name, green_days=green, yellow_days=yellow,
                                 revoke_rules=list(revoke), **values)


def revoke(revoke_id: int, condition: str, operator: str = "greater_than", **threshold: int) -> LeadRevokeRule:
    return LeadRevokeRule(id=revoke_id, name=f"{condition} {threshold}", condition=condition, operator=operator,
                          active=True, days=threshold.get("days"), hours=threshold.get("hours"))


def held(**fields: Any) -> Prospect:
    values: dict[str, Any] = {"id": 7, "distribution_state": lifecycle.ASSIGNED, "assigned_at": START,
                              "accepted_at": None, "last_activity_at": None, "partner_account_id": ACME,
                              "assignment_rule_id": None, "country": "USA", "segment": "SMB",
                              "company_employees": None, "created_at": START - timedelta(days=30)}
    values.update(fields)
    return Prospect(**values)


def rules(*configured: LeadConfigurationRule) -> AgingRules:
    return AgingRules(configured, {ACME: frozenset({GROUP})}, {})


def test_age_colour_moves_from_green_to_yellow_to_red() -> None:
    lead, aging = held(), rules(rule(1, "standard", 2, 5))
    at = [START + timedelta(days=d) for d in (0, 1.99, 2, 4.99, 5, 40)]
    assert [age_colour(lead, aging, now) for now in at] == [GREEN, GREEN, YELLOW, YELLOW, RED, RED]


def test_age_counts_from_creation_while_nobody_holds_the_lead_and_stops_at_conversion() -> None:
    aging = rules(rule(1, "standard", 2, 5))
    assert age_colour(held(distribution_state=lifecycle.OPEN, assigned_at=None), aging, START) == RED
    assert age_colour(held(distribution_state=lifecycle.CONVERTED), aging, START) is None
    assert age_colour(held(), rules(), START) is None, "no rule: no colour"


def test_the_most_specific_valid_active_rule_applies() -> None:
    generic = rule(1, "generic", 1, 2)
    american = rule(2, "USA", 3, 6, country="USA")
    group_only = rule(3, "group", 4, 8, group_id=GROUP)
    exact = rule(4, "group in USA", 10, 20, group_id=GROUP, country="USA")
    expired = rule(5, "expired", 50, 60, group_id=GROUP, country="USA", valid_until=date(2026, 3, 1))
    future = rule(6, "future", 50, 60, group_id=GROUP, country="USA", valid_from=date(2026, 3, 3))
    inactive = rule(7, "off", 50, 60, group_id=GROUP, country="USA", active=False)
    everything = rules(generic, american, group_only, exact, expired, future, inactive)
    assert everything.rule_for(held(), START) is exact
    assert everything.rule_for(held(country="GBR"), START) is group_only
    assert everything.rule_for(held(partner_account_id=2), START) is american
    assert everything.rule_for(held(partner_account_id=2, country="DEU"), START) is generic
    assert [rules(future).rule_for(held(), START + timedelta(days=d)) for d in (0, 0.7)] == [None, future]
    assert [rules(expired).rule_for(held(), START - timedelta(days=d)) for d in (0, 1)] == [None, expired]
    by_rule = AgingRules([group_only], {}, {42: GROUP})
    assert by_rule.rule_for(held(partner_account_id=None, assignment_rule_id=42), START) is group_only


def test_deadlines_of_an_assigned_then_accepted_then_worked_lead() -> None:
    aging = rules(rule(1, "fast", 1, 2, revoke=(revoke(11, NOT_ACCEPTED, hours=24),
                                               revoke(12, NO_ACTIVITY, "greater_or_equal", days=2))))
    assigned = deadlines(held(), aging, SLA, START)
    assert [(d.kind, d.due) for d in assigned] == [(NOT_ACCEPTED, START + timedelta(hours=24)),
                                                   (NO_ACTIVITY, START + timedelta(days=2)),
                                                   (SEGMENT_SLA, START + timedelta(days=7))]
    accepted = held(distribution_state=lifecycle.ACCEPTED, accepted_at=START + timedelta(hours=3))
    assert [(d.kind, d.due) for d in deadlines(accepted, aging, SLA, START)] == [
        (NO_ACTIVITY, START + timedelta(days=2, hours=3)), (SEGMENT_SLA, START + timedelta(days=7))]
    worked = held(distribution_state=lifecycle.ACCEPTED, accepted_at=START + timedelta(hours=3),
                  last_activity_at=START + timedelta(days=1))
    assert deadlines(worked, aging, SLA, START)[0].due == START + timedelta(days=3)
    assert deadlines(held(distribution_state=lifecycle.OPEN), aging, SLA, START) == []


def test_segment_sla_follows_the_segment_or_the_company_size() -> None:
    assert [d.due for d in deadlines(held(segment="Enterprise"), rules(), SLA, START)] == [START + timedelta(days=180)]
    assert [d.due for d in deadlines(held(segment=None, company_employees=400), rules(), SLA, START)] == [
        START + timedelta(days=90)]
    assert deadlines(held(segment=None), rules(), SLA, START) == [], "unknown segment: no SLA"


def test_greater_than_and_greater_or_equal_differ_at_the_deadline() -> None:
    strict = deadlines(held(), rules(rule(1, "r", 1, 2, revoke=(revoke(1, NO_ACTIVITY, days=2),))), {}, START)[0]
    inclusive = deadlines(held(), rules(rule(1, "r", 1, 2, revoke=(
        revoke(1, NO_ACTIVITY, "greater_or_equal", days=2),))), {}, START)[0]
    due = START + timedelta(days=2)
    assert (strict.breached(due), strict.breached(due + timedelta(seconds=1))) == (False, True)
    assert (inclusive.breached(due - timedelta(seconds=1)), inclusive.breached(due)) == (False, True)


def test_reminder_comes_ahead_of_the_deadline_or_half_way_for_short_windows() -> None:
    aging = rules(rule(1, "r", 1, 2, revoke=(revoke(1, NOT_ACCEPTED, hours=12), revoke(2, NO_ACTIVITY, days=5))))
    short, long = deadlines(held(segment=None), aging, SLA, START)
    assert short.remind_at(timedelta(hours=24)) == START + timedelta(hours=6)
    assert long.remind_at(timedelta(hours=24)) == START + timedelta(days=4)


def test_rules_load_with_group_links_and_colour_a_distributed_lead(
    db: Database, make: Make, service: LeadService, clock: ManualClock,
) -> None:
    acme, beta = make.partner("Acme", countries=("USA",)), make.partner("Beta", countries=("USA",))
    group = make.group("US Resellers", [acme, beta])
    service.save_rules([{"name": "us", "countries": ["USA"], "target": "group:US Resellers"}])
    aging_rule(db, "US resellers", green_days=1, yellow_days=3, group_id=group, country="USA",
               revoke=[{"name": "idle", "condition": NO_ACTIVITY, "days": 2}])
    aging_rule(db, "disabled", green_days=9, yellow_days=9, group_id=group, country="USA", active=False)
    lead = service.distribute(make.lead(country="USA")).prospect_id
    with db.session() as s:
        aging = AgingRules.load(s)
    prospect = make.prospect(lead)
    assert [r.name for r in aging.rules] == ["US resellers"] and aging.groups_of(prospect) == {group}
    assert age_colour(prospect, aging, clock.advance(hours=30)) == YELLOW
    assert [d.name for d in deadlines(prospect, aging, SLA, clock.now())] == ["idle"]
