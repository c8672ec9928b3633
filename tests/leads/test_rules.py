"""Assignment rules: first match by priority, every condition kind, partner conditions, access type,
targets, fallbacks, explanations and rule definitions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.config.settings import LeadSettings
from connector.leads import lifecycle
from connector.leads.errors import InvalidRule, InvalidTransition
from connector.leads.rules import describe
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.records import Campaign
from leads.conftest import CAM, Make


def test_first_active_rule_by_priority_wins_and_inactive_is_skipped(service: LeadService, make: Make) -> None:
    first, second, third = make.partner("First"), make.partner("Second"), make.partner("Third")
    service.save_rules([
        {"name": "late", "priority": 30, "target": f"account:{third}"},
        {"name": "inactive", "priority": 5, "active": False, "target": f"account:{first}"},
        {"name": "early", "priority": 10, "countries": ["US"], "target": "account:Second"},
    ])
    outcome = service.distribute(make.lead(country="US"))
    assert (outcome.rule, outcome.account_id, outcome.state) == ("early", second, lifecycle.ASSIGNED)
    outcome = service.distribute(make.lead(country="FR"))
    assert (outcome.rule, outcome.account_id) == ("late", third)


CONDITIONS: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("country", {"countries": ["us", "CA"]}, {"country": "CA"}, {"country": "DE"}),
    ("state", {"states": ["TX"]}, {"state": "tx"}, {"state": "CA"}),
    ("lead source", {"lead_sources": ["Contact Us"]}, {"lead_source": "Contact Us"}, {"lead_source": "Cold Call"}),
    ("industry", {"industries": ["Healthcare"]}, {"industry": "healthcare"}, {"industry": None}),
    ("segment given", {"segments": ["Enterprise"]}, {"segment": "Enterprise"}, {"segment": "SMB"}),
    ("segment from employees", {"segments": ["Mid-Market"]}, {"company_employees": 250}, {"company_employees": 20}),
    ("employee band", {"min_employees": 50, "max_employees": 500}, {"company_employees": 500},
     {"company_employees": 501}),
    ("revenue band", {"min_revenue": "1000000"}, {"company_annual_revenue": Decimal("2500000")},
     {"company_annual_revenue": Decimal("999999.99")}),
    ("product interest", {"product_interests": ["Firewall"]}, {"product_interest": "Switches, firewall"},
     {"product_interest": "Switches"}),
]


@pytest.mark.parametrize(("kind", "condition", "matching", "other"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_each_lead_condition_matches_and_refuses(service: LeadService, make: Make, kind: str, condition: dict[str, Any],
                                                 matching: dict[str, Any], other: dict[str, Any]) -> None:
    picked = make.partner("Picked", countries=["US", "CA", "DE"])
    service.save_rules([{"name": kind, "target": f"account:{picked}", **condition}])
    assert service.distribute(make.lead(**matching)).rule == kind
    missed = service.distribute(make.lead(**other))
    assert (missed.rule, missed.state) == (None, lifecycle.OPEN)


def test_campaign_condition(service: LeadService, make: Make, db: Database) -> None:
    with db.session() as s:
        spring, autumn = Campaign(name="Spring"), Campaign(name="Autumn")
        s.add_all([spring, autumn])
        s.flush()
        spring_id, autumn_id = spring.id, autumn.id
    picked = make.partner("Picked")
    service.save_rules([{"name": "spring leads", "campaign_ids": [spring_id], "target": f"account:{picked}"}])
    assert service.distribute(make.lead(campaign_id=spring_id)).account_id == picked
    assert service.distribute(make.lead(campaign_id=autumn_id)).account_id is None


@pytest.mark.parametrize(("condition", "fits", "misfits"), [
    ({"partner_tiers": ["Gold"]}, {"tier": "gold"}, {"tier": "Silver"}),
    ({"partner_competencies": ["Security"]}, {"competencies": ["Cloud", "Security"]}, {"competencies": ["Cloud"]}),
    ({"partner_certifications": ["Firewall Pro"]}, {"certifications": ["Firewall Pro"]}, {"certifications": []}),
    ({"partner_territory": True}, {"countries": ["US"], "states": ["TX"]}, {"countries": ["US"], "states": ["CA"]}),
], ids=["tier", "competency", "certification", "territory"])
def test_partner_conditions_choose_among_the_group(service: LeadService, make: Make, condition: dict[str, Any],
                                                   fits: dict[str, Any], misfits: dict[str, Any]) -> None:
    misfit = make.partner("Misfit", **{"countries": ["US"], **misfits})
    fit = make.partner("Fit", **{"countries": ["US"], **fits})
    make.group("Resellers", [misfit, fit])
    service.save_rules([{"name": "qualified", "target": "group:Resellers", **condition}])
    for _ in range(3):
        assert service.distribute(make.lead(state="TX")).account_id == fit


def test_a_rule_whose_partners_all_fail_falls_through_to_the_next(service: LeadService, make: Make) -> None:
    silver = make.partner("Silver Co", tier="Silver")
    service.save_rules([
        {"name": "gold only", "priority": 1, "partner_tiers": ["Gold"], "target": f"account:{silver}"},
        {"name": "anyone", "priority": 2, "target": f"account:{silver}"},
    ])
    assert service.distribute(make.lead()).rule == "anyone"


def test_access_type_comes_from_the_rule_else_the_settings(db: Database, make: Make, clock: Any) -> None:
    partner = make.partner("Partner")
    service = LeadService(db, LeadSettings(default_access_type="Read-Only"), clock)
    service.save_rules([{"name": "ro", "priority": 1, "countries": ["US"], "target": f"account:{partner}"},
                        {"name": "rw", "priority": 2, "access_type": "Read-Write", "target": f"account:{partner}"}])
    us, fr = make.lead(country="US"), make.lead(country="FR")
    service.distribute(us)
    service.distribute(fr)
    assert make.grants(us) == {("account", partner, "Read-Only")}
    assert make.grants(fr) == {("account", partner, "Read-Write")}


def test_user_target_assigns_the_rep_and_their_account(service: LeadService, make: Make) -> None:
    partner = make.partner("Partner", users=0)
    rep = make.user(partner, "ann@partner.example")
    service.save_rules([{"name": "to ann", "target": "user:ANN@partner.example"}])
    lead = make.lead()
    outcome = service.distribute(lead)
    assert (outcome.account_id, outcome.user_id) == (partner, rep)
    assert make.grants(lead) == {("account", partner, "Read-Write"), ("user", rep, "Read-Write")}
    assert ("assignment", "ann@partner.example") in make.emails()


def test_group_target_with_direct_model_assigns_the_group(service: LeadService, make: Make) -> None:
    a, b = make.partner("A"), make.partner("B")
    group = make.group("Pair", [a, b])
    service.save_rules([{"name": "whole group", "target": "group:Pair", "model": "direct"}])
    lead = make.lead()
    outcome = service.distribute(lead)
    assert (outcome.state, outcome.account_id, outcome.group_id) == (lifecycle.ASSIGNED, None, group)
    assert make.grants(lead) == {("group", group, "Read-Write")}
    assert {r for _, r in make.emails("assignment")} == {"rep0@a.example", "rep0@b.example"}


def test_no_match_goes_to_the_open_pool_by_default(service: LeadService, make: Make) -> None:
    lead = make.lead()
    outcome = service.distribute(lead)
    assert (outcome.state, outcome.status, outcome.reason) == (lifecycle.OPEN, "Open", "no rule matched")
    assert make.emails() == []
    with pytest.raises(InvalidTransition):
        service.distribute(make.lead(distribution_state=lifecycle.ASSIGNED))


def test_no_match_goes_to_manual_review_when_configured(db: Database, make: Make, clock: Any) -> None:
    service = LeadService(db, LeadSettings(fallback="manual_review"), clock, review_recipients=[CAM])
    lead = make.lead()
    outcome = service.distribute(lead)
    assert (outcome.state, outcome.status) == (lifecycle.MANUAL_REVIEW, "Manual Review")
    assert make.emails() == [("manual_review", CAM)]
    partner = make.partner("Late Partner")
    service.save_rules([{"name": "now there is one", "target": f"account:{partner}"}])
    assert service.distribute(lead).account_id == partner, "a reviewed lead can be distributed again"


def test_explain_rules_says_which_fires_and_why(service: LeadService, make: Make) -> None:
    gold = make.partner("Goldie", tier="Gold")
    make.partner("Plain")
    service.save_rules([
        {"name": "france", "priority": 1, "countries": ["FR"], "target": f"account:{gold}"},
        {"name": "off", "priority": 2, "active": False, "target": f"account:{gold}"},
        {"name": "platinum", "priority": 3, "partner_tiers": ["Platinum"], "target": f"account:{gold}"},
        {"name": "gold", "priority": 4, "partner_tiers": ["Gold"], "target": f"account:{gold}"},
    ])
    decision = service.explain_rules(make.lead(country="US"))
    assert decision.chosen is not None and decision.chosen.rule.name == "gold"
    text = "\n".join(line for verdict in decision.verdicts for line in describe(verdict))
    assert "country US is not one of FR" in text
    assert "#2 off" in text and "inactive, skipped" in text
    assert "out: Goldie: tier Gold is not one of Platinum" in text
    assert "#4 gold -> account" in text and "FIRES" in text


@pytest.mark.parametrize(("spec", "message"), [
    ({"name": "x", "target": "group:nope"}, "no such group"),
    ({"name": "x", "target": "planet:Mars"}, "expected user:EMAIL"),
    ({"name": "x", "target": "account:1", "model": "round_robin"}, "needs a group target"),
    ({"name": "x", "target": "account:1", "colour": "red"}, "unknown key"),
    ({"name": "x", "target": "account:1", "access_type": "Full"}, "access_type"),
    ({"name": "x"}, "needs a target"),
    ({"target": "account:1"}, "needs a name"),
])
def test_invalid_rules_are_refused(service: LeadService, make: Make, spec: dict[str, Any], message: str) -> None:
    make.partner("One")
    with pytest.raises(InvalidRule, match=message):
        service.save_rules([spec])
    assert service.rules() == []


def test_rules_from_config_are_upserted_by_name(service: LeadService, make: Make) -> None:
    make.group("Tank", [make.partner("A")], model="shark_tank")
    config = [{"name": "tank", "priority": 5, "countries": "US", "target": "group:Tank"}]
    (rule,) = service.save_rules(config)
    assert (rule.model, rule.countries) == ("shark_tank", ["US"]), "a group target takes the group's model"
    service.save_rules([{"name": "tank", "priority": 1, "active": False}])
    (rule,) = service.rules()
    assert (rule.priority, rule.active, rule.model, rule.countries) == (1, False, "shark_tank", ["US"])
