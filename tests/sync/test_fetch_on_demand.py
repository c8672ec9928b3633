"""A lead opened from the CRM before any cycle read it: fetched by its id in one API call and
created as a prospect (and, in complete mode, distributed like any new lead); known leads cost no
call; an id the CRM does not have is NotFound."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connector.leads.errors import NotFound
from connector.runtime import Runtime
from connector.services.crm_leads import CrmLeads
from connector.store.bindings import Binding
from connector.store.cursors import SyncCursor
from connector.store.records import Prospect

from .conftest import HubSpotSetup, SalesforceSetup


def sf_calls(sf: SalesforceSetup) -> int:
    return int(sf.emulator.stats()["api_calls"]["total"])


def hs_calls(hs: HubSpotSetup) -> int:
    return int(hs.emulator.stats()["portals"][0]["api_calls"]["total"])


@pytest.mark.parametrize("salesforce_profile", ["complete.yaml"])
def test_an_unsynced_salesforce_lead_is_fetched_in_one_call_and_created(sf: SalesforceSetup) -> None:
    crm_id = sf.emulator.admin_upsert("Lead", {"LastName": "Lima", "FirstName": "Ana", "Company": "Globex",
                                                "Email": "ana@globex.example", "Country": "United States"})
    leads = CrmLeads(Runtime(sf.settings, db=sf.db))
    try:
        leads.runtime.tokens("sf").current()  # authorized beforehand, as a running daemon is
        before = sf_calls(sf)
        prospect_id = leads.prospect_id("sf", crm_id)
        assert sf_calls(sf) - before == 1
        with sf.db.session() as s:
            prospect = s.get(Prospect, prospect_id)
            assert prospect is not None
            assert (prospect.first_name, prospect.last_name, prospect.company_name, prospect.country) == (
                "Ana", "Lima", "Globex", "USA")
            assert prospect.distribution_state != "new", "complete mode distributes it like a synced lead"
            assert s.scalar(select(func.count()).select_from(SyncCursor).where(SyncCursor.changes_at.is_not(None))) == 0
        assert leads.prospect_id("sf", crm_id) == prospect_id and sf_calls(sf) - before == 1, "known: no call"
        with pytest.raises(NotFound, match="no lead 00Q000000000000AAA"):
            leads.prospect_id("sf", "00Q000000000000AAA")
        with pytest.raises(NotFound, match="no CRM connection"):
            leads.prospect_id("nope", crm_id)
    finally:
        leads.close()
    counts = sf.run()
    assert counts.failed == 0
    with sf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Prospect)) == 1, "the next cycle finds it bound"
        assert s.scalar(select(func.count()).select_from(Binding).where(Binding.crm_id == crm_id)) == 1


@pytest.mark.parametrize("hubspot_profile", ["complete.yaml"])
def test_an_unsynced_hubspot_contact_is_fetched_in_one_call_and_created(hs: HubSpotSetup) -> None:
    crm_id = hs.emulator.admin_upsert(0, "contacts", {"firstname": "Kai", "lastname": "Ito", "email": "kai@ito.example",
                                                      "company": "Ito KK"})
    leads = CrmLeads(Runtime(hs.settings, db=hs.db))
    try:
        leads.runtime.tokens("hs").current()
        before = hs_calls(hs)
        prospect_id = leads.prospect_id("hs", crm_id)
        assert hs_calls(hs) - before == 1
        with hs.db.session() as s:
            prospect = s.get(Prospect, prospect_id)
            assert prospect is not None and (prospect.last_name, prospect.email) == ("Ito", "kai@ito.example")
        with pytest.raises(NotFound):
            leads.prospect_id("hs", "987654321")
    finally:
        leads.close()
