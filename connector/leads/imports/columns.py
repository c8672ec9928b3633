"""The import template: its columns, the aliases a file may use for them, and which file column
is which (matched whatever the case, spacing or punctuation)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.leads.imports.cells import parse_amount, parse_email, parse_whole_number, text
from connector.leads.imports.countries import parse_country
from connector.leads.imports.table import ImportFileError
from connector.leads.imports.text import fold


@dataclass(frozen=True)
class Column:
    """A column of the import template: its header, the Prospect attribute it fills (None: a control
    column) and how a cell is checked."""

    header: str
    attribute: str | None
    parse: Callable[[str], Any] = field(default=lambda value: value)
    aliases: tuple[str, ...] = ()


EMAIL, EXTERNAL_ID, ASSIGN_TO = "Email", "External ID", "RecordAssignTo"
ACCESS_TYPE, ACCESS_LEVEL = "AccessType", "Access Level"
SEGMENT, CAMPAIGN = "Segment", "Campaign"

COLUMNS: tuple[Column, ...] = (
    Column(EMAIL, "email", parse_email, ("Email Address", "E-mail")),
    Column("First Name", "first_name", text(120)),
    Column("Last Name", "last_name", text(120)),
    Column("Title", "title", text(120), ("Job Title",)),
    Column("Phone", "phone", text(40), ("Phone - Main", "Main Phone")),
    Column("Mobile", "mobile_phone", text(40), ("Phone - Mobile", "Mobile Phone")),
    Column("Company Name", "company_name", text(255), ("Company",)),
    Column("Website", "company_website", text(255), ("Company Website",)),
    Column("Employees", "company_employees", parse_whole_number, ("Number of Employees",)),
    Column("Annual Revenue", "company_annual_revenue", parse_amount),
    Column("Industry", "industry", text(120)),
    Column("Street", "street", text(255), ("Address",)),
    Column("City", "city", text(120)),
    Column("State", "state", text(80), ("State/Province", "Province")),
    Column("Postal Code", "postal_code", text(20), ("Zip", "Zip Code", "Postcode")),
    Column("Country", "country", parse_country),
    Column("Lead Source", "lead_source", text(80), ("Source",)),
    Column(SEGMENT, "segment"),
    Column("Product Interest", "product_interest", text(255)),
    Column(CAMPAIGN, "campaign_id"),
    Column(EXTERNAL_ID, None, text(64), ("ExternalId", "CRM ID")),
    Column(ASSIGN_TO, None, text(320)),
    Column(ACCESS_TYPE, None),
    Column(ACCESS_LEVEL, None),
)
COLUMNS_BY_KEY = {fold(name): c for c in COLUMNS for name in (c.header, *c.aliases)}


def map_headers(headers: Sequence[str | None]) -> tuple[dict[int, Column], list[str]]:
    """Which template column each file column is, and the file's columns that are none."""
    mapped: dict[int, Column] = {}
    first: dict[str, str] = {}
    ignored = []
    for index, name in enumerate(headers):
        if name is None:
            continue
        column = COLUMNS_BY_KEY.get(fold(name))
        if column is None:
            ignored.append(name)
            continue
        if column.header in first:
            raise ImportFileError(f"columns '{first[column.header]}' and '{name}' are both {column.header}")
        first[column.header] = name
        mapped[index] = column
    return mapped, ignored
