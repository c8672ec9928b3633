"""Country and email cells of an import: ISO 3166 through pycountry, syntax through email-validator,
and a refused cell in the error report under its row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from connector.clock import ManualClock
from connector.config.settings import LeadSettings
from connector.leads.imports import import_prospects, write_error_report
from connector.leads.imports.cells import parse_email
from connector.leads.imports.countries import COUNTRIES, parse_country, suggest_country
from connector.leads.imports.text import Invalid
from connector.store.database import Database
from leads.support_delivery import write_table


@pytest.mark.parametrize(("value", "code"), [
    ("GBR", "GBR"), ("gbr", "GBR"), (" deu ", "DEU"), ("CIV", "CIV"),
])
def test_an_alpha3_code_is_accepted_in_any_case(value: str, code: str) -> None:
    assert parse_country(value) == code


@pytest.mark.parametrize(("value", "suggestion"), [
    ("United Kingdom", "GBR"), ("GB", "GBR"), ("gb", "GBR"),
    ("United Kingdom of Great Britain and Northern Ireland", "GBR"), ("Germany", "DEU"),
    ("Bolivia", "BOL"), ("Taiwan", "TWN"), ("Côte d'Ivoire", "CIV"), ("Untied Kingdom", "GBR"),
])
def test_a_name_or_alpha2_code_is_refused_with_the_alpha3_it_means(value: str, suggestion: str) -> None:
    assert suggest_country(value) == suggestion
    with pytest.raises(Invalid, match=f"^is not a valid code; did you mean '{suggestion}'\\?$"):
        parse_country(value)


def test_the_country_table_is_pycountrys() -> None:
    assert len(COUNTRIES) == 249 and COUNTRIES["GBR"] == "United Kingdom"
    with pytest.raises(Invalid, match="not a valid ISO 3166 alpha-3 country code"):
        parse_country("Narnia")


@pytest.mark.parametrize(("value", "reason"), [
    ("dana.customer.example", "An email address must have an @-sign."),
    ("dana..lee@customer.example", "An email address cannot have two periods in a row."),
    ("dana@", "There must be something after the @-sign."),
    ("dana lee@customer.example", "The email address contains invalid characters before the @-sign"),
])
def test_a_bad_email_is_refused_with_email_validators_reason(value: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_email(value)
    assert str(caught.value).startswith(f"is not a valid email address ({reason}")


def test_a_good_email_is_kept_as_written() -> None:
    assert parse_email("Dana.Lee+leads@Customer.Example") == "Dana.Lee+leads@Customer.Example"


def test_a_bad_email_and_country_name_their_row_and_column_in_the_error_report(
    db: Database, settings: LeadSettings, clock: ManualClock, tmp_path: Path,
) -> None:
    path = write_table(tmp_path / "cells.csv", ["Email", "Country"], [
        ["ok@customer.example", "GB"], ["dana@@customer.example", "GBR"], ["uk@customer.example", "United Kingdom"],
    ])
    report = import_prospects(db, path, lead_settings=settings, clock=clock)
    assert (report.rows, report.created, report.failed) == (3, 0, 3)
    out = tmp_path / "errors.xlsx"
    write_error_report(report.errors, out)
    lines = [tuple(r) for r in load_workbook(out).worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert [(row, column, value) for row, column, value, _ in lines] == [
        (2, "Country", "GB"), (3, "Email", "dana@@customer.example"), (4, "Country", "United Kingdom")]
    assert lines[0][3] == "Country: 'GB' is not a valid code; did you mean 'GBR'?"
    assert lines[1][3].startswith("Email: 'dana@@customer.example' is not a valid email address (")
    assert lines[2][3] == "Country: 'United Kingdom' is not a valid code; did you mean 'GBR'?"
