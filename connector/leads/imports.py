"""Import prospects from an XLSX or CSV file (the portal's Import Prospects).

Columns are matched by name whatever the case, spacing or punctuation ("First Name", "first_name",
"FIRSTNAME"); other columns are reported and ignored. Rows are read as a stream (openpyxl
read-only, or csv), validated, and written `CHUNK` rows per transaction, each row in its own
savepoint, so one bad row never loses the others. Every problem is one line of the error report:
row number (the header is row 1), field, value and a message such as
"Country: 'United States' is not a valid code; did you mean 'USA'?".

Keys (`update_on`):
- none: every row creates a prospect; an email already in the datastore, or earlier in the file,
  is an error (nothing is duplicated silently);
- "email": the prospect with that email (case-insensitive) is updated, else one is created;
- "external-id": the prospect whose CRM id (its binding, on any connection) is the row's External
  ID is updated; an External ID no prospect has is an error, as a new prospect could not keep it.
On update an empty cell keeps the stored value.

Assignment (seed: "Record Assignment During Import"): `RecordAssignTo` names a partner group, a
partner user (email) or a partner account; `AccessType` says which (Group, User or Account) and may
be left empty (an email is a user, else a group, else an account of that name). The seed's
AccessType is the kind of assignee, not the access level: a Read-Only/Read-Write value there is
refused with a pointer to the optional `Access Level` column (default: the configured
`leads.default_access_type`). Such rows are assigned through the distribution service; every
other new prospect, and an updated one never distributed, is distributed by the rules.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.config.settings import LeadSettings
from connector.leads import lifecycle
from connector.leads.errors import InvalidTransition, LeadError
from connector.leads.service import LeadService
from connector.store.bindings import Binding
from connector.store.database import Database
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerUser
from connector.store.records import Campaign, Prospect

UPDATE_KEYS = ("email", "external-id")
CHUNK = 500
ACTOR = "import"

_ISO_3166 = """\
ABW AW Aruba
AFG AF Afghanistan|Islamic Republic of Afghanistan
AGO AO Angola|Republic of Angola
AIA AI Anguilla
ALA AX Åland Islands
ALB AL Albania|Republic of Albania
AND AD Andorra|Principality of Andorra
ARE AE United Arab Emirates
ARG AR Argentina|Argentine Republic
ARM AM Armenia|Republic of Armenia
ASM AS American Samoa
ATA AQ Antarctica
ATF TF French Southern Territories
ATG AG Antigua and Barbuda
AUS AU Australia
AUT AT Austria|Republic of Austria
AZE AZ Azerbaijan|Republic of Azerbaijan
BDI BI Burundi|Republic of Burundi
BEL BE Belgium|Kingdom of Belgium
BEN BJ Benin|Republic of Benin
BES BQ Bonaire, Sint Eustatius and Saba
BFA BF Burkina Faso
BGD BD Bangladesh|People's Republic of Bangladesh
BGR BG Bulgaria|Republic of Bulgaria
BHR BH Bahrain|Kingdom of Bahrain
BHS BS Bahamas|Commonwealth of the Bahamas
BIH BA Bosnia and Herzegovina|Republic of Bosnia and Herzegovina
BLM BL Saint Barthélemy
BLR BY Belarus|Republic of Belarus
BLZ BZ Belize
BMU BM Bermuda
BOL BO Bolivia, Plurinational State of|Bolivia|Plurinational State of Bolivia
BRA BR Brazil|Federative Republic of Brazil
BRB BB Barbados
BRN BN Brunei Darussalam
BTN BT Bhutan|Kingdom of Bhutan
BVT BV Bouvet Island
BWA BW Botswana|Republic of Botswana
CAF CF Central African Republic
CAN CA Canada
CCK CC Cocos (Keeling) Islands
CHE CH Switzerland|Swiss Confederation
CHL CL Chile|Republic of Chile
CHN CN China|People's Republic of China
CIV CI Côte d'Ivoire|Republic of Côte d'Ivoire
CMR CM Cameroon|Republic of Cameroon
COD CD Congo, The Democratic Republic of the
COG CG Congo|Republic of the Congo
COK CK Cook Islands
COL CO Colombia|Republic of Colombia
COM KM Comoros|Union of the Comoros
CPV CV Cabo Verde|Republic of Cabo Verde
CRI CR Costa Rica|Republic of Costa Rica
CUB CU Cuba|Republic of Cuba
CUW CW Curaçao
CXR CX Christmas Island
CYM KY Cayman Islands
CYP CY Cyprus|Republic of Cyprus
CZE CZ Czechia|Czech Republic
DEU DE Germany|Federal Republic of Germany
DJI DJ Djibouti|Republic of Djibouti
DMA DM Dominica|Commonwealth of Dominica
DNK DK Denmark|Kingdom of Denmark
DOM DO Dominican Republic
DZA DZ Algeria|People's Democratic Republic of Algeria
ECU EC Ecuador|Republic of Ecuador
EGY EG Egypt|Arab Republic of Egypt
ERI ER Eritrea|the State of Eritrea
ESH EH Western Sahara
ESP ES Spain|Kingdom of Spain
EST EE Estonia|Republic of Estonia
ETH ET Ethiopia|Federal Democratic Republic of Ethiopia
FIN FI Finland|Republic of Finland
FJI FJ Fiji|Republic of Fiji
FLK FK Falkland Islands (Malvinas)
FRA FR France|French Republic
FRO FO Faroe Islands
FSM FM Micronesia, Federated States of|Federated States of Micronesia
GAB GA Gabon|Gabonese Republic
GBR GB United Kingdom|United Kingdom of Great Britain and Northern Ireland
GEO GE Georgia
GGY GG Guernsey
GHA GH Ghana|Republic of Ghana
GIB GI Gibraltar
GIN GN Guinea|Republic of Guinea
GLP GP Guadeloupe
GMB GM Gambia|Republic of the Gambia
GNB GW Guinea-Bissau|Republic of Guinea-Bissau
GNQ GQ Equatorial Guinea|Republic of Equatorial Guinea
GRC GR Greece|Hellenic Republic
GRD GD Grenada
GRL GL Greenland
GTM GT Guatemala|Republic of Guatemala
GUF GF French Guiana
GUM GU Guam
GUY GY Guyana|Republic of Guyana
HKG HK Hong Kong|Hong Kong Special Administrative Region of China
HMD HM Heard Island and McDonald Islands
HND HN Honduras|Republic of Honduras
HRV HR Croatia|Republic of Croatia
HTI HT Haiti|Republic of Haiti
HUN HU Hungary
IDN ID Indonesia|Republic of Indonesia
IMN IM Isle of Man
IND IN India|Republic of India
IOT IO British Indian Ocean Territory
IRL IE Ireland
IRN IR Iran, Islamic Republic of|Iran|Islamic Republic of Iran
IRQ IQ Iraq|Republic of Iraq
ISL IS Iceland|Republic of Iceland
ISR IL Israel|State of Israel
ITA IT Italy|Italian Republic
JAM JM Jamaica
JEY JE Jersey
JOR JO Jordan|Hashemite Kingdom of Jordan
JPN JP Japan
KAZ KZ Kazakhstan|Republic of Kazakhstan
KEN KE Kenya|Republic of Kenya
KGZ KG Kyrgyzstan|Kyrgyz Republic
KHM KH Cambodia|Kingdom of Cambodia
KIR KI Kiribati|Republic of Kiribati
KNA KN Saint Kitts and Nevis
KOR KR Korea, Republic of|South Korea
KWT KW Kuwait|State of Kuwait
LAO LA Lao People's Democratic Republic|Laos
LBN LB Lebanon|Lebanese Republic
LBR LR Liberia|Republic of Liberia
LBY LY Libya
LCA LC Saint Lucia
LIE LI Liechtenstein|Principality of Liechtenstein
LKA LK Sri Lanka|Democratic Socialist Republic of Sri Lanka
LSO LS Lesotho|Kingdom of Lesotho
LTU LT Lithuania|Republic of Lithuania
LUX LU Luxembourg|Grand Duchy of Luxembourg
LVA LV Latvia|Republic of Latvia
MAC MO Macao|Macao Special Administrative Region of China
MAF MF Saint Martin (French part)
MAR MA Morocco|Kingdom of Morocco
MCO MC Monaco|Principality of Monaco
MDA MD Moldova, Republic of|Moldova|Republic of Moldova
MDG MG Madagascar|Republic of Madagascar
MDV MV Maldives|Republic of Maldives
MEX MX Mexico|United Mexican States
MHL MH Marshall Islands|Republic of the Marshall Islands
MKD MK North Macedonia|Republic of North Macedonia
MLI ML Mali|Republic of Mali
MLT MT Malta|Republic of Malta
MMR MM Myanmar|Republic of Myanmar
MNE ME Montenegro
MNG MN Mongolia
MNP MP Northern Mariana Islands|Commonwealth of the Northern Mariana Islands
MOZ MZ Mozambique|Republic of Mozambique
MRT MR Mauritania|Islamic Republic of Mauritania
MSR MS Montserrat
MTQ MQ Martinique
MUS MU Mauritius|Republic of Mauritius
MWI MW Malawi|Republic of Malawi
MYS MY Malaysia
MYT YT Mayotte
NAM NA Namibia|Republic of Namibia
NCL NC New Caledonia
NER NE Niger|Republic of the Niger
NFK NF Norfolk Island
NGA NG Nigeria|Federal Republic of Nigeria
NIC NI Nicaragua|Republic of Nicaragua
NIU NU Niue
NLD NL Netherlands|Kingdom of the Netherlands
NOR NO Norway|Kingdom of Norway
NPL NP Nepal|Federal Democratic Republic of Nepal
NRU NR Nauru|Republic of Nauru
NZL NZ New Zealand
OMN OM Oman|Sultanate of Oman
PAK PK Pakistan|Islamic Republic of Pakistan
PAN PA Panama|Republic of Panama
PCN PN Pitcairn
PER PE Peru|Republic of Peru
PHL PH Philippines|Republic of the Philippines
PLW PW Palau|Republic of Palau
PNG PG Papua New Guinea|Independent State of Papua New Guinea
POL PL Poland|Republic of Poland
PRI PR Puerto Rico
PRK KP Korea, Democratic People's Republic of|North Korea|Democratic People's Republic of Korea
PRT PT Portugal|Portuguese Republic
PRY PY Paraguay|Republic of Paraguay
PSE PS Palestine, State of|the State of Palestine
PYF PF French Polynesia
QAT QA Qatar|State of Qatar
REU RE Réunion
ROU RO Romania
RUS RU Russian Federation
RWA RW Rwanda|Rwandese Republic
SAU SA Saudi Arabia|Kingdom of Saudi Arabia
SDN SD Sudan|Republic of the Sudan
SEN SN Senegal|Republic of Senegal
SGP SG Singapore|Republic of Singapore
SGS GS South Georgia and the South Sandwich Islands
SHN SH Saint Helena, Ascension and Tristan da Cunha
SJM SJ Svalbard and Jan Mayen
SLB SB Solomon Islands
SLE SL Sierra Leone|Republic of Sierra Leone
SLV SV El Salvador|Republic of El Salvador
SMR SM San Marino|Republic of San Marino
SOM SO Somalia|Federal Republic of Somalia
SPM PM Saint Pierre and Miquelon
SRB RS Serbia|Republic of Serbia
SSD SS South Sudan|Republic of South Sudan
STP ST Sao Tome and Principe|Democratic Republic of Sao Tome and Principe
SUR SR Suriname|Republic of Suriname
SVK SK Slovakia|Slovak Republic
SVN SI Slovenia|Republic of Slovenia
SWE SE Sweden|Kingdom of Sweden
SWZ SZ Eswatini|Kingdom of Eswatini
SXM SX Sint Maarten (Dutch part)
SYC SC Seychelles|Republic of Seychelles
SYR SY Syrian Arab Republic|Syria
TCA TC Turks and Caicos Islands
TCD TD Chad|Republic of Chad
TGO TG Togo|Togolese Republic
THA TH Thailand|Kingdom of Thailand
TJK TJ Tajikistan|Republic of Tajikistan
TKL TK Tokelau
TKM TM Turkmenistan
TLS TL Timor-Leste|Democratic Republic of Timor-Leste
TON TO Tonga|Kingdom of Tonga
TTO TT Trinidad and Tobago|Republic of Trinidad and Tobago
TUN TN Tunisia|Republic of Tunisia
TUR TR Türkiye|Republic of Türkiye
TUV TV Tuvalu
TWN TW Taiwan, Province of China|Taiwan
TZA TZ Tanzania, United Republic of|Tanzania|United Republic of Tanzania
UGA UG Uganda|Republic of Uganda
UKR UA Ukraine
UMI UM United States Minor Outlying Islands
URY UY Uruguay|Eastern Republic of Uruguay
USA US United States|United States of America
UZB UZ Uzbekistan|Republic of Uzbekistan
VAT VA Holy See (Vatican City State)
VCT VC Saint Vincent and the Grenadines
VEN VE Venezuela, Bolivarian Republic of|Venezuela|Bolivarian Republic of Venezuela
VGB VG Virgin Islands, British|British Virgin Islands
VIR VI Virgin Islands, U.S.|Virgin Islands of the United States
VNM VN Viet Nam|Vietnam|Socialist Republic of Viet Nam
VUT VU Vanuatu|Republic of Vanuatu
WLF WF Wallis and Futuna
WSM WS Samoa|Independent State of Samoa
YEM YE Yemen|Republic of Yemen
ZAF ZA South Africa|Republic of South Africa
ZMB ZM Zambia|Republic of Zambia
ZWE ZW Zimbabwe|Republic of Zimbabwe
"""
"""ISO 3166-1 countries: alpha-3, alpha-2, then the names (short|official or common), one a line."""

COUNTRY_ALIASES = {
    "UK": "GBR", "Great Britain": "GBR", "Britain": "GBR", "England": "GBR", "Scotland": "GBR", "Wales": "GBR",
    "Northern Ireland": "GBR", "America": "USA", "U.S.A.": "USA", "Holland": "NLD", "The Netherlands": "NLD",
    "Russia": "RUS", "Czech Republic": "CZE", "Turkey": "TUR", "Ivory Coast": "CIV", "UAE": "ARE",
    "Korea": "KOR", "Macedonia": "MKD", "Swaziland": "SWZ", "Burma": "MMR", "Cape Verde": "CPV",
    "Vatican": "VAT", "Palestine": "PSE", "Brunei": "BRN", "East Timor": "TLS",
}
"""Everyday names the ISO names do not cover, for the suggestion."""


def _fold(text: str) -> str:
    """Letters and digits only, accents dropped, case folded: 'Côte d'Ivoire' -> 'cotedivoire'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^0-9a-z]", "", plain.casefold())


