"""Mapping profiles: shipped ones are valid; problems are reported at once with file:line."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.mapping import Mapper, MappingError, ProfileError, load_profile

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "mappings").glob("*/*.yaml"))


def test_every_crm_has_a_profile_per_mode() -> None:
    names = {(p.parent.name, p.stem) for p in SHIPPED}
    for crm in ("salesforce", "hubspot"):
        assert {(crm, mode) for mode in ("basic", "advanced", "complete")} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}/{p.name}" for p in SHIPPED])
def test_shipped_profiles_are_valid(path: Path) -> None:
    loaded = load_profile(path)
    assert loaded.profile.crm == path.parent.name and loaded.profile.mode == ("advanced" if path.stem == "partner" else path.stem)  # partner: a partner CRM, both ways
    assert loaded.profile.objects


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_every_problem_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: advanced
        objects:
          - module: acount
            crm_object: Account
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields: []
          - module: contact
            crm_object: Contact
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: emial, crm: Email}
              - {upm: last_name, crm: LastName, transform: [titlecase]}
              - {upm: account_id, crm: AccountId, relation: opportunity}
          - module: opportunity
            crm_object: Lead
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: sales_stage, crm: Status, values: {Open: 1, Working: 1}}
        """)
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    text = str(exc.value)
    assert f"{path}:15: objects.1.fields.1.transform: unknown transform(s) titlecase" in text
    # Schema errors stop before the semantic checks; fix that one and the rest come out together.
    path.write_text(path.read_text().replace(", transform: [titlecase]", ""))
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    text = str(exc.value)
    assert f"{path}:4: objects.0.module: unknown UPM module 'acount'; did you mean 'account'?" in text
    assert f"{path}:14: objects.1.fields.0.upm: 'emial' is not a field of contact; did you mean 'email'?" in text
    assert f"{path}:16: objects.1.fields.2.relation: 'opportunity' is synced after 'contact'" in text
    assert f"{path}:22: objects.2.fields.0.values: two CRM values map to one UPM value" in text


def test_unknown_key_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: hubspot
        mode: basic
        objects:
          - module: contact
            crm_object: contacts
            key: {crm: upm_id}
            modified: {crm: lastmodifieddate}
            feilds: []
        """)
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert f"{path}:8: objects.0.feilds: unknown key 'feilds'; did you mean 'fields'?" in str(exc.value)


def test_mapper_both_ways(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: advanced
        objects:
          - module: opportunity
            crm_object: Lead
            key: {crm: UPM_Id__c, prefix: "opp-"}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: name, crm: Company, transform: [trim], required: true}
              - {upm: sales_stage, crm: Status, values: {"Open - Not Contacted": 1, "Closed - Converted": 10}, strict_values: true}
              - {upm: amount, crm: AnnualRevenue}
              - {upm: expected_close_date, crm: Close__c, transform: [date], date_format: "%m/%d/%Y"}
              - {upm: account_id, crm: Partner_Account__c, relation: account}
              - {crm: LeadSource, constant: Partner Portal, on_create_only: true}
        """)
    mapper = Mapper(load_profile(path).profile.objects[0])
    upm = mapper.to_upm(
        {"Company": "  Globex ", "Status": "Closed - Converted", "AnnualRevenue": 1500.5, "Close__c": "03/31/2026", "Partner_Account__c": "001A"},
        resolve=lambda module, crm_id: 7 if (module, crm_id) == ("account", "001A") else None,
    )
    assert upm == {"name": "Globex", "sales_stage": 10, "amount": Decimal("1500.5"), "expected_close_date": date(2026, 3, 31), "account_id": 7}
    out = mapper.to_crm(upm, resolve=lambda module, rid: "001A" if rid == 7 else None, creating=True)
    assert out == {"Company": "Globex", "Status": "Closed - Converted", "AnnualRevenue": 1500.5,
                   "Close__c": "03/31/2026", "Partner_Account__c": "001A", "LeadSource": "Partner Portal"}
    assert "LeadSource" not in mapper.to_crm(upm, resolve=lambda m, r: "001A", creating=False)
    assert set(mapper.to_crm(upm, resolve=lambda m, r: "001A", creating=False, only={"amount"})) == {"AnnualRevenue"}
    assert mapper.external_id(12) == "opp-12" and mapper.record_id("opp-12") == 12 and mapper.record_id("x-12") is None
    with pytest.raises(MappingError, match="Status -> sales_stage: value 'Nurturing' is not in the value map"):
        mapper.to_upm({"Company": "X", "Status": "Nurturing"}, resolve=lambda m, c: None)
    with pytest.raises(MappingError, match="Company -> name: is required and empty"):
        mapper.to_upm({"Company": "   "}, resolve=lambda m, c: None)
    with pytest.raises(MappingError, match="account with CRM id 001Z is not synced yet"):
        mapper.to_upm({"Company": "X", "Partner_Account__c": "001Z"}, resolve=lambda m, c: None)


