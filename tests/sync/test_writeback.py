"""Write-back: the vendor CRM's lead learns what became of it in UPM (status, partner, rep, dates),
through the outbox, after one cycle."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.runtime import Runtime
from connector.store.outbox import OutboxEntry
from connector.store.partners import PartnerUser
from support.partners import ensure_partner
from connector.store.records import Opportunity, Prospect
from .conftest import SalesforceSetup


def lead(sf: SalesforceSetup, crm_id: str) -> dict:  # type: ignore[type-arg]
    (found,) = [r for r in sf.emulator.records("Lead") if r["Id"] == crm_id]
    return found


@pytest.mark.parametrize("salesforce_profile", ["complete.yaml"])
def test_the_vendor_lead_shows_each_step_of_its_fate(sf: SalesforceSetup) -> None:
    with sf.db.session() as s:
        ensure_partner(s, "Acme Resellers", [{"email": "rep@acme.example"}])
    crm_id = sf.emulator.admin_upsert("Lead", {"LastName": "Chen", "Company": "Initech", "Email": "bo@initech.example",
                                               "Country": "United States", "State": "TX"})
    assert sf.cycle().failed == 0
    assert lead(sf, crm_id)["PRM_Status__c"] == "Unassigned"  # into the open pool at intake
    leads = Runtime(sf.settings, db=sf.db).leads
    with sf.db.session() as s:
        prospect_id = s.scalars(select(Prospect.id)).one()
    rep = leads.user_id("rep@acme.example")

    leads.assign(prospect_id, "user:rep@acme.example", reason="Texas")
    sf.cycle()
    pending = lead(sf, crm_id)
    assert (pending["PRM_Status__c"], pending["PRM_Partner_Account__c"], pending["PRM_Partner_Rep__c"]) == (
        "Pending", "Acme Resellers", "rep@acme.example")
    assert pending["PRM_Assigned_Date__c"] and not pending.get("PRM_Accepted_Date__c")

    leads.accept(prospect_id, rep)
    counts = sf.cycle()
    assert counts.failed == 0 and counts.pushed == 1, counts
    accepted = lead(sf, crm_id)
    assert (accepted["PRM_Status__c"], accepted["PRM_Partner_Account__c"]) == ("Accepted", "Acme Resellers")
    assert accepted["PRM_Accepted_Date__c"] and accepted["PRM_Status_Date__c"] >= accepted["PRM_Assigned_Date__c"]
    assert (accepted["LastName"], accepted["Company"]) == ("Chen", "Initech")  # the lead's own fields untouched

    # Settled: nothing changed, nothing is written (the Lead read back is our own write).
    counts = sf.cycle()
    assert (counts.pushed, counts.updated, counts.created) == (0, 0, 0), counts

    leads.pullback(prospect_id, "no activity")
    sf.cycle()
    pulled = lead(sf, crm_id)
    assert (pulled["PRM_Status__c"], pulled.get("PRM_Partner_Account__c"), pulled.get("PRM_Partner_Rep__c")) == (
        "Pulled back", None, None)
    with sf.db.session() as s:
        assert s.scalars(select(OutboxEntry.status).where(OutboxEntry.status == "failed")).all() == []


@pytest.mark.parametrize("salesforce_profile", ["partner.yaml"])
def test_a_partners_salesforce_gets_its_leads_owned_by_its_rep(sf: SalesforceSetup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The shipped Salesforce partner profile: the partner's lead as a Lead owned by the User with
    its rep's email; another partner's lead and an unassigned one never go; a rep's Opportunity
    comes back attributed to the partner."""
    config = sf.config_path.read_text().replace("adapter: salesforce\n",
                                                "adapter: salesforce\n    role: partner\n    partner_account: Acme Resellers\n")
    sf.config_path.write_text(config)
    from connector.config import load_settings
    sf.settings = load_settings(sf.config_path)
    rep_user = sf.emulator.admin_upsert("User", {"Username": "rep@acme.example.org", "LastName": "Rep", "Alias": "rrep",
                                                 "Email": "rep@acme.example"})
    with sf.db.session() as s:
        acme = ensure_partner(s, "Acme Resellers", [{"email": "rep@acme.example"}])
        beta = ensure_partner(s, "Beta Resellers", [{"email": "rep@beta.example"}])
        s.flush()
        rep = s.scalars(select(PartnerUser.id).where(PartnerUser.email == "rep@acme.example")).one()
        s.add_all([Prospect(last_name="Mine", company_name="Initech", partner_account_id=acme.id, assigned_user_id=rep,
                            distribution_state="accepted"),
                   Prospect(last_name="Theirs", partner_account_id=beta.id, distribution_state="accepted"),
                   Prospect(last_name="Nobody's", distribution_state="open")])
        acme_id = acme.id
    assert sf.cycle().failed == 0
    leads = sf.emulator.records("Lead")
    assert [(r["LastName"], r["Company"], r["OwnerId"]) for r in leads] == [("Mine", "Initech", rep_user)]
    # converted there: the org's lead field mapping copies the Lead's UPM_Id__c onto the Opportunity
    sf.emulator.admin_upsert("Opportunity", {"Name": "Initech seats", "StageName": "Qualification", "CloseDate": "2027-01-31",
                                             "UPM_Lead_Id__c": leads[0]["UPM_Id__c"]})
    sf.emulator.admin_upsert("Opportunity", {"Name": "Own deal", "StageName": "Prospecting", "CloseDate": "2027-02-28"})
    assert sf.cycle().failed == 0
    with sf.db.session() as s:
        mine = s.scalars(select(Prospect.id).where(Prospect.last_name == "Mine")).one()
        found = {o.name: (o.sales_stage, o.partner_account_id, o.prospect_id) for o in s.scalars(select(Opportunity))}
        assert found == {"Initech seats": (2, acme_id, mine), "Own deal": (1, acme_id, None)}
