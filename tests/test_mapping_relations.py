"""Fields read through a relation (`contact.email`), polymorphic relations (`relation_from`) and
HubSpot links: checked at load with file:line, mapped by the Mapper; and every shipped profile
passes `mappings check --offline` and covers the seeds' module mapping."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.mapping import Mapper, MappingError, ProfileError, load_profile

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "mappings").glob("*/*.yaml"))
SEED_MAPPING = {
    "salesforce": {"opportunity": "Lead", "account": "Account", "contact": "Contact", "note": "Note",
                   "registered_deal": "Opportunity", "campaign": "Campaign"},
    "hubspot": {"opportunity": "deals", "account": "companies", "note": "notes", "registered_deal": "deals"},
    "dynamics": {"opportunity": "opportunity", "account": "account", "contact": "contact", "note": "annotation"},
}
"""UPM module -> CRM object, from the CRM integration deck (Opportunity -> Lead, Account, Contact,
Note, Registered Deal -> Opportunity, Campaign <-> Campaign; HubSpot's objects)."""
PARTNER_MAPPING = {
    "salesforce": {"prospect": "Lead", "opportunity": "Opportunity", "account": "Account", "contact": "Contact",
                   "note": "Note", "registered_deal": "Opportunity"},
    "hubspot": {"prospect": "contacts", "opportunity": "deals", "account": "companies", "contact": "contacts",
                "note": "notes", "registered_deal": "deals"},
}
"""A partner's own CRM (workflow 5): the lead arrives as a lead, the partner converts it to an
opportunity there, and the opportunity, contact and account come back."""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}/{p.name}" for p in SHIPPED])
def test_shipped_profile_passes_check_offline_and_covers_the_seed_mapping(path: Path) -> None:
    result = CliRunner().invoke(main, ["mappings", "check", "--offline", str(path)])
    assert result.exit_code == 0 and ": OK (" in result.output, result.output
    profile = load_profile(path).profile
    mapped = {o.module: o.crm_object for o in profile.objects}
    expected = PARTNER_MAPPING[profile.crm] if path.name == "partner.yaml" else SEED_MAPPING[profile.crm]
    if profile.crm == "hubspot" and profile.mode != "complete" and path.name != "partner.yaml":
        expected = {**expected, "contact": "contacts"}
    assert {m: mapped.get(m) for m in expected} == expected
    for obj in profile.objects:  # records UPM creates can reach the CRM: no object is pull-only with create-only fields
        if obj.direction == "to_upm":
            assert not [f for f in obj.fields if f.on_create_only], f"{obj.module} pulls only, yet has fields for the CRM"


def test_complete_profiles_send_partners_accounts_and_keep_the_crm_master_on_approval() -> None:
    approvals = {"salesforce": "Approval_Status__c", "hubspot": "approval_status", "dynamics": "upm_approvalstatus"}
    for crm, approval in approvals.items():
        account = load_profile(REPO / "mappings" / crm / "complete.yaml").profile.object_for("account")
        assert account is not None and account.direction == "both"
        mapper = Mapper(account)
        sent = mapper.to_crm({"name": "Globex", "approval_status": "Approved"}, lambda m, i: None, creating=True)
        assert sent[approval] == "Submitted" and "Globex" in sent.values()
        assert "approval_status" in mapper.upm_write_fields