def test_plain_values_pass_and_empty_values_take_the_columns_default(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: basic
        objects:
          - module: account
            crm_object: Account
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: name, crm: Name}
              - {upm: employees, crm: NumberOfEmployees}
              - {upm: approval_status, crm: Approval_Status__c}
              - {upm: active, crm: Active__c}
        """)
    mapper = Mapper(load_profile(path).profile.objects[0])
    crm = {"Name": "Globex", "NumberOfEmployees": "250", "Approval_Status__c": "Approved", "Active__c": "true"}
    assert mapper.to_upm(crm, lambda m, c: None) == {"name": "Globex", "employees": 250,
                                                     "approval_status": "Approved", "active": True}
    assert mapper.to_upm({"Name": "Globex", "NumberOfEmployees": 250}, lambda m, c: None) == {
        "name": "Globex", "employees": 250, "approval_status": "Draft", "active": False}
    with pytest.raises(MappingError, match="NumberOfEmployees -> employees: 'many' is not a valid int"):
        mapper.to_upm({"Name": "Globex", "NumberOfEmployees": "many"}, lambda m, c: None)


def test_full_name_splits_and_joins(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: basic
        objects:
          - module: contact
            crm_object: User
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: [first_name, last_name], crm: Name, transform: [full_name]}
        """)
    mapper = Mapper(load_profile(path).profile.objects[0])
    assert mapper.to_upm({"Name": "Ada King Lovelace"}, lambda m, c: None) == {"first_name": "Ada King", "last_name": "Lovelace"}
    assert mapper.to_crm({"first_name": "Grace", "last_name": "Hopper"}, lambda m, r: None, creating=True) == {"Name": "Grace Hopper"}


def test_mappings_check_cli_offline(tmp_path: Path) -> None:
    good = REPO / "mappings" / "hubspot" / "advanced.yaml"
    bad = write(tmp_path, "crm: hubspot\nmode: sideways\nobjects: []\n")
    result = CliRunner().invoke(main, ["mappings", "check", "--offline", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{good}: OK (hubspot, advanced; CRM fields: offline)" in result.output
    assert f"{bad}:2: mode:" in result.output


def test_two_modules_on_one_crm_object_need_a_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: complete
        objects:
          - module: prospect
            crm_object: Lead
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields: [{upm: last_name, crm: LastName}]
          - module: opportunity
            crm_object: Lead
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields: [{upm: name, crm: Company}]
        """)
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert f"{path}:11: objects.1.key: 'prospect' and 'opportunity' both map Lead without a key prefix" in str(exc.value)


def test_an_approved_account_is_active_unless_the_profile_maps_active(tmp_path: Path) -> None:
    body = """\
        crm: salesforce
        mode: basic
        objects:
          - module: account
            crm_object: Account
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: name, crm: Name}
              - {upm: approval_status, crm: Approval_Status__c, direction: to_upm}
        """
    mapper = Mapper(load_profile(write(tmp_path, body)).profile.objects[0])
    assert mapper.to_upm({"Name": "Globex", "Approval_Status__c": "Approved"}, lambda m, c: None)["active"] is True
    assert "active" not in mapper.to_upm({"Name": "Globex", "Approval_Status__c": "Rejected"}, lambda m, c: None)
    mapped = Mapper(load_profile(write(tmp_path, body.replace("direction: to_upm}", "direction: to_upm}\n              - {upm: active, crm: Active__c}"))).profile.objects[0])
    assert mapped.to_upm({"Name": "Globex", "Approval_Status__c": "Approved", "Active__c": False},
                         lambda m, c: None)["active"] is False, "a mapped active field is the CRM's to decide"


def test_a_parent_field_is_read_only(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        crm: salesforce
        mode: advanced
        objects:
          - module: contact
            crm_object: Contact
            key: {crm: UPM_Id__c}
            modified: {crm: SystemModstamp}
            fields:
              - {upm: last_name, crm: LastName}
              - {upm: email, crm: Owner.Email}
        """)
    mapper = Mapper(load_profile(path).profile.objects[0])
    assert "Owner.Email" in mapper.crm_read_fields
    assert mapper.to_upm({"LastName": "Ann", "Owner.Email": "o@crm.example"}, resolve=lambda m, c: None)["email"] == "o@crm.example"
    assert mapper.to_crm({"last_name": "Ann", "email": "o@crm.example"}, resolve=lambda m, r: None, creating=True) == {"LastName": "Ann"}

    path.write_text(path.read_text().replace("crm: Owner.Email}", "crm: Owner.Email, direction: both}"))
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert f"{path}:10: objects.0.fields.1.direction: 'Owner.Email' is a field of a related record" in str(exc.value)
