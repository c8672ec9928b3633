"""`upm-connector export`: every module, every field, linking ids, three formats."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from connector.cli import main
from connector.export import columns_for
from connector.store import MODULES, Database
from connector.store.assignments import RecordAssignment
from connector.store.bindings import Binding
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerUser
from connector.store.records import (
    Account,
    Campaign,
    Company,
    Contact,
    LineItem,
    Note,
    Opportunity,
    Prospect,
    RegisteredDeal,
    Task,
)


@pytest.fixture
def populated(db: Database) -> Database:
    with db.session() as s:
        partner = PartnerAccount(name="Reseller One", countries=["USA"], tier="Gold")
        user = PartnerUser(email="rep@one.example", account=partner, api_key_hash="pbkdf2$secret-hash")
        group = PartnerGroup(name="West")
        campaign = Campaign(name="Spring", crm_campaign_id="701000000000001", offer_id="OF-1", tactic_id="TA-1")
        company = Company(name="Globex", country="USA")
        account = Account(name="Globex", approval_status="Approved", active=True)
        s.add_all([partner, user, group, campaign, company, account])
        s.flush()
        contact = Contact(email="hank@globex.example", account_id=account.id)
        prospect = Prospect(
            email="lead@globex.example", first_name="Ann", company_name="Globex, Inc.", country="USA", campaign_id=campaign.id
        )
        s.add_all([contact, prospect])
        s.flush()
        opp = Opportunity(name="Globex renewal", account_id=account.id, contact_id=contact.id, sales_stage=10, campaign_id=campaign.id)
        item = LineItem(product="Widget", sales_price=Decimal("10.00"), quantity=Decimal("5"))
        item.compute()
        opp.line_items.append(item)
        opp.recompute_amount()
        s.add(opp)
        s.flush()
        s.add_all(
            [
                RegisteredDeal(opportunity_id=opp.id, name="Globex renewal", amount=opp.amount),
                Note(record_module="prospect", record_id=prospect.id, title="Call", body="Left a voicemail"),
                Task(record_module="prospect", record_id=prospect.id, subject="Follow up"),
                Binding(connection="vendor-sf", crm_object="Lead", crm_id="00Q000000000001AAA", module="prospect", record_id=prospect.id),
                Binding(connection="vendor-sf", crm_object="Account", crm_id="001000000000001AAA", module="account", record_id=account.id),
                RecordAssignment(record_module="prospect", record_id=prospect.id, assignee_type="user", assignee_id=user.id, access_type="Read-Write"),
            ]
        )
    return db


def run_export(db: Database, *args: str) -> str:
    result = CliRunner().invoke(main, ["export", *args], env={"UPM_DATABASE_URL": db.url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("module", list(MODULES))
def test_every_module_exports_every_column(populated: Database, module: str) -> None:
    rows = list(csv.DictReader(io.StringIO(run_export(populated, module, "--format", "csv"))))
    assert rows, f"{module} exported no rows"
    model_columns = {c.name for c in MODULES[module].model.__table__.columns} - {"api_key_hash"}
    assert model_columns <= set(rows[0]), f"{module} misses {model_columns - set(rows[0])}"
    assert list(rows[0]) == columns_for(MODULES[module])


def test_links_crm_ids_and_assignees(populated: Database) -> None:
    (prospect,) = [json.loads(line) for line in run_export(populated, "prospects", "--format", "jsonl").splitlines()]
    assert prospect["crm_id"] == "00Q000000000001AAA"
    assert prospect["crm_bindings"] == "vendor-sf/Lead/00Q000000000001AAA"
    assert prospect["assignees"].startswith("user:") and prospect["access_types"] == "Read-Write"
    assert prospect["company_name"] == "Globex, Inc."
    (opp,) = [json.loads(line) for line in run_export(populated, "opportunities", "--format", "jsonl").splitlines()]
    (account,) = [json.loads(line) for line in run_export(populated, "accounts", "--format", "jsonl").splitlines()]
    assert opp["account_id"] == account["id"] and opp["amount"] == "50.00"
    assert account["crm_id"] == "001000000000001AAA"


def test_secrets_are_never_exported(populated: Database) -> None:
    out = run_export(populated, "partner-users", "--format", "jsonl")
    assert "api_key_hash" not in out and "secret-hash" not in out


def test_columns_selection_and_csv_quoting(populated: Database) -> None:
    out = run_export(populated, "prospects", "--format", "csv", "--columns", "id,company_name,crm_id")
    assert out.splitlines()[0] == "id,company_name,crm_id"
    assert '"Globex, Inc."' in out


def test_unknown_column_is_named_with_a_suggestion(populated: Database) -> None:
    result = CliRunner().invoke(
        main, ["export", "prospects", "--columns", "emial"], env={"UPM_DATABASE_URL": populated.url}
    )
    assert result.exit_code == 2
    assert "'emial' (did you mean 'email'?)" in result.output


def test_xlsx_to_file(populated: Database, tmp_path: Path) -> None:
    out = tmp_path / "opps.xlsx"
    result = CliRunner().invoke(
        main, ["export", "opportunities", "--format", "xlsx", "--out", str(out)], env={"UPM_DATABASE_URL": populated.url}
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert header == columns_for(MODULES["opportunities"])
    row = dict(zip(header, [c.value for c in sheet[2]]))
    assert row["name"] == "Globex renewal" and row["sales_stage"] == 10


def test_large_export_streams_in_chunks(db: Database) -> None:
    with db.session() as s:
        s.add_all([Prospect(email=f"p{i}@example.com") for i in range(2500)])
    lines = run_export(db, "prospects", "--format", "jsonl", "--columns", "id,email").splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == 2500 and ids == sorted(ids) and len(set(ids)) == 2500


def test_progress_is_told_each_chunk_and_the_modules_total(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector import export as export_mod

    monkeypatch.setattr(export_mod, "CHUNK", 2)
    with db.session() as s:
        s.add_all(Company(name=f"Company {n}") for n in range(5))
    told: list[tuple[int, int | None]] = []
    out = io.StringIO()
    count = export_mod.export_module(db, "companies", "csv", out, progress=lambda rows, total: told.append((rows, total)))
    assert count == 5 and len(out.getvalue().splitlines()) == 6
    assert told == [(0, 5), (2, 5), (2, 5), (1, 5)]