def _country_tables() -> tuple[dict[str, str], dict[str, str]]:
    names: dict[str, str] = {}
    lookup: dict[str, str] = {}
    for line in _ISO_3166.splitlines():
        alpha3, alpha2, spelled = line.split(" ", 2)
        names[alpha3] = spelled.split("|")[0]
        lookup[_fold(alpha2)] = alpha3
        for name in spelled.split("|"):
            lookup[_fold(name)] = alpha3
    for alias, alpha3 in COUNTRY_ALIASES.items():
        lookup[_fold(alias)] = alpha3
    return names, lookup


COUNTRIES, _COUNTRY_LOOKUP = _country_tables()
"""ISO 3166-1 alpha-3 code -> short name."""


def suggest_country(value: str) -> str | None:
    """The alpha-3 code a country name, alpha-2 code or near-miss most likely means."""
    folded = _fold(value)
    if folded in _COUNTRY_LOOKUP:
        return _COUNTRY_LOOKUP[folded]
    names = [key for key in _COUNTRY_LOOKUP if len(key) > 3]
    close = difflib.get_close_matches(folded, names, n=1, cutoff=0.85)
    return _COUNTRY_LOOKUP[close[0]] if close else None


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, unknown format, a required column missing)."""


class Invalid(ValueError):
    """A cell's value is refused; the message follows the value ("is not a whole number")."""


