"""ZiftONE auto-registration: AND inside a group, OR between groups, on create and update of a
partner's own leads, never for ignored companies, per the partner's chosen mode."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from connector.leads import auto_registration
from connector.leads.errors import InvalidRule
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.distribution import LeadActivity
from connector.store.records import Prospect
from leads.conftest import START, Make

US_ENTERPRISE = [{"field": "country", "operator": "equals", "value": "US"},
                 {"field": "company_employees", "operator": "gte", "value": 1000}]
HEALTHCARE = [{"field": "industry", "operator": "in", "value": ["Healthcare", "Pharma"]}]


@pytest.fixture
def partner(service: LeadService, make: Make, db: Database) -> int:
    """A partner with its own two groups: US enterprise (AND) or healthcare."""
    partner = make.partner("Registrar", settings={"auto_registration": "own"}, ignored_companies=["Ignored Co"])
    with db.session() as s:
        auto_registration.add_group(s, partner_account_id=partner, name="US enterprise", conditions=US_ENTERPRISE)
        auto_registration.add_group(s, partner_account_id=partner, name="healthcare", conditions=HEALTHCARE, position=1)
    return partner


def _registered(make: Make, lead: int) -> bool:
    return make.prospect(lead).registered_at is not None


@pytest.mark.parametrize(("fields", "registered"), [
    ({"country": "US", "company_employees": 5000}, True),
    ({"country": "US", "company_employees": 50}, False),
    ({"country": "CA", "company_employees": 5000}, False),
    ({"country": "CA", "industry": "pharma"}, True),
    ({"country": "CA", "industry": "Retail"}, False),
], ids=["all-of-group-1", "one-of-group-1-fails", "other-of-group-1-fails", "group-2", "none"])
def test_and_inside_a_group_or_between_groups(partner: int, make: Make, fields: dict[str, Any],
                                              registered: bool) -> None:
    assert _registered(make, make.lead(partner_account_id=partner, **fields)) is registered


def test_registration_is_recorded_with_the_group_that_matched(partner: int, make: Make, db: Database) -> None:
    lead = make.lead(partner_account_id=partner, industry="Healthcare")
    assert make.prospect(lead).registered_at == START
    with db.session() as s:
        (activity,) = s.scalars(select(LeadActivity).where(LeadActivity.prospect_id == lead))
        assert (activity.kind, activity.subject) == ("registration", "auto-registered by rule group healthcare")


def test_an_update_that_makes_a_lead_match_registers_it(partner: int, make: Make) -> None:
    lead = make.lead(partner_account_id=partner, industry="Retail")
    assert not _registered(make, lead)
    make.update(Prospect, lead, industry="Healthcare")
    assert _registered(make, lead)


def test_ignored_companies_and_vendor_leads_are_never_registered(partner: int, make: Make, service: LeadService,
                                                                 db: Database) -> None:
    assert not _registered(make, make.lead(partner_account_id=partner, industry="Healthcare", company_name="ignored co"))
    vendor_lead = make.lead(industry="Healthcare")
    service.assign(vendor_lead, f"account:{partner}", reason="distributed by the vendor")
    assert not _registered(make, vendor_lead)
    make.named_account("Protected Co", partner)
    named_lead = make.lead(company_name="Protected Co", industry="Healthcare", status="New")
    assert service.distribute(named_lead).account_id == partner and not _registered(make, named_lead)


def test_modes_off_and_supplier_managed(service: LeadService, make: Make, db: Database) -> None:
    off = make.partner("Off", settings={})
    supplier = make.partner("Supplier Managed", settings={"auto_registration": "supplier"})
    with db.session() as s:
        auto_registration.add_group(s, partner_account_id=None, name="vendor: healthcare", conditions=HEALTHCARE)
        auto_registration.add_group(s, partner_account_id=off, name="off's own", conditions=HEALTHCARE)
    assert not _registered(make, make.lead(partner_account_id=off, industry="Healthcare"))
    assert _registered(make, make.lead(partner_account_id=supplier, industry="Healthcare"))


def test_leads_existing_before_the_rules_are_not_combed_through(make: Make, db: Database, service: LeadService) -> None:
    partner = make.partner("Late", settings={"auto_registration": "own"})
    old = make.lead(partner_account_id=partner, industry="Healthcare")
    with db.session() as s:
        auto_registration.add_group(s, partner_account_id=partner, name="healthcare", conditions=HEALTHCARE)
    assert not _registered(make, old)


@pytest.mark.parametrize(("conditions", "message"), [
    ([], "at least one condition"),
    ([{"field": "password", "value": "x"}], "field"),
    ([{"field": "country", "operator": "like", "value": "U%"}], "operator"),
])
def test_invalid_groups_are_refused(make: Make, db: Database, conditions: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InvalidRule, match=message), db.session() as s:
        auto_registration.add_group(s, partner_account_id=None, name="bad", conditions=conditions)


@pytest.mark.parametrize(("operator", "value", "lead", "holds"), [
    ("not_equals", "US", {"country": "CA"}, True),
    ("not_in", ["US", "CA"], {"country": "CA"}, False),
    ("contains", "fire", {"product_interest": "Firewall, Switches"}, True),
    ("lte", 10, {"lead_score": 11}, False),
    ("is_set", None, {"title": "CTO"}, True),
    ("not_set", None, {"title": "CTO"}, False),
])
def test_operators(make: Make, db: Database, service: LeadService, operator: str, value: Any,
                   lead: dict[str, Any], holds: bool) -> None:
    partner = make.partner("Ops", settings={"auto_registration": "own"})
    field = next(iter(lead))
    with db.session() as s:
        auto_registration.add_group(s, partner_account_id=partner, name="op",
                                    conditions=[{"field": field, "operator": operator, "value": value}])
    assert _registered(make, make.lead(partner_account_id=partner, **lead)) is holds
