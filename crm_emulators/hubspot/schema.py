"""HubSpot's CRM object types, their property definitions, and how property values are checked and stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .errors import PropertyProblem, error

CUSTOM_GROUP = "upm_connector"


@lru_cache(maxsize=4096)  # records stamped in the same moment (a seed, a batch) share the text
def iso_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot writes timestamps: `2026-01-02T03:04:05.123Z`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def epoch_ms(moment: datetime) -> int:
    """A timezone-aware datetime as epoch milliseconds."""
    return int(moment.timestamp() * 1000)


_EPOCH_MS = re.compile(r"^-?\d+$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@lru_cache(maxsize=4096)
def parse_instant(text: str) -> int | None:
    """Epoch ms from either form HubSpot accepts: epoch milliseconds or ISO-8601 (a bare date is midnight UTC)."""
    text = text.strip()
    if _EPOCH_MS.match(text):
        return int(text)
    try:
        if _DATE_ONLY.match(text):
            return epoch_ms(datetime.fromisoformat(text).replace(tzinfo=timezone.utc))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return epoch_ms(moment)


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type and the property names HubSpot treats specially."""

    name: str
    singular: str
    type_id: str
    created_property: str
    modified_properties: tuple[str, ...]
    default_properties: tuple[str, ...]
    searchable_properties: tuple[str, ...]

    @property
    def label(self) -> str:
        """Upper-case singular, as in "Could not get some CONTACT objects"."""
        return self.singular.upper()

    @property
    def system_properties(self) -> tuple[str, ...]:
        """Properties every response carries whatever was asked for."""
        return ("hs_object_id", self.created_property, *self.modified_properties)


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType(
            "contacts", "contact", "0-1", "createdate", ("lastmodifieddate", "hs_lastmodifieddate"),
            ("email", "firstname", "lastname"), ("email", "firstname", "lastname", "phone", "company"),
        ),
        ObjectType(
            "companies", "company", "0-2", "createdate", ("hs_lastmodifieddate",),
            ("domain", "name"), ("name", "domain", "phone", "website"),
        ),
        ObjectType(
            "deals", "deal", "0-3", "createdate", ("hs_lastmodifieddate",),
            ("amount", "closedate", "dealname", "dealstage", "pipeline"), ("dealname",),
        ),
        ObjectType("notes", "note", "0-46", "hs_createdate", ("hs_lastmodifieddate",), ("hs_note_body", "hs_timestamp"), ("hs_note_body",)),
    )
}
_ALIASES = {alias: t.name for t in OBJECT_TYPES.values() for alias in (t.name, t.singular, t.type_id)}


def object_type(name: str) -> ObjectType:
    """The object type for a path segment (`contacts`, `contact` or `0-1`); 400 like HubSpot otherwise."""
    canonical = _ALIASES.get(name.lower())
    if canonical is None:
        raise error(400, f"Unable to infer object type from: {name}")
    return OBJECT_TYPES[canonical]