@dataclass(frozen=True)
class RowError:
    """One problem with one row: the error report's line."""

    row: int
    field: str
    value: str
    message: str


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would do)."""

    source: str
    dry_run: bool
    update_on: str | None
    rows: int = 0
    created: int = 0
    updated: int = 0
    assigned: int = 0
    distributed: Counter[str] = field(default_factory=Counter)
    """New leads distributed by the rules, by the distribution state they reached."""
    not_assigned: int = 0
    """Rows imported whose assignment or distribution the service refused (they are in `errors`)."""
    errors: list[RowError] = field(default_factory=list)
    failed_rows: set[int] = field(default_factory=set)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Rows not imported."""
        return len(self.failed_rows)

    def fail(self, error: RowError) -> None:
        self.errors.append(error)
        self.failed_rows.add(error.row)

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        lines = [f"{self.source}: {self.rows} row(s) read; {self.created} {verb} created, {self.updated} {verb} "
                 f"updated, {self.failed} failed"]
        if self.dry_run:
            lines.append(f"{self.assigned} would be assigned as RecordAssignTo says, the other new ones distributed "
                         "by the rules; nothing was written")
        else:
            states = ", ".join(f"{count} {state}" for state, count in sorted(self.distributed.items())) or "none"
            lines.append(f"{self.assigned} assigned as RecordAssignTo says; distributed by the rules: {states}")
            if self.not_assigned:
                lines.append(f"{self.not_assigned} imported row(s) could not be assigned (see the errors)")
        if self.ignored_columns:
            lines.append(f"ignored column(s): {', '.join(self.ignored_columns)}")
        return lines


