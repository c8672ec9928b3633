"""basic and complete modes against the HubSpot emulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.store.assignments import LeadStatusHistory, RecordAssignment
from connector.store.partners import PartnerAccount, PartnerUser
from connector.store.records import Account, Contact, Prospect

from .conftest import HubSpotSetup


@pytest.mark.parametrize("hubspot_profile", ["basic.yaml"])
def test_basic_pushes_once_then_the_crm_overwrites(hs: HubSpotSetup) -> None:
    with hs.db.session() as s:
        contact = Contact(email="b@p.example", first_name="Basil", last_name="Basic")
        s.add(contact)
    assert hs.cycle().pushed == 1
    (crm,) = [c for c in hs.crm("contacts") if c.get("upm_id") == f"upm-contact-{contact.id}"]
    # A UPM edit after creation is not pushed: the CRM is master.
    with hs.db.session() as s:
        s.get(Contact, contact.id).title = "Local title"  # type: ignore[union-attr]
    writes = hs.writes()
    hs.cycle()
    assert hs.writes() == writes
    # A CRM edit overwrites UPM, the local edit included.
    hs.emulator.admin_upsert(0, "contacts", {"firstname": "Basilio", "jobtitle": "CRM title"}, id=crm["id"])
    hs.cycle()
    with hs.db.session() as s:
        local = s.get(Contact, contact.id)
        assert local is not None and (local.first_name, local.title) == ("Basilio", "CRM title")
    assert hs.writes() == writes


@pytest.mark.parametrize("hubspot_profile", ["complete.yaml"])
def test_complete_distributes_leads_as_named_or_open(hs: HubSpotSetup) -> None:
    with hs.db.session() as s:
        partner = PartnerAccount(name="Acme Resellers")
        rep = PartnerUser(email="rep@acme.example", account=partner)
        s.add_all([partner, rep])
        s.flush()
        s.add(Account(name="Globex", named=True, partner_account_id=partner.id, named_rep_id=rep.id))
    hs.emulator.admin_upsert(0, "contacts", {"email": "n@globex.example", "lastname": "Named", "company": "GLOBEX"})
    hs.emulator.admin_upsert(0, "contacts", {"email": "o@initech.example", "lastname": "Open", "company": "Initech", "country": "United States"})
    counts = hs.cycle()
    assert counts.created == 2
    with hs.db.session() as s:
        named = s.scalars(select(Prospect).where(Prospect.last_name == "Named")).one()
        open_ = s.scalars(select(Prospect).where(Prospect.last_name == "Open")).one()
        assert (named.status, named.partner_account_id) == ("Assigned", partner.id)
        assignments = {(a.assignee_type, a.assignee_id) for a in s.scalars(select(RecordAssignment).where(RecordAssignment.record_id == named.id))}
        assert assignments == {("account", partner.id), ("user", rep.id)}
        assert (open_.status, open_.partner_account_id, open_.country) == ("Open", None, "USA")
        assert s.scalars(select(LeadStatusHistory.status).where(LeadStatusHistory.prospect_id == open_.id)).all() == ["Open"]
    # complete mode is CRM -> UPM only: a local edit is never pushed.
    with hs.db.session() as s:
        s.scalars(select(Prospect).where(Prospect.last_name == "Open")).one().title = "Edited in UPM"
    writes = hs.writes()
    hs.cycle()
    assert hs.writes() == writes
