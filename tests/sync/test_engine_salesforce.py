"""The engine against the Salesforce emulator, cases of its own (the shared contract is in
test_engine_contract.py): the delete log
running out (full resync) and the failures commands."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.cli import main
from connector.store.bindings import Binding
from connector.store.cursors import SyncCursor
from connector.store.failures import FailedRecord
from connector.runtime import Runtime
from connector.store.records import Account, Campaign, Contact, Note, Opportunity, Prospect, RegisteredDeal

from .conftest import SalesforceSetup


def seed(sf: SalesforceSetup) -> dict[str, str]:
    ids = {"globex": sf.emulator.admin_upsert("Account", {"Name": "Globex", "BillingCountry": "United States"})}
    for n in range(3):
        ids[f"c{n}"] = sf.emulator.admin_upsert("Contact", {"LastName": f"Last {n}", "Email": f"c{n}@globex.example", "AccountId": ids["globex"]})
    return ids


def test_relations_pull_through_bindings_and_push_back(sf: SalesforceSetup) -> None:
    ids = seed(sf)
    counts = sf.run()
    assert counts.created == 4 and counts.failed == 0
    with sf.db.session() as s:
        account = s.scalars(select(Account)).one()
        assert account.billing_country == "USA"
        assert {c.account_id for c in s.scalars(select(Contact))} == {account.id}
        s.add(Contact(last_name="New", email="new@globex.example", account_id=account.id))
    assert sf.run().pushed == 1
    (new,) = [r for r in sf.emulator.records("Contact") if r.get("LastName") == "New"]
    assert new["AccountId"] == ids["globex"], "the contact was pushed pointing at its account's Salesforce id"
    assert new["UPM_Id__c"].startswith("upm-contact-")


def test_a_bulk_loaded_page_binds_each_record_to_its_own_crm_record(sf: SalesforceSetup) -> None:
    with sf.db.session() as s:  # records already there: new ids do not start at 1
        s.add_all(Contact(last_name=f"Local {n}", email=f"local{n}@upm.example") for n in range(3))
    crm_ids = {sf.emulator.admin_upsert("Contact", {"LastName": f"Remote {n}", "Email": f"r{n}@crm.example"}): f"Remote {n}"
               for n in range(25)}
    sf.run()
    with sf.db.session() as s:
        bound = dict(s.execute(select(Binding.crm_id, Contact.last_name)
                               .join(Contact, Contact.id == Binding.record_id).where(Binding.module == "contact")).all())
    assert {crm_id: bound.get(crm_id) for crm_id in crm_ids} == crm_ids


def test_lost_delete_log_needs_a_full_resync(sf: SalesforceSetup) -> None:
    ids = seed(sf)
    sf.run()
    sf.emulator.admin_delete("Contact", ids["c1"])
    sf.emulator.purge_delete_log()
    sf.run()
    with sf.db.session() as s:
        cursor = s.scalars(select(SyncCursor).where(SyncCursor.module == "contact")).one()
        assert cursor.needs_reconcile
    status = CliRunner().invoke(main, ["--config", str(sf.config_path), "status"])
    assert "NEEDS FULL RESYNC" in status.output
    dry = sf.run("resync", full=True, dry_run=True)
    assert dry.archived == 1 and any("no longer in the CRM" in line for line in dry.changes)
    counts = sf.run("resync", full=True)
    assert counts.archived == 1
    with sf.db.session() as s:
        archived = s.scalars(select(Contact).where(Contact.archived_at.is_not(None))).all()
        assert [c.last_name for c in archived] == ["Last 1"]
        assert not s.scalars(select(SyncCursor).where(SyncCursor.module == "contact")).one().needs_reconcile


def test_failures_commands(sf: SalesforceSetup) -> None:
    seed(sf)
    sf.run()
    with sf.db.session() as s:
        contact = Contact(last_name="Rejected", email="r@globex.example")
        s.add(contact)
    external_id = f"upm-contact-{contact.id}"
    with sf.emulator.lock:
        sf.emulator.faults.add({"kind": "validation", "keys": [external_id], "message": "Phone is required for partners"})
    runner = CliRunner()

    def cli(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, ["--config", str(sf.config_path), *args])

    result = cli("sync", "sf")
    assert result.exit_code == 1 and "failed 1" in result.output, result.output
    listing = cli("failures", "list")
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in listing.output and f"record {contact.id}" in listing.output
    assert any("FIELD_CUSTOM_VALIDATION_EXCEPTION" in line and "│" in line for line in listing.output.splitlines())
    (listed,) = json.loads(cli("failures", "list", "--json").stdout)
    assert (listed["record_id"], listed["error_code"], listed["status"]) == (contact.id, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "open")
    with sf.db.session() as s:
        failure_id = s.scalars(select(FailedRecord.id)).one()
    shown = cli("failures", "show", str(failure_id))
    assert "Phone is required for partners" in shown.output and external_id in shown.output
    with sf.emulator.lock:
        sf.emulator.faults.clear()
    assert "1 push(es) queued" in cli("failures", "retry", str(failure_id)).output
    result = cli("sync", "sf")
    assert result.exit_code == 0 and "pushed 1" in result.output, result.output
    assert any(r.get("UPM_Id__c") == external_id for r in sf.emulator.records("Contact"))
    assert "0 open failure(s)" in cli("failures", "list").output
    assert cli("failures", "discard", "999").output.startswith("0 failure(s) discarded")
    with sf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(FailedRecord).where(FailedRecord.status == "retried")) == 1


@pytest.mark.parametrize("salesforce_profile", ["complete.yaml"])
def test_complete_leads_become_prospects_and_partner_opportunities_go_back_as_leads(sf: SalesforceSetup) -> None:
    campaign = sf.emulator.admin_upsert("Campaign", {"Name": "Spring", "Offer_Id__c": "OF-1", "Tactic_Id__c": "TA-1"})
    sf.emulator.admin_upsert("Lead", {"LastName": "Lima", "Company": "Globex", "Email": "ana@globex.example",
                                      "Country": "United States", "Campaign_Id__c": campaign})
    counts = sf.run()
    assert counts.failed == 0, counts
    with sf.db.session() as s:
        prospect = s.scalars(select(Prospect)).one()
        assert (prospect.last_name, prospect.country, prospect.status) == ("Lima", "USA", "Open")
        spring = s.scalars(select(Campaign)).one()
        assert prospect.campaign_id == spring.id and spring.crm_campaign_id == campaign
        # Workflow 2 and the basic flow: the partner's opportunity, with its contact, account and a
        # note, carries the campaign tags to the CRM as a Lead along with the contact and account.
        account = Account(name="Globex Corp", billing_country="USA")
        contact = Contact(first_name="Ana", last_name="Lima", email="Ana@Globex.example")
        s.add_all([account, contact])
        s.flush()
        opportunity = Opportunity(name="Globex expansion", campaign_id=spring.id, offer_id="OF-1", tactic_id="TA-1",
                                  account_id=account.id, contact_id=contact.id, expected_close_date=date(2027, 3, 31))
        s.add(opportunity)
        s.flush()
        s.add(Note(record_module="opportunity", record_id=opportunity.id, title="Call", body="Wants 50 seats"))
    counts = sf.run()
    assert counts.failed == 0 and counts.pushed == 3, counts  # the account (workflow 1), the Lead, the note
    (lead,) = [r for r in sf.emulator.records("Lead") if str(r.get("UPM_Id__c", "")).startswith("upm-opportunity-")]
    assert (lead["Company"], lead["FirstName"], lead["LastName"], lead["Email"]) == ("Globex Corp", "Ana", "Lima", "Ana@Globex.example")
    assert (lead["Campaign_Id__c"], lead["Offer_Id__c"], lead["LeadSource"]) == (campaign, "OF-1", "Partner Referral")
    (note,) = sf.emulator.records("Note")
    assert (note["ParentId"], note["Title"], note["Body"]) == (lead["Id"], "Call", "Wants 50 seats")
    (crm_account,) = sf.emulator.records("Account")
    assert (crm_account["Name"], crm_account["Approval_Status__c"]) == ("Globex Corp", "Submitted")
    with sf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Prospect)) == 1, "our own Lead is not pulled back as a prospect"
    # Workflow 1: the CRM admin approves the partner's account; the approval comes back.
    sf.emulator.admin_upsert("Account", {"Id": crm_account["Id"], "Approval_Status__c": "Approved"})
    # A registered deal (the won opportunity) reaches the CRM as an Opportunity.
    with sf.db.session() as s:
        s.add(RegisteredDeal(opportunity_id=opportunity.id, name="Globex expansion", account_id=account.id, amount=Decimal("5000")))
    counts = sf.run()
    assert counts.failed == 0, counts
    (deal,) = sf.emulator.records("Opportunity")
    assert (deal["Name"], deal["AccountId"], deal["StageName"], deal["CloseDate"], deal["Offer_Id__c"]) == (
        "Globex expansion", crm_account["Id"], "Closed Won", "2027-03-31", "OF-1")
    with sf.db.session() as s:
        assert s.get(Account, account.id).approval_status == "Approved"  # type: ignore[union-attr]
    # The CRM admin works the Lead; its status flows back to the opportunity.
    sf.emulator.admin_upsert("Lead", {"Id": lead["Id"], "Status": "Working - Contacted"})
    sf.run()
    with sf.db.session() as s:
        assert s.get(Opportunity, opportunity.id).status == "Working - Contacted"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Prospect)) == 1


@pytest.mark.parametrize("salesforce_profile", ["complete.yaml"])
def test_a_pushed_account_takes_its_approval_once_then_cycles_write_nothing(sf: SalesforceSetup) -> None:
    """The embedded defaults' "updated 2" on the vendor lane's second cycle: the partner's accounts
    pushed in the first cycle (Approval_Status__c Submitted, a constant) come back as Pending, a
    real change to UPM's Draft. Re-read in the cycles after (within the lookback), they are UPM's
    own values read back: nothing is written."""
    with sf.db.session() as s:
        account = Account(name="Vandelay Industries", billing_country="USA")
        s.add(account)
    first = sf.run()
    assert (first.created, first.updated, first.pushed) == (0, 0, 1)
    second = sf.run()
    assert (second.read, second.updated, second.pushed) == (1, 1, 0), "the approval comes back once"
    with sf.db.session() as s:
        assert s.get(Account, account.id).approval_status == "Pending"  # type: ignore[union-attr]
    for _ in range(2):
        again = sf.run()
        assert (again.read, again.created, again.updated, again.pushed, again.unchanged) == (1, 0, 0, 0, 1), \
            "a no-change cycle writes nothing"


@pytest.mark.parametrize("salesforce_profile", ["basic.yaml"])
def test_basic_pushes_a_new_account_once_then_salesforce_is_master(sf: SalesforceSetup) -> None:
    """Workflow 1 in basic mode: the partner's new account goes to Salesforce for approval; the
    decision flows back; UPM edits after creation are not pushed."""
    with sf.db.session() as s:
        account = Account(name="Vandelay Industries", billing_country="USA")
        s.add(account)
    assert sf.run().pushed == 1
    (crm,) = [r for r in sf.emulator.records("Account") if r.get("UPM_Id__c") == f"upm-account-{account.id}"]
    assert (crm["Name"], crm["BillingCountry"], crm["Approval_Status__c"]) == ("Vandelay Industries", "United States", "Submitted")
    with sf.db.session() as s:
        assert s.get(Account, account.id).approval_status == "Draft"  # type: ignore[union-attr]
    sf.run()
    with sf.db.session() as s:
        assert s.get(Account, account.id).approval_status == "Pending", "Submitted in Salesforce is Pending in UPM"  # type: ignore[union-attr]
        assert s.get(Account, account.id).active is False, "not active before the CRM approves it"  # type: ignore[union-attr]
        s.get(Account, account.id).website = "vandelay.example"  # type: ignore[union-attr]
    sf.emulator.admin_upsert("Account", {"Id": crm["Id"], "Approval_Status__c": "Approved"})
    for _ in range(3):
        assert sf.run().pushed == 0
    with sf.db.session() as s:
        approved = s.get(Account, account.id)
        assert approved is not None and (approved.approval_status, approved.active) == ("Approved", True), \
            "the approval activates the account"
    (crm,) = [r for r in sf.emulator.records("Account") if r.get("UPM_Id__c") == f"upm-account-{account.id}"]
    assert not crm.get("Website"), "in basic mode a UPM edit after creation is not pushed"


def test_a_later_no_change_cycle_reads_nothing_even_with_tied_stamps(sf: SalesforceSetup) -> None:
    """Salesforce stamps have one-second precision and a bulk load shares one: after the lookback
    has passed, a no-change cycle reads nothing (one query per object, no re-read of the tie)."""
    seed(sf)
    sf.run()

    class Later:
        def now(self):  # type: ignore[no-untyped-def]
            return datetime.now(timezone.utc) + timedelta(minutes=10)

    def later_cycle():  # type: ignore[no-untyped-def]
        engine = Runtime(sf.settings, clock=Later(), db=sf.db).engine("sf")
        try:
            return engine.cycle()
        finally:
            engine.adapter.close()

    later_cycle()  # moves the cursors past the load (its start held them back by the lookback)
    queries = sf.emulator.stats()["api_calls"]["by_category"].get("query", 0)
    counts = later_cycle()
    assert (counts.read, counts.created, counts.updated, counts.pushed) == (0, 0, 0, 0)
    assert sf.emulator.stats()["api_calls"]["by_category"].get("query", 0) - queries == 4, "one query per object"


@pytest.mark.parametrize("salesforce_profile", ["basic.yaml", "advanced.yaml"])
def test_basic_flow_opportunity_goes_as_lead_with_contact_account_and_note(sf: SalesforceSetup) -> None:
    with sf.db.session() as s:
        account = Account(name="Initech", billing_country="USA")
        contact = Contact(first_name="Bill", last_name="Lumbergh", email="bill@initech.example", title="VP")
        s.add_all([account, contact])
        s.flush()
        contact.account_id = account.id
        opportunity = Opportunity(name="Initech renewal", account_id=account.id, contact_id=contact.id,
                                  expected_close_date=date(2027, 6, 30))
        s.add(opportunity)
        s.flush()
        s.add_all([Note(record_module="opportunity", record_id=opportunity.id, body="Budget approved"),
                   Note(record_module="account", record_id=account.id, title="Site visit", body="HQ in Austin")])
    counts = sf.run()
    assert counts.failed == 0 and counts.pushed == 5, counts  # account, contact, Lead, two notes
    (crm_account,) = sf.emulator.records("Account")
    (lead,) = sf.emulator.records("Lead")
    assert (lead["Company"], lead["FirstName"], lead["LastName"], lead["Email"], lead["Title"]) == (
        "Initech", "Bill", "Lumbergh", "bill@initech.example", "VP")
    notes = {n["Body"]: (n["ParentId"], n["Title"]) for n in sf.emulator.records("Note")}
    assert notes == {"Budget approved": (lead["Id"], "Note"), "HQ in Austin": (crm_account["Id"], "Site visit")}
    with sf.db.session() as s:
        s.add(RegisteredDeal(opportunity_id=opportunity.id, name="Initech renewal", account_id=account.id, amount=Decimal("1200")))
    assert sf.run().pushed == 1
    (deal,) = sf.emulator.records("Opportunity")
    assert (deal["AccountId"], deal["StageName"], deal["CloseDate"], deal["Approval_Status__c"]) == (
        crm_account["Id"], "Closed Won", "2027-06-30", "Submitted")
    assert sf.run().pushed == 0, "the pair settles: nothing is sent again"


@pytest.mark.parametrize("salesforce_profile", ["advanced.yaml"])
def test_advanced_note_edits_follow_to_the_crm(sf: SalesforceSetup) -> None:
    with sf.db.session() as s:
        account = Account(name="Initech")
        s.add(account)
        s.flush()
        note = Note(record_module="account", record_id=account.id, title="Visit", body="Monday")
        s.add(note)
    assert sf.run().pushed == 2
    with sf.db.session() as s:
        s.get(Note, note.id).body = "Tuesday"  # type: ignore[union-attr]
    assert sf.run().pushed == 1
    (crm_note,) = sf.emulator.records("Note")
    assert (crm_note["Title"], crm_note["Body"]) == ("Visit", "Tuesday")
    assert sf.run().pushed == 0