def _text(limit: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > limit:
            raise Invalid(f"is longer than {limit} characters")
        return value
    return parse


_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def parse_email(value: str) -> str:
    if len(value) > 320 or not _EMAIL.match(value) or ".." in value:
        raise Invalid("is not a valid email address")
    return value


def parse_whole_number(value: str) -> int:
    cleaned = value.replace(",", "").replace(" ", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise Invalid("is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0 or number >= 2**31:
        raise Invalid("is not a whole number from 0 to 2147483647")
    return int(number)


def parse_amount(value: str) -> Decimal:
    cleaned = re.sub(r"[\s,$€£¥]", "", value)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise Invalid("is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 16:
        raise Invalid("is not an amount from 0 to 9999999999999999.99")
    return amount.quantize(Decimal("0.01"))


def parse_country(value: str) -> str:
    code = value.strip().upper()
    if code in COUNTRIES:
        return code
    suggestion = suggest_country(value)
    if suggestion:
        raise Invalid(f"is not a valid code; did you mean '{suggestion}'?")
    raise Invalid("is not a valid ISO 3166 alpha-3 country code (e.g. USA, GBR, DEU)")


@dataclass(frozen=True)
class Column:
    """A column of the import template: its header, the Prospect attribute it fills (None: a control
    column) and how a cell is checked."""

    header: str
    attribute: str | None
    parse: Callable[[str], Any] = field(default=lambda value: value)
    aliases: tuple[str, ...] = ()


EMAIL, EXTERNAL_ID, ASSIGN_TO, ACCESS_TYPE, ACCESS_LEVEL = "Email", "External ID", "RecordAssignTo", "AccessType", "Access Level"
SEGMENT, CAMPAIGN = "Segment", "Campaign"

COLUMNS: tuple[Column, ...] = (
    Column(EMAIL, "email", parse_email, ("Email Address", "E-mail")),
    Column("First Name", "first_name", _text(120)),
    Column("Last Name", "last_name", _text(120)),
    Column("Title", "title", _text(120), ("Job Title",)),
    Column("Phone", "phone", _text(40), ("Phone - Main", "Main Phone")),
    Column("Mobile", "mobile_phone", _text(40), ("Phone - Mobile", "Mobile Phone")),
    Column("Company Name", "company_name", _text(255), ("Company",)),
    Column("Website", "company_website", _text(255), ("Company Website",)),
    Column("Employees", "company_employees", parse_whole_number, ("Number of Employees",)),
    Column("Annual Revenue", "company_annual_revenue", parse_amount),
    Column("Industry", "industry", _text(120)),
    Column("Street", "street", _text(255), ("Address",)),
    Column("City", "city", _text(120)),
    Column("State", "state", _text(80), ("State/Province", "Province")),
    Column("Postal Code", "postal_code", _text(20), ("Zip", "Zip Code", "Postcode")),
    Column("Country", "country", parse_country),
    Column("Lead Source", "lead_source", _text(80), ("Source",)),
    Column(SEGMENT, "segment"),
    Column("Product Interest", "product_interest", _text(255)),
    Column(CAMPAIGN, "campaign_id"),
    Column(EXTERNAL_ID, None, _text(64), ("ExternalId", "CRM ID")),
    Column(ASSIGN_TO, None, _text(320)),
    Column(ACCESS_TYPE, None),
    Column(ACCESS_LEVEL, None),
)
COLUMNS_BY_KEY = {_fold(name): c for c in COLUMNS for name in (c.header, *c.aliases)}


def cell_text(value: object) -> str | None:
    """A cell as trimmed text (a whole float from Excel loses its '.0'); None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


@contextmanager
def open_table(path: Path) -> Iterator[tuple[list[str | None], Iterator[tuple[int, Sequence[object]]]]]:
    """The header cells and a stream of (row number, cells) of an .xlsx (first sheet) or .csv file."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except (OSError, ValueError, KeyError, BadZipFile, InvalidFileException) as exc:
            raise ImportFileError(f"{path}: not a readable XLSX file ({exc})") from None
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            header = next(rows, ())
            yield [cell_text(c) for c in header], ((n, cells) for n, cells in enumerate(rows, start=2))
        finally:
            workbook.close()
    elif suffix == ".csv":
        try:
            stream = path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ImportFileError(f"{path}: {exc.strerror}") from None
        with stream:
            sample = stream.read(65536)
            stream.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(stream, dialect)
            header = next(reader, [])
            yield [cell_text(c) for c in header], ((n, cells) for n, cells in enumerate(reader, start=2))
    else:
        raise ImportFileError(f"{path}: import reads .xlsx or .csv files, not '{suffix or 'no extension'}'")


def map_headers(headers: Sequence[str | None]) -> tuple[dict[int, Column], list[str]]:
    """Which template column each file column is, and the file's columns that are none."""
    mapped: dict[int, Column] = {}
    first: dict[str, str] = {}
    ignored = []
    for index, name in enumerate(headers):
        if name is None:
            continue
        column = COLUMNS_BY_KEY.get(_fold(name))
        if column is None:
            ignored.append(name)
            continue
        if column.header in first:
            raise ImportFileError(f"columns '{first[column.header]}' and '{name}' are both {column.header}")
        first[column.header] = name
        mapped[index] = column
    return mapped, ignored


@dataclass(frozen=True)
class Assignee:
    """Who a row's RecordAssignTo names."""

    kind: str  # user, group, account
    id: int
    label: str
    access_type: str


@dataclass
class ImportRow:
    """A valid row: the Prospect attributes it sets, its key and its assignee."""

    number: int
    values: dict[str, Any]
    email: str
    external_id: str | None
    assignee: Assignee | None


class Directory:
    """Campaigns, groups, users and partner accounts by the names a file uses, read once per import."""

    def __init__(self, session: Session):
        self.campaigns: dict[str, int] = {}
        for campaign_id, name, crm_id in session.execute(select(Campaign.id, Campaign.name, Campaign.crm_campaign_id)
                                                         .where(Campaign.archived_at.is_(None))):
            self.campaigns.setdefault(_fold(name), campaign_id)
            if crm_id:
                self.campaigns.setdefault(crm_id.strip().lower(), campaign_id)
        self.groups = {name.strip().casefold(): group_id
                       for group_id, name in session.execute(select(PartnerGroup.id, PartnerGroup.name))}
        self.users = {email.strip().lower(): user_id
                      for user_id, email in session.execute(select(PartnerUser.id, PartnerUser.email)
                                                            .where(PartnerUser.active.is_(True),
                                                                   PartnerUser.approved.is_(True)))}
        self.accounts: dict[str, list[int]] = {}
        for account_id, name in session.execute(select(PartnerAccount.id, PartnerAccount.name)
                                                .where(PartnerAccount.active.is_(True))):
            self.accounts.setdefault(name.strip().casefold(), []).append(account_id)

    def campaign(self, value: str) -> int:
        found = self.campaigns.get(value.strip().lower()) or self.campaigns.get(_fold(value))
        if found is None:
            raise Invalid("is not a campaign's name or CRM campaign id")
        return found


_ASSIGNEE_KINDS = {"group": "group", "user": "user", "account": "account"}
_ACCESS_LEVELS = {"readonly": "Read-Only", "readwrite": "Read-Write"}


class RowChecker:
    """Validates one row against the template, the lead settings and the directory."""

    def __init__(self, columns: dict[int, Column], directory: Directory, lead_settings: LeadSettings):
        self.columns = columns
        self.directory = directory
        self.default_access = lead_settings.default_access_type
        self.segments = {_fold(s): s for s in lead_settings.segment_sla_days}
        lookups = {SEGMENT: self.segment, CAMPAIGN: directory.campaign}
        self.parsers = {index: lookups.get(column.header, column.parse) for index, column in columns.items()}

    def segment(self, value: str) -> str:
        found = self.segments.get(_fold(value))
        if found is None:
            raise Invalid(f"is not one of {', '.join(self.segments.values())}")
        return found

    def check(self, number: int, cells: Sequence[object]) -> tuple[ImportRow | None, list[RowError]]:
        """The row's values, or None with every problem found in it."""
        errors: list[RowError] = []
        values: dict[str, Any] = {}
        control: dict[str, str] = {}
        for index, column in self.columns.items():
            text = cell_text(cells[index]) if index < len(cells) else None
            if text is None:
                continue
            try:
                parsed = self.parsers[index](text)
            except Invalid as exc:
                errors.append(RowError(number, column.header, text, f"{column.header}: '{text}' {exc}"))
                continue
            if column.attribute is None:
                control[column.header] = parsed
            else:
                values[column.attribute] = parsed
        if "email" not in values and not any(e.field == EMAIL for e in errors):
            errors.append(RowError(number, EMAIL, "", f"{EMAIL}: a value is required"))
        assignee = self._assignee(number, control, errors)
        if errors:
            return None, errors
        return ImportRow(number, values, values["email"], control.get(EXTERNAL_ID), assignee), []

    def _assignee(self, number: int, control: dict[str, str], errors: list[RowError]) -> Assignee | None:
        target, kind_text, level_text = control.get(ASSIGN_TO), control.get(ACCESS_TYPE), control.get(ACCESS_LEVEL)
        access = self.default_access
        if level_text is not None:
            access = _ACCESS_LEVELS.get(_fold(level_text), "")
            if not access:
                errors.append(RowError(number, ACCESS_LEVEL, level_text,
                                       f"{ACCESS_LEVEL}: '{level_text}' is not Read-Only or Read-Write"))
        kind = None
        if kind_text is not None:
            kind = _ASSIGNEE_KINDS.get(_fold(kind_text))
            if kind is None:
                hint = (" - that is an access level: put it in an 'Access Level' column"
                        if _fold(kind_text) in _ACCESS_LEVELS else "")
                errors.append(RowError(number, ACCESS_TYPE, kind_text,
                                       f"{ACCESS_TYPE}: '{kind_text}' is not Group, User or Account{hint}"))
                return None
        if target is None:
            if kind_text is not None:
                errors.append(RowError(number, ACCESS_TYPE, kind_text,
                                       f"{ACCESS_TYPE}: '{kind_text}' is given without a {ASSIGN_TO}"))
            return None
        try:
            kind, assignee_id = self._resolve(target, kind)
        except Invalid as exc:
            errors.append(RowError(number, ASSIGN_TO, target, f"{ASSIGN_TO}: '{target}' {exc}"))
            return None
        return Assignee(kind, assignee_id, target, access)

    def _resolve(self, target: str, kind: str | None) -> tuple[str, int]:
        directory, key = self.directory, target.strip().casefold()
        if kind is None:
            kind = "user" if "@" in target else ("group" if key in directory.groups else "account")
            if kind == "account" and key not in directory.accounts:
                raise Invalid("is no partner group, partner user's email or partner account")
        if kind == "user":
            if key not in directory.users:
                raise Invalid("is not the email of an approved active partner user")
            return kind, directory.users[key]
        if kind == "group":
            if key not in directory.groups:
                raise Invalid("is not a partner group")
            return kind, directory.groups[key]
        accounts = directory.accounts.get(key, [])
        if len(accounts) != 1:
            raise Invalid("is not an active partner account" if not accounts
                          else f"names {len(accounts)} partner accounts; assign to a user or a group instead")
        return kind, accounts[0]


class KeyProblem(Exception):
    """A row's key forbids it (a repeat, an ambiguous or unknown key)."""

    def __init__(self, field_name: str, value: str, problem: str):
        super().__init__(problem)
        self.field_name, self.value, self.problem = field_name, value, problem


class KeyIndex:
    """Matches rows to stored prospects on the chosen key, and remembers the keys already in the file."""

    def __init__(self, update_on: str | None):
        self.update_on = update_on
        self.seen: dict[str, tuple[int, int | None]] = {}
        """key -> (the first row with it, the prospect it wrote; None on a dry run)."""
        self.stored: dict[str, list[int]] = {}

    def key(self, row: ImportRow) -> str:
        return (row.external_id or "") if self.update_on == "external-id" else row.email.lower()

    def prefetch(self, session: Session, rows: Sequence[ImportRow]) -> None:
        """Read the stored prospects the chunk's keys name, in one query."""
        keys = {self.key(row) for row in rows} - {""}
        found: dict[str, set[int]] = {}
        if self.update_on == "external-id":
            query = select(Binding.crm_id, Binding.record_id).where(Binding.module == "prospect",
                                                                   Binding.crm_id.in_(keys))
        else:
            query = select(func.lower(Prospect.email), Prospect.id).where(
                func.lower(Prospect.email).in_(keys), Prospect.archived_at.is_(None))
        for key, prospect_id in session.execute(query):
            found.setdefault(key, set()).add(prospect_id)
        self.stored = {key: sorted(ids) for key, ids in found.items()}

    def match(self, row: ImportRow) -> tuple[bool, int | None]:
        """(whether the row updates a prospect, that prospect's id when known). Raises KeyProblem
        when the key forbids the row."""
        key = self.key(row)
        if self.update_on == "external-id" and not key:
            raise KeyProblem(EXTERNAL_ID, "", "a value is required to update on the external id")
        field_name, value = (EXTERNAL_ID, key) if self.update_on == "external-id" else (EMAIL, row.email)
        if key in self.seen:
            first_row, prospect_id = self.seen[key]
            if self.update_on is None:
                raise KeyProblem(field_name, value, f"repeats row {first_row} (use --update-on email to update)")
            return True, prospect_id
        stored = self.stored.get(key, [])
        if len(stored) > 1:
            raise KeyProblem(field_name, value, f"matches {len(stored)} prospects ({', '.join(map(str, stored))})")
        if self.update_on is None and stored:
            raise KeyProblem(field_name, value, f"already exists (prospect {stored[0]}); use --update-on email to "
                                               "update it")
        if self.update_on == "external-id" and not stored:
            raise KeyProblem(field_name, value, "is no prospect's CRM id")
        return bool(stored), stored[0] if stored else None

    def remember(self, row: ImportRow, prospect_id: int | None) -> None:
        self.seen.setdefault(self.key(row), (row.number, prospect_id))


class ProspectImport:
    """One import run: checks and writes rows chunk by chunk, then places the new leads."""

    def __init__(self, db: Database, report: ImportReport, service: LeadService):
        self.db = db
        self.report = report
        self.keys = KeyIndex(report.update_on)
        self.service = service

    def load(self, rows: Sequence[ImportRow]) -> None:
        """Write a chunk (each row in its own savepoint), commit it, then assign or distribute it."""
        placements: list[tuple[ImportRow, int, bool]] = []
        with self.db.session() as session:
            self.keys.prefetch(session, rows)
            targets = [prospect_id for ids in self.keys.stored.values() for prospect_id in ids]
            list(session.scalars(select(Prospect).where(Prospect.id.in_(targets))))  # one read into the identity map
            for row in rows:
                try:
                    updates, prospect_id = self.keys.match(row)
                except KeyProblem as exc:
                    self.report.fail(RowError(row.number, exc.field_name, exc.value,
                                              f"{exc.field_name}: '{exc.value}' {exc.problem}"))
                    continue
                if self.report.dry_run:
                    self._count(row, updates, prospect_id)
                    continue
                try:
                    with session.begin_nested():
                        prospect = self._write(session, row, prospect_id)
                except SQLAlchemyError as exc:
                    cause = getattr(exc, "orig", None) or exc
                    self.report.fail(RowError(row.number, "(row)", "", f"not saved: {cause}"))
                    continue
                self._count(row, updates, prospect.id)
                placements.append((row, prospect.id, prospect.distribution_state == lifecycle.NEW))
        for row, prospect_id, undistributed in placements:
            self._place(row, prospect_id, undistributed)

    def _count(self, row: ImportRow, updates: bool, prospect_id: int | None) -> None:
        self.keys.remember(row, prospect_id)
        if updates:
            self.report.updated += 1
        else:
            self.report.created += 1
        if row.assignee is not None and self.report.dry_run:
            self.report.assigned += 1

    def _write(self, session: Session, row: ImportRow, prospect_id: int | None) -> Prospect:
        prospect = session.get(Prospect, prospect_id) if prospect_id is not None else None
        values = row.values
        if prospect is None:
            prospect = Prospect()
            session.add(prospect)
        elif self.keys.update_on == "email":  # the key matched case-insensitively: the stored spelling stays
            values = {name: value for name, value in values.items() if name != "email"}
        for attribute, value in values.items():
            setattr(prospect, attribute, value)
        session.flush()
        return prospect

    def _place(self, row: ImportRow, prospect_id: int, undistributed: bool) -> None:
        """Give the lead to its RecordAssignTo, or distribute it by the rules when it never was."""
        assignee = row.assignee
        try:
            if assignee is not None:
                self.service.assign(prospect_id, f"{assignee.kind}:{assignee.id}", access_type=assignee.access_type,
                                    reason=f"import {Path(self.report.source).name} row {row.number}", actor=ACTOR)
                self.report.assigned += 1
            elif undistributed:
                self.report.distributed[self.service.distribute(prospect_id, actor=ACTOR).state] += 1
        except LeadError as exc:
            if isinstance(exc, InvalidTransition) and assignee is None:
                return  # placed meanwhile by another process (the new-lead distribution lane)
            self.report.not_assigned += 1
            self.report.errors.append(RowError(row.number, ASSIGN_TO if assignee else "(distribution)",
                                               assignee.label if assignee else "",
                                               f"imported as prospect {prospect_id} but not assigned: {exc}"))


def import_prospects(db: Database, path: Path, *, lead_settings: LeadSettings, clock: Clock,
                     update_on: str | None = None, dry_run: bool = False) -> ImportReport:
    """Import the prospects of an .xlsx or .csv file; see the module docstring for keys and assignment.
    Raises ImportFileError when the file as a whole cannot be read; row problems are in the report."""
    if update_on not in (None, *UPDATE_KEYS):
        raise ValueError(f"update_on must be one of {', '.join(UPDATE_KEYS)} (or None), not {update_on!r}")
    report = ImportReport(str(path), dry_run, update_on)
    service = LeadService(db, lead_settings, clock, review_recipients=lead_settings.review_recipients)
    with open_table(path) as (headers, rows):
        columns, report.ignored_columns = map_headers(headers)
        present = {column.header for column in columns.values()}
        required = [EMAIL] + ([EXTERNAL_ID] if update_on == "external-id" else [])
        missing = [name for name in required if name not in present]
        if missing:
            found = ", ".join(name for name in headers if name) or "none"
            raise ImportFileError(f"{path}: no {' or '.join(missing)} column (columns found: {found})")
        with db.session() as session:
            checker = RowChecker(columns, Directory(session), lead_settings)
        run = ProspectImport(db, report, service)
        chunk: list[ImportRow] = []
        for number, cells in rows:
            if all(cell_text(cell) is None for cell in cells):
                continue
            report.rows += 1
            row, errors = checker.check(number, cells)
            for error in errors:
                report.fail(error)
            if row is not None:
                chunk.append(row)
            if len(chunk) >= CHUNK:
                run.load(chunk)
                chunk = []
        if chunk:
            run.load(chunk)
    return report


def write_error_report(errors: Sequence[RowError], path: Path) -> None:
    """The XLSX error report: one line per problem (Row, Field, Value, Error Log), in row order.
    Values are written as text, never as formulas."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Errors")
    sheet.freeze_panes = "A2"
    sheet.append(["Row", "Field", "Value", "Error Log"])
    for error in sorted(errors, key=lambda e: e.row):
        cells: list[Any] = [error.row]
        for text in (error.field, error.value, error.message):
            cell = WriteOnlyCell(sheet, text)
            cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)