VALUE_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool", "phone_number"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class PropertyDefinition:
    """A property of an object type, as the properties API describes it."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group_name: str = CUSTOM_GROUP
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    has_unique_value: bool = False
    hubspot_defined: bool = False
    read_only_value: bool = False
    hidden: bool = False
    created_ms: int = 0

    def normalize(self, value: Any) -> str | None:
        """The stored string for a written value; None clears it. Raises ValueError(code, message) when invalid."""
        if value is None:
            return None
        if isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        if text == "":
            return None
        if self.type == "number":
            try:
                float(text)
            except ValueError:
                raise ValueError("INVALID_INTEGER", f"{text} was not a valid number.") from None
            return text
        if self.type in ("datetime", "date"):
            ms = parse_instant(text)
            if ms is None:
                raise ValueError("INVALID_DATE", f"{text} was not a valid date.")
            if self.type == "date":
                if ms % 86_400_000:
                    raise ValueError("INVALID_DATE", f"{text} is not at midnight UTC; date properties only take dates.")
                return iso_ms(ms)[:10]
            return iso_ms(ms)
        if self.type == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError("INVALID_BOOLEAN", f"{text} was not a valid boolean.")
            return text.lower()
        if self.type == "enumeration" and self.options:
            allowed = [o["value"] for o in self.options]
            if text not in allowed:
                raise ValueError("INVALID_OPTION", f"{text} was not one of the allowed options: {allowed}")
        if self.name == "email":
            if not _EMAIL.match(text):
                raise ValueError("INVALID_EMAIL", f"Email address {text} is invalid")
            return text.lower()
        return text

    def numeric(self, stored: str) -> float | None:
        """The value used for comparing and sorting number and date properties (None for text types)."""
        if self.type == "number":
            return float(stored)
        if self.type in ("datetime", "date"):
            ms = parse_instant(stored)
            return float(ms) if ms is not None else None
        return None

    def to_json(self) -> dict[str, Any]:
        """The properties API's view of this definition."""
        stamp = iso_ms(self.created_ms)
        body: dict[str, Any] = {
            "updatedAt": stamp,
            "createdAt": stamp,
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": self.options,
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        else:
            body["archived"] = False
        body["modificationMetadata"] = {
            "archivable": not self.hubspot_defined,
            "readOnlyDefinition": self.hubspot_defined,
            "readOnlyValue": self.read_only_value,
        }
        body["formField"] = not self.read_only_value
        body["dataSensitivity"] = "non_sensitive"
        return body

    @classmethod
    def from_request(cls, body: dict[str, Any], created_ms: int) -> "PropertyDefinition":
        """A custom property from a `POST /crm/v3/properties/{type}` body; 400 when a required field is missing."""
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            raise error(400, f"Missing required fields: {', '.join(missing)}", "VALIDATION_ERROR")
        if body["type"] not in VALUE_TYPES:
            raise error(400, f"Invalid property type: {body['type']}", "VALIDATION_ERROR")
        if not re.match(r"^[a-z][a-z0-9_]*$", body["name"]):
            raise error(400, f"Property name {body['name']} must be lower case letters, numbers and underscores", "VALIDATION_ERROR")
        return cls(
            name=body["name"],
            label=body["label"],
            type=body["type"],
            field_type=body["fieldType"],
            group_name=body["groupName"],
            description=body.get("description") or "",
            options=list(body.get("options") or []),
            has_unique_value=bool(body.get("hasUniqueValue", False)),
            hidden=bool(body.get("hidden", False)),
            created_ms=created_ms,
        )


def check_value(definition: PropertyDefinition | None, name: str, value: Any) -> tuple[str | None, PropertyProblem | None]:
    """Normalize one written value, or say why HubSpot would refuse it."""
    if definition is None:
        return None, PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if definition.read_only_value:
        return None, PropertyProblem(name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
    try:
        return definition.normalize(value), None
    except ValueError as exc:
        code, message = exc.args
        return None, PropertyProblem(name, code, message)


_STANDARD: dict[str, list[tuple[str, str, str, str]]] = {
    # (name, label, type, fieldType)
    "contacts": [
        ("email", "Email", "string", "text"),
        ("firstname", "First Name", "string", "text"),
        ("lastname", "Last Name", "string", "text"),
        ("phone", "Phone Number", "string", "phonenumber"),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
        ("company", "Company Name", "string", "text"),
        ("jobtitle", "Job Title", "string", "text"),
        ("website", "Website URL", "string", "text"),
        ("address", "Street Address", "string", "text"),
        ("city", "City", "string", "text"),
        ("state", "State/Region", "string", "text"),
        ("zip", "Postal Code", "string", "text"),
        ("country", "Country/Region", "string", "text"),
        ("lifecyclestage", "Lifecycle Stage", "string", "radio"),
        ("hs_lead_status", "Lead Status", "string", "radio"),
        ("hubspot_owner_id", "Contact owner", "string", "select"),
        ("createdate", "Create Date", "datetime", "date"),
    ],
    "companies": [
        ("name", "Company name", "string", "text"),
        ("domain", "Company Domain Name", "string", "text"),
        ("website", "Website URL", "string", "text"),
        ("phone", "Phone Number", "string", "phonenumber"),
        ("industry", "Industry", "string", "select"),
        ("address", "Street Address", "string", "text"),
        ("city", "City", "string", "text"),
        ("state", "State/Region", "string", "text"),
        ("zip", "Postal Code", "string", "text"),
        ("country", "Country/Region", "string", "text"),
        ("numberofemployees", "Number of Employees", "number", "number"),
        ("annualrevenue", "Annual Revenue", "number", "number"),
        ("lifecyclestage", "Lifecycle Stage", "string", "radio"),
        ("hubspot_owner_id", "Company owner", "string", "select"),
        ("createdate", "Create Date", "datetime", "date"),
    ],
    "deals": [
        ("dealname", "Deal Name", "string", "text"),
        ("amount", "Amount", "number", "number"),
        ("dealstage", "Deal Stage", "string", "radio"),
        ("pipeline", "Pipeline", "string", "select"),
        ("closedate", "Close Date", "datetime", "date"),
        ("dealtype", "Deal Type", "string", "radio"),
        ("description", "Deal Description", "string", "textarea"),
        ("hubspot_owner_id", "Deal owner", "string", "select"),
        ("createdate", "Create Date", "datetime", "date"),
    ],
    "notes": [
        ("hs_note_body", "Note body", "string", "html"),
        ("hs_timestamp", "Activity date", "datetime", "date"),
        ("hubspot_owner_id", "Activity assigned to", "string", "select"),
        ("hs_createdate", "Created at", "datetime", "date"),
    ],
}
_CUSTOM = [
    ("upm_id", "UPM ID", "string", "text", True),
    ("partner_account", "Partner account", "string", "text", False),
    ("campaign_id", "Campaign ID", "string", "text", False),
    ("offer_id", "Offer ID", "string", "text", False),
    ("tactic_id", "Tactic ID", "string", "text", False),
    ("approval_status", "Approval status", "string", "text", False),
    # a PRM connector's custom properties: what became of the lead in the partner portal
    ("prm_status", "PRM sync status", "string", "text", False),
    ("prm_partner_account", "PRM partner account", "string", "text", False),
    ("prm_partner_rep", "PRM partner rep", "string", "text", False),
    ("prm_status_date", "PRM status date", "datetime", "date", False),
    ("prm_assigned_date", "PRM assigned date", "datetime", "date", False),
    ("prm_accepted_date", "PRM accepted date", "datetime", "date", False),
]


def default_definitions(kind: ObjectType, created_ms: int) -> list[PropertyDefinition]:
    """HubSpot's standard properties for the object type, its read-only system properties, and UPM's custom ones."""
    definitions = [
        PropertyDefinition(name, label, vtype, ftype, f"{kind.singular}information", hubspot_defined=True, created_ms=created_ms)
        for name, label, vtype, ftype in _STANDARD[kind.name]
    ]
    definitions.append(
        PropertyDefinition("hs_object_id", "Record ID", "number", "number", f"{kind.singular}information",
                           hubspot_defined=True, read_only_value=True, created_ms=created_ms)
    )
    definitions.extend(
        PropertyDefinition(name, "Last Modified Date", "datetime", "date", f"{kind.singular}information",
                           hubspot_defined=True, read_only_value=True, hidden=True, created_ms=created_ms)
        for name in kind.modified_properties
    )
    definitions.extend(
        PropertyDefinition(name, label, vtype, ftype, has_unique_value=unique, created_ms=created_ms)
        for name, label, vtype, ftype, unique in _CUSTOM
    )
    return definitions
