"""Leads a pull bulk-inserts (no session hook sees them) are scored like any new lead: field rules,
their campaign's response and a web-form arrival, each in the score history."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connector.leads.scoring import history, save_rules
from connector.store.records import Prospect

from .conftest import REPO, SalesforceSetup


@pytest.fixture
def salesforce_profile(tmp_path: Path) -> str:
    """The complete profile without distribution: its new leads take the pull's bulk INSERT."""
    text = (REPO / "mappings" / "salesforce" / "complete.yaml").read_text()
    assert "    distribute: named_or_open\n" in text
    path = tmp_path / "undistributed.yaml"
    path.write_text(text.replace("    distribute: named_or_open\n", ""))
    return str(path)


def test_bulk_inserted_leads_are_scored(sf: SalesforceSetup) -> None:
    campaign = sf.emulator.admin_upsert("Campaign", {"Name": "Spring", "Offer_Id__c": "OF-1", "Tactic_Id__c": "TA-1"})
    sf.emulator.admin_upsert("Lead", {"LastName": "Vee", "Company": "Globex", "Email": "vp@globex.example",
                                      "Title": "VP Sales", "LeadSource": "Web Form"})
    sf.emulator.admin_upsert("Lead", {"LastName": "Camp", "Company": "Initech", "Email": "c@initech.example",
                                      "Campaign_Id__c": campaign, "LeadSource": "Trade Show"})
    sf.emulator.admin_upsert("Lead", {"LastName": "Plain", "Company": "Hooli", "Email": "p@hooli.example"})
    with sf.db.session() as s:
        save_rules(s, None, [
            {"name": "Executive", "field": "title", "values": ["VP"], "points": 10},
            {"name": "Web form", "event": "form", "points": 7},
            {"name": "Any campaign", "event": "campaign_response", "points": 3},
        ])
    counts = sf.run()
    assert counts.failed == 0 and counts.created >= 3, counts
    with sf.db.session() as s:
        leads = {p.email: p for p in s.scalars(select(Prospect))}
        assert {e: p.lead_score for e, p in leads.items()} == {
            "vp@globex.example": 17, "c@initech.example": 3, "p@hooli.example": 0}
        vp, camp = leads["vp@globex.example"], leads["c@initech.example"]
        assert [(h.rule, h.score) for h in history(s, vp.id)] == [("Executive", 10), ("Web form", 7)]
        assert [(h.rule, h.campaign_id, h.score) for h in history(s, camp.id)] == [
            ("Any campaign", camp.campaign_id, 3)]
        assert camp.campaign_id is not None
    again = sf.run()
    assert again.failed == 0
    with sf.db.session() as s:
        assert s.get(Prospect, vp.id).lead_score == 17, "a later cycle does not score the arrival twice"  # type: ignore[union-attr]
