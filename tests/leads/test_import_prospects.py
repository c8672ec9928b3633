"""Lead import: CSV and XLSX, tolerant headers, per-row validation and savepoints, the XLSX error
report, update on email or external id, dry run, RecordAssignTo assignment, the CLI."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from leads.conftest import Make
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from connector.clock import ManualClock
from connector.cli.imports import import_group
from connector.config.settings import LeadSettings
from connector.leads import imports, lifecycle
from connector.leads.imports import countries, prospects, rows
from connector.leads.imports import ImportFileError, import_prospects, write_error_report
from connector.leads.imports.countries import suggest_country
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.bindings import Binding
from connector.store.notifications import Notification
from connector.store.records import Campaign, Prospect

from .support_delivery import write_table

HEADER = ["Email", "First Name", "Last Name", "Title", "Phone", "Mobile", "Company Name", "Website", "Employees",
          "Annual Revenue", "Industry", "Country", "State", "City", "Postal Code", "Lead Source", "Segment",
          "Product Interest", "Campaign", "RecordAssignTo", "AccessType"]


def row(email: str, **fields: Any) -> list[Any]:
    values: dict[str, Any] = {"Email": email, "First Name": "Dana", "Last Name": "Lee", "Title": "CTO",
                              "Phone": "+1 415 555 0100", "Company Name": "Customer Inc", "Employees": 250,
                              "Annual Revenue": "1,250,000.50", "Industry": "Software", "Country": "USA",
                              "State": "CA", "City": "San Francisco", "Postal Code": "94105",
                              "Lead Source": "Conference", "Segment": "Mid-Market"}
    values.update(fields)
    return [values.get(name) for name in HEADER]


@pytest.fixture
def partners(make: Make, service: LeadService) -> dict[str, int]:
    """Acme and Beta (US) in the round-robin group "US Resellers" that a rule feeds; Gamma (GBR) alone."""
    ids = {name: make.partner(name, countries=("USA",)) for name in ("Acme", "Beta")}
    ids["Gamma"] = make.partner("Gamma", countries=("GBR",))
    make.group("US Resellers", [ids["Acme"], ids["Beta"]])
    make.group("UK Resellers", [ids["Gamma"]])
    service.save_rules([{"name": "US round robin", "countries": ["USA"], "target": "group:US Resellers",
                         "model": "round_robin"}])
    return ids


def _import(db: Database, settings: LeadSettings, clock: ManualClock, path: Path, **options: Any) -> imports.ImportReport:
    return import_prospects(db, path, lead_settings=settings, clock=clock, **options)


def _prospects(db: Database) -> dict[str, Prospect]:
    with db.session() as s:
        return {p.email or "": p for p in s.scalars(select(Prospect))}


def _count(db: Database, model: type[Any]) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_valid_rows_are_created_and_distributed_by_the_rules(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, partners: dict[str, int], tmp_path: Path,
    suffix: str,
) -> None:
    path = write_table(tmp_path / f"leads{suffix}", HEADER,
                       [row("a@customer.example"), row("b@customer.example", Segment="smb", Country="usa"),
                        row("c@customer.example", Country="GBR")])
    report = _import(db, settings, clock, path)
    assert (report.rows, report.created, report.updated, report.failed, report.errors) == (3, 3, 0, 0, [])
    assert report.distributed == {lifecycle.ASSIGNED: 2, lifecycle.OPEN: 1}
    leads = _prospects(db)
    a, b, c = leads["a@customer.example"], leads["b@customer.example"], leads["c@customer.example"]
    assert {a.partner_account_id, b.partner_account_id} == {partners["Acme"], partners["Beta"]}
    assert (b.segment, b.country, c.distribution_state) == ("SMB", "USA", lifecycle.OPEN)
    assert (a.company_employees, a.company_annual_revenue, a.postal_code) == (250, Decimal("1250000.50"), "94105")
    assert [kind for kind, _ in make.emails()] == ["assignment", "assignment"]


def test_headers_are_matched_whatever_their_case_and_spacing(
    db: Database, settings: LeadSettings, clock: ManualClock, partners: dict[str, int], tmp_path: Path,
) -> None:
    header = ["  EMAIL ", "first_name", "Last-Name", "company name", "COUNTRY", "Phone - Main", "Favourite Colour"]
    path = write_table(tmp_path / "odd.xlsx", header, [["x@customer.example", "Xi", "Yu", "Zed Ltd", "USA", 4155550100, "blue"]])
    report = _import(db, settings, clock, path)
    assert (report.created, report.ignored_columns) == (1, ["Favourite Colour"])
    lead = _prospects(db)["x@customer.example"]
    assert (lead.first_name, lead.last_name, lead.company_name, lead.phone) == ("Xi", "Yu", "Zed Ltd", "4155550100")


def test_invalid_rows_go_to_the_error_report_and_the_others_still_go_in(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, partners: dict[str, int], tmp_path: Path,
) -> None:
    with db.session() as s:
        s.add(Campaign(name="Spring Launch", crm_campaign_id="701XX0001"))
    path = write_table(tmp_path / "mixed.xlsx", HEADER, [
        row("ok1@customer.example", Campaign="spring launch"),
        row("us@customer.example", Country="United States"),
        row("not-an-email"),
        row("num@customer.example", Employees="lots", **{"Annual Revenue": "-5"}),
        row("seg@customer.example", Segment="Medium", Campaign="Autumn"),
        row(None, Country="Germany"),
        row("ok2@customer.example", Campaign="701XX0001", Country="Narnia"),
        row("ok3@customer.example", Country="gbr"),
    ])
    report = _import(db, settings, clock, path)
    assert (report.rows, report.created, report.failed) == (8, 2, 6)
    messages = {(e.row, e.field): e.message for e in report.errors}
    assert messages == {
        (3, "Country"): "Country: 'United States' is not a valid code; did you mean 'USA'?",
        (4, "Email"): "Email: 'not-an-email' is not a valid email address (An email address must have an @-sign.)",
        (5, "Employees"): "Employees: 'lots' is not a whole number",
        (5, "Annual Revenue"): "Annual Revenue: '-5' is not an amount from 0 to 9999999999999999.99",
        (6, "Segment"): "Segment: 'Medium' is not one of SMB, Mid-Market, Enterprise",
        (6, "Campaign"): "Campaign: 'Autumn' is not a campaign's name or CRM campaign id",
        (7, "Country"): "Country: 'Germany' is not a valid code; did you mean 'DEU'?",
        (7, "Email"): "Email: a value is required",
        (8, "Country"): "Country: 'Narnia' is not a valid ISO 3166 alpha-3 country code (e.g. USA, GBR, DEU)",
    }
    leads = _prospects(db)
    assert set(leads) == {"ok1@customer.example", "ok3@customer.example"}
    assert leads["ok1@customer.example"].campaign_id is not None and leads["ok3@customer.example"].country == "GBR"

    out = tmp_path / "errors.xlsx"
    write_error_report(report.errors, out)
    sheet = load_workbook(out, read_only=True).worksheets[0]
    lines = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    assert lines[0] == ("Row", "Field", "Value", "Error Log")
    assert ("3", "Country", "United States", "Country: 'United States' is not a valid code; did you mean 'USA'?") in [
        (str(r[0]), r[1], r[2], r[3]) for r in lines[1:]]
    assert len(lines) == 1 + len(report.errors) and [r[0] for r in lines[1:]] == sorted(r[0] for r in lines[1:])


def test_error_report_values_are_text_never_formulas(tmp_path: Path) -> None:
    out = tmp_path / "errors.xlsx"
    write_error_report([imports.RowError(2, "Title", "=HYPERLINK(\"http://x\")", "Title: too long")], out)
    cell = load_workbook(out).worksheets[0]["C2"]
    assert (cell.data_type, cell.value) == ("s", "=HYPERLINK(\"http://x\")")


def test_one_row_failing_in_the_database_loses_only_itself(
    db: Database, settings: LeadSettings, clock: ManualClock, partners: dict[str, int], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write = prospects.ProspectImport._write

    def failing_write(self: prospects.ProspectImport, session: Any, import_row: rows.ImportRow, prospect_id: Any) -> Prospect:
        prospect = write(self, session, import_row, prospect_id)
        if import_row.email == "boom@customer.example":  # a write the database refuses, after the row's own
            session.execute(text("INSERT INTO partner_groups (name, distribution_model, created_at, updated_at) "
                                 "VALUES ('US Resellers', 'round_robin', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        return prospect

    monkeypatch.setattr(prospects.ProspectImport, "_write", failing_write)
    path = write_table(tmp_path / "boom.csv", HEADER, [row("a@customer.example"), row("boom@customer.example"),
                                                       row("c@customer.example")])
    report = _import(db, settings, clock, path)
    assert (report.created, report.failed) == (2, 1)
    assert report.errors[0].row == 3 and report.errors[0].message.startswith("not saved:")
    assert set(_prospects(db)) == {"a@customer.example", "c@customer.example"}


def test_update_on_email_updates_in_place_and_keeps_empty_cells(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, partners: dict[str, int], tmp_path: Path,
) -> None:
    first = write_table(tmp_path / "first.csv", HEADER, [row("dana@customer.example")])
    assert _import(db, settings, clock, first).created == 1
    holder = _prospects(db)["dana@customer.example"].partner_account_id

    again = write_table(tmp_path / "again.csv", HEADER, [row("dana@customer.example", Title="VP")])
    refused = _import(db, settings, clock, again)
    assert (refused.created, refused.failed) == (0, 1)
    assert refused.errors[0].message.startswith("Email: 'dana@customer.example' already exists (prospect ")

    update = write_table(tmp_path / "update.csv", ["email", "Title", "City"],
                         [["Dana@Customer.example", "VP Engineering", ""], ["new@customer.example", "CEO", "Austin"],
                          ["NEW@customer.example", "", "Dallas"]])
    report = _import(db, settings, clock, update, update_on="email")
    assert (report.created, report.updated, report.failed) == (1, 2, 0)
    leads = _prospects(db)
    assert len(leads) == 2
    dana = leads["dana@customer.example"]
    assert (dana.title, dana.city, dana.partner_account_id) == ("VP Engineering", "San Francisco", holder)
    assert (leads["new@customer.example"].title, leads["new@customer.example"].city) == ("CEO", "Dallas")
    assert len(make.emails("assignment")) == 1, "an update does not redistribute a lead already placed"


def test_a_repeated_email_without_update_is_refused(
    db: Database, settings: LeadSettings, clock: ManualClock, partners: dict[str, int], tmp_path: Path,
) -> None:
    path = write_table(tmp_path / "dup.csv", HEADER, [row("a@customer.example"), row("A@customer.example")])
    report = _import(db, settings, clock, path)
    assert (report.created, report.failed) == (1, 1)
    assert report.errors[0].message == ("Email: 'A@customer.example' repeats row 2 (use --update-on email to update)")


def test_update_on_external_id_matches_the_crm_binding(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, partners: dict[str, int], tmp_path: Path,
) -> None:
    lead = make.lead(email="crm@customer.example", country="USA")
    with db.session() as s:
        s.add(Binding(connection="vendor-sf", crm_object="Lead", crm_id="00Q000000000001", module="prospect",
                      record_id=lead))
    path = write_table(tmp_path / "ext.xlsx", ["External ID", "Email", "Title"],
                       [["00Q000000000001", "crm@customer.example", "Head of IT"],
                        ["00Q999999999999", "who@customer.example", "CFO"]])
    report = _import(db, settings, clock, path, update_on="external-id")
    assert (report.updated, report.created, report.failed) == (1, 0, 1)
    assert report.errors[0].message == "External ID: '00Q999999999999' is no prospect's CRM id"
    assert make.prospect(lead).title == "Head of IT"
    assert report.distributed == {lifecycle.ASSIGNED: 1}, "a lead never distributed is distributed on update"
    with pytest.raises(ImportFileError, match="no External ID column"):
        _import(db, settings, clock, write_table(tmp_path / "noext.csv", ["Email"], [["a@b.example"]]),
                update_on="external-id")


def test_dry_run_validates_and_counts_but_writes_nothing(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, partners: dict[str, int], tmp_path: Path,
) -> None:
    known = make.lead(email="known@customer.example")
    before = (_count(db, Prospect), _count(db, Notification))
    path = write_table(tmp_path / "dry.xlsx", HEADER, [
        row("known@customer.example"), row("new@customer.example"), row("new@customer.example", Title="again"),
        row("grp@customer.example", RecordAssignTo="US Resellers", AccessType="Group"),
        row("bad@customer.example", Country="United Kingdom")])
    report = _import(db, settings, clock, path, update_on="email", dry_run=True)
    assert (report.rows, report.created, report.updated, report.failed, report.assigned) == (5, 2, 2, 1, 1)
    assert report.lines()[0].endswith("2 would be created, 2 would be updated, 1 failed")
    assert "did you mean 'GBR'" in report.errors[0].message
    assert (_count(db, Prospect), _count(db, Notification)) == before
    assert make.prospect(known).title is None


def test_record_assign_to_assigns_to_the_named_group_user_or_account(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, partners: dict[str, int], tmp_path: Path,
) -> None:
    header = [*HEADER, "Access Level"]
    path = write_table(tmp_path / "assign.xlsx", header, [
        [*row("g@customer.example", RecordAssignTo="UK Resellers", AccessType="Group"), None],
        [*row("u@customer.example", RecordAssignTo="REP0@gamma.example", AccessType="user"), "read only"],
        [*row("a@customer.example", RecordAssignTo="Beta", AccessType="Account"), None],
        [*row("i@customer.example", RecordAssignTo="rep0@acme.example"), None],
        [*row("r@customer.example", RecordAssignTo="UK Resellers", AccessType="Read-Only"), None],
        [*row("x@customer.example", RecordAssignTo="Nobody Group", AccessType="Group"), None],
        [*row("y@customer.example", AccessType="Group"), None],
    ])
    report = _import(db, settings, clock, path)
    assert (report.created, report.assigned, report.failed) == (4, 4, 3)
    assert report.distributed == {}, "rows with RecordAssignTo are not run through the rules"
    assert {(e.row, e.message) for e in report.errors} == {
        (6, "AccessType: 'Read-Only' is not Group, User or Account - that is an access level: put it in an "
            "'Access Level' column"),
        (7, "RecordAssignTo: no such group 'Nobody Group'"),
        (8, "AccessType: 'Group' is given without a RecordAssignTo"),
    }
    leads = _prospects(db)
    g, u, a, i = (leads[f"{k}@customer.example"] for k in "guai")
    gamma_rep, acme_rep = make.users_of(partners["Gamma"])[0], make.users_of(partners["Acme"])[0]
    assert g.partner_account_id is None and g.distribution_state == lifecycle.ASSIGNED
    assert {t for t, _, _ in make.grants(g.id)} == {"group"}
    assert (u.partner_account_id, u.assigned_user_id) == (partners["Gamma"], gamma_rep)
    assert make.grants(u.id) == {("account", partners["Gamma"], "Read-Only"), ("user", gamma_rep, "Read-Only")}
    assert (a.partner_account_id, a.assigned_user_id) == (partners["Beta"], None)
    assert (i.partner_account_id, i.assigned_user_id) == (partners["Acme"], acme_rep)
    assert ("assignment", "rep0@gamma.example") in make.emails()


def test_unusable_files_are_refused_whole(db: Database, settings: LeadSettings, clock: ManualClock,
                                          tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no Email column"):
        _import(db, settings, clock, write_table(tmp_path / "x.csv", ["Name"], [["a"]]))
    with pytest.raises(ImportFileError, match="are both Phone"):
        _import(db, settings, clock, write_table(tmp_path / "y.csv", ["Email", "Phone", "Phone - Main"], [["a@b.example", 1, 2]]))
    with pytest.raises(ImportFileError, match="reads .xlsx or .csv"):
        _import(db, settings, clock, write_table(tmp_path / "z.txt", ["Email"], [["a@b.example"]]))
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(ImportFileError, match="not a readable XLSX"):
        _import(db, settings, clock, tmp_path / "broken.xlsx")


def test_country_suggestions() -> None:
    assert [suggest_country(v) for v in ("United States", "U.S.A.", "uk", "Côte d'Ivoire", "Cote dIvoire",
                                         "South Korea", "Untied Kingdom", "Narnia")] == [
        "USA", "USA", "GBR", "CIV", "CIV", "KOR", "GBR", None]
    assert len(countries.COUNTRIES) == 249 and countries.COUNTRIES["DEU"] == "Germany"


def test_cli_import_with_error_report_and_exit_code(db: Database, partners: dict[str, int], tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: \"{db.url}\"\nlogging:\n  format: text\n", encoding="utf-8")
    root = click.Group("upm-connector", commands=[import_group])
    path = write_table(tmp_path / "cli.csv", HEADER, [row("ok@customer.example"), row("us@customer.example",
                                                                                      Country="United States")])
    errors = tmp_path / "errors.xlsx"

    dry = CliRunner().invoke(root, ["import", "prospects", str(path), "--dry-run"], obj={"config_path": config})
    assert dry.exit_code == 1, dry.output
    assert "1 would be created" in dry.output and "row 3: Country: 'United States'" in dry.output
    assert _count(db, Prospect) == 0

    result = CliRunner().invoke(root, ["import", "prospects", str(path), "--error-report", str(errors)],
                                obj={"config_path": config})
    assert result.exit_code == 1, result.output
    assert "1 were created" in result.output and f"1 problem(s) written to {errors}" in result.output
    assert list(_prospects(db)) == ["ok@customer.example"]
    assert load_workbook(errors).worksheets[0]["D2"].value == \
        "Country: 'United States' is not a valid code; did you mean 'USA'?"

    missing = CliRunner().invoke(root, ["import", "prospects", str(write_table(tmp_path / "n.csv", ["Name"], [["x"]]))],
                                 obj={"config_path": config})
    assert missing.exit_code == 2 and "no Email column" in missing.output


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_progress_is_told_the_files_rows_and_its_total(
    db: Database, settings: LeadSettings, clock: ManualClock, tmp_path: Path, suffix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prospects, "CHUNK", 2)
    path = write_table(tmp_path / f"leads{suffix}", HEADER,
                       [row(f"p{n}@customer.example") for n in range(4)] + [row("not-an-email")])
    told: list[tuple[int, int | None]] = []
    report = _import(db, settings, clock, path, progress=lambda records, total: told.append((records, total)))
    assert (report.created, report.failed) == (4, 1)
    assert told == [(2, 5), (2, 5), (1, 5)], "every row counted, the failed one too, against the file's total"