def test_fields_through_a_relation_and_polymorphic_relations_map_to_the_crm(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: basic
        objects:
          - module: opportunity
            crm_object: Lead
            key: {crm: UPM_Id__c, prefix: "upm-opportunity-"}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: account.name, crm: Company, direction: to_crm, required: true}
              - {upm: contact.last_name, crm: LastName, direction: to_crm, default: "(none)"}
              - {upm: status, crm: Status, direction: to_upm}
          - module: note
            crm_object: Note
            key: {crm: UPM_Id__c, prefix: "upm-note-"}
            modified: {crm: SystemModstamp}
            direction: to_crm
            fields:
              - {upm: record_id, crm: ParentId, relation_from: record_module, required: true}
              - {upm: body, crm: Body}
        """)
    profile = load_profile(path).profile
    lead = Mapper(profile.objects[0])
    assert [(t.column, t.target.key, t.field) for t in lead.through] == [("account_id", "account", "name"), ("contact_id", "contact", "last_name")]
    assert lead.upm_write_fields == {"status"} and lead.upm_read_fields == set()
    assert lead.to_crm({"account.name": "Globex", "contact.last_name": None}, lambda m, i: None, creating=True) == {
        "Company": "Globex", "LastName": "(none)"}
    with pytest.raises(MappingError, match="account.name -> Company: is required and empty"):
        lead.to_crm({"account.name": None}, lambda m, i: None, creating=True)
    note = Mapper(profile.objects[1])
    assert note.upm_read_fields == {"record_id", "record_module", "body"}
    bound = {("opportunity", 7): "00Q000000000001"}
    assert note.to_crm({"record_module": "opportunity", "record_id": 7, "body": "Hi"}, lambda m, i: bound.get((m, i)), creating=True) == {
        "ParentId": "00Q000000000001", "Body": "Hi"}
    with pytest.raises(MappingError, match="account 7 is not in the CRM yet"):
        note.to_crm({"record_module": "account", "record_id": 7}, lambda m, i: bound.get((m, i)), creating=True)


def test_links_name_the_records_to_associate(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: hubspot
        mode: basic
        objects:
          - module: note
            crm_object: notes
            key: {crm: upm_id, prefix: "upm-note-"}
            modified: {crm: hs_lastmodifieddate}
            direction: to_crm
            fields:
              - {upm: body, crm: hs_note_body}
              - {upm: record_id, relation_from: record_module, link: true}
        """)
    mapper = Mapper(load_profile(path).profile.objects[0])
    record = {"body": "Hi", "record_module": "opportunity", "record_id": 3}
    assert mapper.to_crm(record, lambda m, i: None, creating=True) == {"hs_note_body": "Hi"}
    assert mapper.link_targets(record) == [("opportunity", 3)]
    assert mapper.link_targets({**record, "record_id": None}) == []


def test_relation_mistakes_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: basic
        objects:
          - module: opportunity
            crm_object: Lead
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: contact.emial, crm: Email, direction: to_crm}
              - {upm: partner.name, crm: Company, direction: to_crm}
              - {upm: account.name, crm: Description}
              - {upm: name, crm: Title, relation_from: record_modul, direction: to_crm}
              - {upm: account_id, relation: account, link: true, direction: to_crm}
        """)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    found = [str(p) for p in caught.value.problems]
    assert any(f"{path}:9:" in p and "contact has no field 'emial'" in p for p in found), found
    assert any(f"{path}:10:" in p and "'partner' is not a relation of opportunity" in p for p in found), found
    assert any(f"{path}:11:" in p and "give it direction to_crm" in p for p in found), found
    assert any(f"{path}:12:" in p and "'record_modul' is not a field of opportunity" in p for p in found), found
    assert any(f"{path}:13:" in p and "links are HubSpot associations" in p for p in found), found
    assert len(found) == 5, found


def test_a_link_read_back_goes_one_way_to_a_synced_module(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: hubspot
        mode: advanced
        objects:
          - module: contact
            crm_object: contacts
            key: {crm: upm_id}
            modified: {crm: lastmodifieddate}
            fields:
              - {upm: last_name, crm: lastname}
          - module: opportunity
            crm_object: deals
            key: {crm: upm_id}
            modified: {crm: hs_lastmodifieddate}
            fields:
              - {upm: name, crm: dealname}
              - {upm: contact_id, relation: contact, link: true}
              - {upm: prospect_id, relation: prospect, link: true, direction: to_upm}
        """)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    found = [str(p) for p in caught.value.problems]
    assert any(f"{path}:16:" in p and "a link goes one way" in p for p in found), found
    assert any(f"{path}:17:" in p and "needs 'prospect' synced by this profile" in p for p in found), found
    assert len(found) == 2, found

    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2] + [lines[-2].replace("link: true}", "link: true, direction: to_upm}")]) + "\n")
    mapper = Mapper(load_profile(path).profile.objects[1])
    assert [f.link_key for f in mapper.inbound_links] == ["@link:contact"] and mapper.links == []
    assert mapper.crm_read_fields == ["dealname", "upm_id", "hs_lastmodifieddate"]  # no property for a link
    assert mapper.to_upm({"dealname": "Seats", "@link:contact": "901"}, lambda m, i: {"901": 7}.get(i)) == {
        "name": "Seats", "contact_id": 7}
    assert mapper.to_upm({"dealname": "Seats"}, lambda m, i: None) == {"name": "Seats", "contact_id": None}
