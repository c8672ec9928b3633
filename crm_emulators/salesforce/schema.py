"""The emulated org's objects and fields: definitions, value checks and the describe documents."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import RecordError
from .ids import normalize_id
from .timefmt import normalize_date, normalize_datetime

TEXT_TYPES = frozenset({"string", "email", "picklist", "multipicklist", "textarea", "phone", "url"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
ID_TYPES = frozenset({"id", "reference"})
FIELD_TYPES = TEXT_TYPES | NUMBER_TYPES | ID_TYPES | {"boolean", "date", "datetime"}

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_NAME_PARTS = frozenset({"Salutation", "FirstName", "MiddleName", "LastName", "Suffix"})
_ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy")
_ADDRESS_PREFIXES = frozenset({"", "Billing", "Shipping", "Mailing", "Other"})
ANY_OBJECT = "*"  # referenceTo of a polymorphic lookup such as Note.ParentId


def _label(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    base = base.replace("_", " ")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).strip()


@dataclass(frozen=True)
class FieldDef:
    """One field of an sObject, with the properties describe reports and writes enforce."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    default: Any = None
    picklist: tuple[str, ...] = ()
    name_field: bool = False

    @property
    def custom(self) -> bool:
        """Whether this is a custom (`__c`) field."""
        return self.name.endswith("__c")

    @property
    def compound_field_name(self) -> str | None:
        """The compound field this one is a part of: `Name` for FirstName, `BillingAddress` for BillingCity."""
        if not self.custom and self.name in _NAME_PARTS:
            return "Name"
        for part in _ADDRESS_PARTS:
            prefix = self.name[: -len(part)]
            if not self.custom and self.name.endswith(part) and prefix in _ADDRESS_PREFIXES:
                return f"{prefix}Address"
        return None

    @property
    def relationship_name(self) -> str | None:
        """`Account` for AccountId, `X__r` for X__c."""
        if self.type != "reference":
            return None
        if self.custom:
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else self.name

    def coerce(self, value: Any) -> Any:
        """The stored form of `value` (JSON or CSV text) for this field; raises RecordError when it does not fit."""
        if value is None or (value == "" and self.type != "boolean"):
            return False if self.type == "boolean" else None
        if isinstance(value, (dict, list)):
            raise self._wrong_type(value)
        if self.type in TEXT_TYPES:
            text = value if isinstance(value, str) else _json_scalar_text(value)
            if self.length and len(text) > self.length:
                raise RecordError(
                    "STRING_TOO_LONG",
                    f"{self.label}: data value too large: {text} (max length={self.length})",
                    [self.name],
                )
            if self.type == "email" and not _EMAIL.fullmatch(text):
                raise RecordError("INVALID_EMAIL_ADDRESS", f"{self.label}: invalid email address: {text}", [self.name])
            return text
        if self.type == "boolean":
            return self._boolean(value)
        if self.type in NUMBER_TYPES:
            return self._number(value)
        if self.type in ID_TYPES:
            normalized = normalize_id(value)
            if normalized is None:
                raise RecordError("MALFORMED_ID", f"{self.label}: id value of incorrect type: {value}", [self.name])
            return normalized
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return normalize_date(value) if self.type == "date" else normalize_datetime(value)
        except ValueError:
            raise self._wrong_type(value) from None

    def _boolean(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", ""):
            return value.strip().lower() in ("true", "1")
        raise self._wrong_type(value)

    def _number(self, value: Any) -> int | float:
        if isinstance(value, bool):
            raise self._wrong_type(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._wrong_type(value) from None
        if self.type == "int":
            if not number.is_integer():
                raise self._wrong_type(value)
            return int(number)
        return number

    def _wrong_type(self, value: Any) -> RecordError:
        return RecordError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{self.label}: value not of required type: {value}", [self.name]
        )

    def describe(self) -> dict[str, Any]:
        """This field's entry in `sobjects/X/describe`."""
        text_like = self.type in TEXT_TYPES or self.type in ID_TYPES
        polymorphic = self.reference_to == (ANY_OBJECT,) or len(self.reference_to) > 1
        return {
            "aggregatable": self.type != "textarea",
            "aiPredictionField": False,
            "autoNumber": False,
            "byteLength": self.length * 3 if text_like else 0,
            "calculated": False,
            "calculatedFormula": None,
            "cascadeDelete": False,
            "caseSensitive": False,
            "compoundFieldName": self.compound_field_name,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.default is not None or self.type == "boolean" or not self.createable,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": 9 if self.type == "int" else 0,
            "displayLocationInDecimal": False,
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": None,
            "filterable": self.type != "textarea",
            "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False,
            "groupable": self.type not in NUMBER_TYPES and self.type != "textarea",
            "highScaleNumber": False,
            "htmlFormatted": False,
            "idLookup": self.type == "id" or self.external_id,
            "inlineHelpText": None,
            "label": self.label,
            "length": self.length if text_like else 0,
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": polymorphic,
            "nillable": not self.required and self.type != "boolean" and self.type != "id",
            "permissionable": self.custom and not self.required,
            "polymorphicForeignKey": polymorphic,
            "queryByDistance": False,
            "referenceTargetField": None,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": self.type == "picklist",
            "searchPrefilterable": False,
            "writeRequiresMasterRead": False,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "precision": 18 if self.type in ("double", "currency", "percent") else 0,
            "referenceTo": [] if self.reference_to == (ANY_OBJECT,) else list(self.reference_to),
            "relationshipName": self.relationship_name,
            "scale": 2 if self.type in ("currency", "percent") else 0,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


def _json_scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class ObjectDef:
    """An sObject type: name, key prefix and fields (looked up case-insensitively, as Salesforce does)."""

    name: str
    key_prefix: str
    label_plural: str
    fields: dict[str, FieldDef]
    compound_name: tuple[str, ...] = ()
    deletable: bool = True
    _by_lower: dict[str, FieldDef] = field(default_factory=dict, repr=False)
    external_id_fields: list[FieldDef] = field(default_factory=list, repr=False)
    required_fields: list[FieldDef] = field(default_factory=list, repr=False)
    new_record: dict[str, Any] = field(default_factory=dict, repr=False)
    """What a new record holds before its values: false booleans, then field defaults."""

    def __post_init__(self) -> None:
        self._reindex()

    def _reindex(self) -> None:
        self._by_lower = {name.lower(): definition for name, definition in self.fields.items()}
        self.external_id_fields = [definition for definition in self.fields.values() if definition.external_id]
        self.required_fields = [definition for definition in self.fields.values() if definition.required]
        self.new_record = {f.name: False for f in self.fields.values() if f.type == "boolean"}
        self.new_record.update({f.name: f.default for f in self.fields.values() if f.default is not None})

    def field(self, name: str) -> FieldDef | None:
        """The field called `name` in any letter case, or None."""
        return self._by_lower.get(name.lower())

    def add_field(self, definition: FieldDef) -> None:
        """Add (or replace) a field."""
        existing = self.field(definition.name)
        if existing is not None:
            del self.fields[existing.name]
        self.fields[definition.name] = definition
        self._reindex()

    def urls(self, version: str) -> dict[str, str]:
        """The `urls` block of describe."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "rowTemplate": f"{base}/{{ID}}",
            "approvalLayouts": f"{base}/describe/approvalLayouts",
            "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
            "describe": f"{base}/describe",
            "quickActions": f"{base}/quickActions",
            "layouts": f"{base}/describe/layouts",
            "sobject": base,
        }

    def summary(self, version: str) -> dict[str, Any]:
        """This object's entry in the global describe (`sobjects/`)."""
        return {
            "activateable": False,
            "createable": True,
            "custom": False,
            "customSetting": False,
            "deletable": self.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": True,
            "hasSubtypes": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": _label(self.name),
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Lead", "Account", "Contact"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.deletable,
            "updateable": True,
            "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict[str, Any]:
        """`sobjects/X/describe`."""
        document = self.summary(version)
        document.update(
            {
                "actionOverrides": [],
                "childRelationships": [],
                "compactLayoutable": True,
                "fields": [definition.describe() for definition in self.fields.values()],
                "listviewable": None,
                "lookupLayoutable": None,
                "namedLayoutInfos": [],
                "networkScopeFieldName": None,
                "recordTypeInfos": [],
                "searchLayoutable": True,
                "supportedScopes": [{"label": "All " + self.label_plural.lower(), "name": "everything"}],
                "urls": self.urls(version),
            }
        )
        return dict(sorted(document.items()))


class Schema:
    """All sObject types of the org, looked up case-insensitively by name or by id key prefix."""

    def __init__(self, objects: Iterable[ObjectDef]) -> None:
        self.objects = {definition.name: definition for definition in objects}
        self._by_lower = {name.lower(): definition for name, definition in self.objects.items()}
        self._by_prefix = {definition.key_prefix: definition for definition in self.objects.values()}

    def get(self, name: str) -> ObjectDef | None:
        """The object called `name` in any letter case, or None."""
        return self._by_lower.get(name.lower())

    def for_id(self, record_id: str) -> ObjectDef | None:
        """The object whose key prefix starts `record_id`."""
        return self._by_prefix.get(record_id[:3])


# ---- the standard objects -------------------------------------------------------------------------------------


def _f(name: str, type_: str, length: int = 0, **options: Any) -> FieldDef:
    defaults = {"string": 255, "email": 80, "phone": 40, "url": 255, "picklist": 255, "textarea": 32000}
    if type_ in ID_TYPES:
        length = 18
    return FieldDef(name=name, type=type_, label=options.pop("label", _label(name)),
                    length=length or defaults.get(type_, 0), **options)


def _ref(name: str, *targets: str, **options: Any) -> FieldDef:
    return _f(name, "reference", reference_to=targets, **options)


def _readonly(definition: FieldDef) -> FieldDef:
    return replace(definition, createable=False, updateable=False)


_PRM_STATUSES = ("Unassigned", "Pending", "Accepted", "Rejected", "Pulled back", "Converted")


def _system_fields(object_name: str, owned: bool) -> list[FieldDef]:
    fields = [
        _readonly(_f("Id", "id", label=f"{object_name} ID")),
        _readonly(_f("IsDeleted", "boolean", label="Deleted")),
        _readonly(_f("CreatedDate", "datetime", label="Created Date")),
        _readonly(_ref("CreatedById", "User", label="Created By ID")),
        _readonly(_f("LastModifiedDate", "datetime", label="Last Modified Date")),
        _readonly(_ref("LastModifiedById", "User", label="Last Modified By ID")),
        _readonly(_f("SystemModstamp", "datetime", label="System Modstamp")),
    ]
    if owned:
        fields.append(_ref("OwnerId", "User", label="Owner ID"))
    return fields


def _upm_fields() -> list[FieldDef]:
    return [
        _f("UPM_Id__c", "string", 64, label="UPM Id", external_id=True, unique=True),
        _f("Legacy_Id__c", "string", 64, label="Legacy Id", external_id=True),
    ]


def _person_name() -> list[FieldDef]:
    return [
        _f("Salutation", "picklist", 40, picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
        _f("FirstName", "string", 40),
        _f("LastName", "string", 80, required=True),
        _readonly(_f("Name", "string", 121, label="Full Name", name_field=True)),
    ]


_LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")
_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
_INDUSTRIES = ("Agriculture", "Banking", "Education", "Energy", "Healthcare", "Manufacturing", "Retail", "Technology")
_APPROVAL = ("Draft", "Submitted", "Approved", "Rejected")
_STAGES = ("Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost")


def _objects() -> list[ObjectDef]:
    lead = ObjectDef(
        "Lead",
        "00Q",
        "Leads",
        {},
        compound_name=("FirstName", "LastName"),
    )
    for definition in [
        *_system_fields("Lead", owned=True),
        *_person_name(),
        _f("Title", "string", 128),
        _f("Company", "string", 255, required=True),
        _f("Email", "email"),
        _f("Phone", "phone"),
        _f("MobilePhone", "phone", label="Mobile Phone"),
        _f("Website", "url"),
        _f("Street", "textarea", 255),
        _f("City", "string", 40),
        _f("State", "string", 80, label="State/Province"),
        _f("PostalCode", "string", 20, label="Zip/Postal Code"),
        _f("Country", "string", 80),
        _f("Status", "picklist", 40, picklist=_LEAD_STATUSES, default=_LEAD_STATUSES[0], required=True),
        _f("LeadSource", "picklist", 40, label="Lead Source", picklist=_LEAD_SOURCES),
        _f("Industry", "picklist", 40, picklist=_INDUSTRIES),
        _f("Rating", "picklist", 40, picklist=("Hot", "Warm", "Cold")),
        _f("AnnualRevenue", "currency", label="Annual Revenue"),
        _f("NumberOfEmployees", "int", label="Employees"),
        _f("Description", "textarea"),
        _readonly(_f("IsConverted", "boolean", label="Converted")),
        *_upm_fields(),
        _ref("Partner_Account__c", "Account", label="Partner Account"),
        _f("Campaign_Id__c", "string", 64, label="Campaign Id"),
        _f("Offer_Id__c", "string", 64, label="Offer Id"),
        _f("Tactic_Id__c", "string", 64, label="Tactic Id"),
        _f("Approval_Status__c", "picklist", 40, label="Approval Status", picklist=_APPROVAL),
        # a PRM connector's custom fields: what became of the lead in the partner portal
        _f("PRM_Status__c", "picklist", 40, label="PRM Sync Status", picklist=_PRM_STATUSES),
        _f("PRM_Partner_Account__c", "string", 255, label="PRM Partner Account"),
        _f("PRM_Partner_Rep__c", "email", label="PRM Partner Rep"),
        _f("PRM_Status_Date__c", "datetime", label="PRM Status Date"),
        _f("PRM_Assigned_Date__c", "datetime", label="PRM Assigned Date"),
        _f("PRM_Accepted_Date__c", "datetime", label="PRM Accepted Date"),
        _f("PRM_Opportunity_Id__c", "string", 64, label="PRM Opportunity Id"),
        _f("PRM_Opportunity_Name__c", "string", 255, label="PRM Opportunity"),
        _f("PRM_Opportunity_Amount__c", "currency", label="PRM Opportunity Amount"),
        _f("PRM_Opportunity_Stage__c", "double", label="PRM Opportunity Stage"),
    ]:
        lead.add_field(definition)

    account = ObjectDef("Account", "001", "Accounts", {})
    for definition in [
        *_system_fields("Account", owned=True),
        _f("Name", "string", 255, label="Account Name", required=True, name_field=True),
        _f("Type", "picklist", 40, picklist=("Prospect", "Customer", "Partner", "Other")),
        _ref("ParentId", "Account", label="Parent Account ID"),
        _f("Industry", "picklist", 40, picklist=_INDUSTRIES),
        _f("Website", "url"),
        _f("Phone", "phone"),
        _f("BillingStreet", "textarea", 255, label="Billing Street"),
        _f("BillingCity", "string", 40, label="Billing City"),
        _f("BillingState", "string", 80, label="Billing State/Province"),
        _f("BillingPostalCode", "string", 20, label="Billing Zip/Postal Code"),
        _f("BillingCountry", "string", 80, label="Billing Country"),
        _f("AnnualRevenue", "currency", label="Annual Revenue"),
        _f("NumberOfEmployees", "int", label="Employees"),
        _f("Description", "textarea"),
        *_upm_fields(),
        _f("Is_Partner__c", "boolean", label="Is Partner"),
        _f("Partner_Tier__c", "picklist", 40, label="Partner Tier", picklist=("Registered", "Silver", "Gold")),
        _f("Approval_Status__c", "picklist", 40, label="Approval Status", picklist=_APPROVAL),
    ]:
        account.add_field(definition)

    contact = ObjectDef("Contact", "003", "Contacts", {}, compound_name=("FirstName", "LastName"))
    for definition in [
        *_system_fields("Contact", owned=True),
        *_person_name(),
        _ref("AccountId", "Account", label="Account ID"),
        _f("Title", "string", 128),
        _f("Department", "string", 80),
        _f("Email", "email"),
        _f("Phone", "phone", label="Business Phone"),
        _f("MobilePhone", "phone", label="Mobile Phone"),
        _f("MailingStreet", "textarea", 255, label="Mailing Street"),
        _f("MailingCity", "string", 40, label="Mailing City"),
        _f("MailingState", "string", 80, label="Mailing State/Province"),
        _f("MailingPostalCode", "string", 20, label="Mailing Zip/Postal Code"),
        _f("MailingCountry", "string", 80, label="Mailing Country"),
        _f("LeadSource", "picklist", 40, label="Lead Source", picklist=_LEAD_SOURCES),
        _f("Birthdate", "date"),
        _f("Description", "textarea"),
        *_upm_fields(),
        _ref("Partner_Account__c", "Account", label="Partner Account"),
        _f("Campaign_Id__c", "string", 64, label="Campaign Id"),
    ]:
        contact.add_field(definition)

    opportunity = ObjectDef("Opportunity", "006", "Opportunities", {})
    for definition in [
        *_system_fields("Opportunity", owned=True),
        _f("Name", "string", 120, required=True, name_field=True),
        _ref("AccountId", "Account", label="Account ID"),
        _f("StageName", "picklist", 255, label="Stage", picklist=_STAGES, required=True),
        _f("CloseDate", "date", label="Close Date", required=True),
        _f("Amount", "currency"),
        _f("Probability", "percent", label="Probability (%)"),
        _f("Type", "picklist", 40, picklist=("New Customer", "Existing Customer - Upgrade")),
        _f("LeadSource", "picklist", 40, label="Lead Source", picklist=_LEAD_SOURCES),
        _ref("CampaignId", "Campaign", label="Campaign ID"),
        _f("Description", "textarea"),
        *_upm_fields(),
        _ref("Partner_Account__c", "Account", label="Partner Account"),
        _f("Campaign_Id__c", "string", 64, label="Campaign Id"),
        _f("Offer_Id__c", "string", 64, label="Offer Id"),
        _f("Tactic_Id__c", "string", 64, label="Tactic Id"),
        _f("Approval_Status__c", "picklist", 40, label="Approval Status", picklist=_APPROVAL),
        # the converted Lead's UPM_Id__c, copied by the org's lead field mapping on conversion
        _f("UPM_Lead_Id__c", "string", 80, label="UPM Lead Id"),
    ]:
        opportunity.add_field(definition)

    campaign = ObjectDef("Campaign", "701", "Campaigns", {})
    for definition in [
        *_system_fields("Campaign", owned=True),
        _f("Name", "string", 80, required=True, name_field=True),
        _ref("ParentId", "Campaign", label="Parent Campaign ID"),
        _f("Type", "picklist", 40, picklist=("Conference", "Webinar", "Email", "Partners", "Other")),
        _f("Status", "picklist", 40, picklist=("Planned", "In Progress", "Completed", "Aborted")),
        _f("StartDate", "date", label="Start Date"),
        _f("EndDate", "date", label="End Date"),
        _f("IsActive", "boolean", label="Active"),
        _f("BudgetedCost", "currency", label="Budgeted Cost in Campaign"),
        _f("ActualCost", "currency", label="Actual Cost in Campaign"),
        _f("Description", "textarea"),
        *_upm_fields(),
        _f("Offer_Id__c", "string", 64, label="Offer Id"),
        _f("Tactic_Id__c", "string", 64, label="Tactic Id"),
    ]:
        campaign.add_field(definition)

    note = ObjectDef("Note", "002", "Notes", {})
    for definition in [
        *_system_fields("Note", owned=True),
        _ref("ParentId", ANY_OBJECT, label="Parent ID", required=True),
        _f("Title", "string", 255, required=True, name_field=True),
        _f("Body", "textarea"),
        _f("IsPrivate", "boolean", label="Private"),
        *_upm_fields(),
    ]:
        note.add_field(definition)

    user = ObjectDef("User", "005", "Users", {}, compound_name=("FirstName", "LastName"), deletable=False)
    for definition in [
        *_system_fields("User", owned=False),
        _f("Username", "string", 80, required=True),
        _f("FirstName", "string", 40),
        _f("LastName", "string", 80, required=True),
        _readonly(_f("Name", "string", 121, label="Full Name", name_field=True)),
        _f("Alias", "string", 8, required=True),
        _f("Email", "email", required=True),
        _f("IsActive", "boolean", label="Active", default=True),
        _f("Title", "string", 80),
        _f("Department", "string", 80),
        _f("CompanyName", "string", 80, label="Company Name"),
        *_upm_fields(),
    ]:
        user.add_field(definition)
    return [lead, account, contact, opportunity, campaign, note, user]


def extra_field(spec: Mapping[str, Any]) -> FieldDef:
    """A custom field from the extra-fields config: `{"name": "X__c", "type": "string", ...}`.

    Keys: name, type, label, length, required, externalId, unique, referenceTo (list), picklistValues (list),
    defaultValue. Raises ValueError for an unusable spec.
    """
    name = str(spec.get("name", ""))
    type_ = str(spec.get("type", "string"))
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*__c", name):
        raise ValueError(f"custom field names end in __c: {name!r}")
    if type_ not in FIELD_TYPES or type_ == "id":
        raise ValueError(f"unknown field type {type_!r} for {name}")
    options: dict[str, Any] = {
        "label": str(spec.get("label") or _label(name)),
        "required": bool(spec.get("required", False)),
        "external_id": bool(spec.get("externalId", False)),
        "unique": bool(spec.get("unique", False)),
        "picklist": tuple(spec.get("picklistValues", ())),
        "default": spec.get("defaultValue"),
    }
    if type_ == "reference":
        targets = tuple(spec.get("referenceTo") or ())
        if not targets:
            raise ValueError(f"reference field {name} needs referenceTo")
        return _ref(name, *targets, **options)
    return _f(name, type_, int(spec.get("length", 0)), **options)


def build_schema(extra_fields: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> Schema:
    """The standard objects plus the configured extra custom fields (`{"Lead": [{field spec}, ...]}`)."""
    objects = _objects()
    by_name = {definition.name.lower(): definition for definition in objects}
    for object_name, specs in (extra_fields or {}).items():
        target = by_name.get(object_name.lower())
        if target is None:
            raise ValueError(f"extra fields for an unknown object: {object_name}")
        for spec in specs:
            target.add_field(extra_field(spec))
    return Schema(objects)
