"""The basic flow on HubSpot through the shipped profiles: a partner's opportunity goes to HubSpot
as a deal linked to its contact and company, with its note attached; a registered deal follows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from connector.store.bindings import Binding
from connector.store.failures import FailedRecord
from connector.store.records import Account, Contact, Note, Opportunity, RegisteredDeal

from .conftest import HubSpotSetup


@pytest.mark.parametrize("hubspot_profile", ["basic.yaml", "advanced.yaml"])
def test_opportunity_goes_as_deal_with_contact_company_and_note(hs: HubSpotSetup) -> None:
    with hs.db.session() as s:
        account = Account(name="Globex Corp", billing_country="USA")
        contact = Contact(first_name="Ana", last_name="Lima", email="ana@globex.example")
        s.add_all([account, contact])
        s.flush()
        opportunity = Opportunity(name="Globex expansion", account_id=account.id, contact_id=contact.id,
                                  expected_close_date=date(2027, 3, 31), offer_id="OF-1")
        s.add(opportunity)
        s.flush()
        s.add(Note(record_module="opportunity", record_id=opportunity.id, title="Call", body="Wants 50 seats"))
    counts = hs.cycle()
    assert counts.failed == 0 and counts.pushed == 4, counts
    (deal,) = hs.crm("deals")
    (company,) = hs.crm("companies")
    (person,) = hs.crm("contacts")
    (note,) = hs.crm("notes")
    assert (deal["dealname"], company["name"], person["email"], person["firstname"]) == (
        "Globex expansion", "Globex Corp", "ana@globex.example", "Ana")
    assert note["hs_note_body"] == "Wants 50 seats" and note["hs_timestamp"]
    engine = hs.engine()
    try:
        links = engine.adapter.read_associations
        assert links("deals", [deal["id"]], "contacts") == {deal["id"]: [person["id"]]}
        assert links("deals", [deal["id"]], "companies") == {deal["id"]: [company["id"]]}
        assert links("notes", [note["id"]], "deals") == {note["id"]: [deal["id"]]}
    finally:
        engine.adapter.close()
    # A registered deal (the won opportunity) reaches HubSpot as a deal, linked to its company.
    with hs.db.session() as s:
        s.add(RegisteredDeal(opportunity_id=opportunity.id, name="Globex expansion (registered)", account_id=account.id,
                             amount=Decimal("5000")))
    counts = hs.cycle()
    assert counts.failed == 0 and counts.pushed == 1, counts
    (registered,) = [d for d in hs.crm("deals") if str(d.get("upm_id", "")).startswith("upm-deal-")]
    assert (registered["dealname"], registered["dealstage"], float(registered["amount"]), registered["offer_id"]) == (
        "Globex expansion (registered)", "closedwon", 5000.0, "OF-1")
    engine = hs.engine()
    try:
        linked = engine.adapter.read_associations("deals", [registered["id"]], "companies")
        assert linked == {registered["id"]: [company["id"]]}
    finally:
        engine.adapter.close()
    assert hs.cycle().pushed == 0, "the pair settles: nothing is sent again"


@pytest.mark.parametrize("hubspot_profile", ["basic.yaml"])
def test_a_refused_link_fails_the_note_and_leaves_it_unbound(hs: HubSpotSetup) -> None:
    with hs.db.session() as s:
        account = Account(name="Initech")
        s.add(account)
        s.flush()
        opportunity = Opportunity(name="Initech renewal", account_id=account.id)
        s.add(opportunity)
    assert hs.cycle().pushed == 2
    (deal,) = hs.crm("deals")
    hs.emulator.admin_archive(0, "deals", deal["id"])  # gone from HubSpot: a link to it is refused
    with hs.db.session() as s:
        note = Note(record_module="opportunity", record_id=opportunity.id, body="Call back")
        s.add(note)
    counts = hs.cycle()
    assert counts.failed == 1 and counts.pushed == 0, counts
    with hs.db.session() as s:
        failure = s.scalars(select(FailedRecord)).one()
        assert (failure.module, failure.record_id) == ("note", note.id)
        assert f"link to deals {deal['id']}" in (failure.error_message or "")
        assert s.scalar(select(func.count()).select_from(Binding).where(Binding.module == "note")) == 0
