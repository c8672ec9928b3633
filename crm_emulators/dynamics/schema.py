"""The tables the emulated Dataverse environment has: entity sets, primary ids, the `upm_id` alternate
key, and each column's type as the Web API's metadata names it."""

from __future__ import annotations

from dataclasses import dataclass, field

ALTERNATE_KEY = "upm_id"
"""A custom text column (publisher prefix `upm_`) defined as an alternate key on every table."""
SYSTEM_COLUMNS = {"createdon": "DateTime", "modifiedon": "DateTime", "versionnumber": "BigInt",
                  "statecode": "State", "_ownerid_value": "Owner"}


@dataclass(frozen=True)
class Lookup:
    """A lookup column's single-valued navigation properties (several for a polymorphic one), each
    written as `{navigation}@odata.bind: /{entity set}(id)`."""

    targets: dict[str, str]
    """navigation property -> the entity set it points into."""


@dataclass(frozen=True)
class Table:
    """One Dataverse table."""

    logical_name: str
    entity_set: str
    columns: dict[str, str]
    """Writable columns -> AttributeType."""
    lookups: dict[str, Lookup] = field(default_factory=dict)
    """`_x_value` read column -> how it is written."""
    required: tuple[str, ...] = ()

    @property
    def primary_id(self) -> str:
        return f"{self.logical_name}id"

    def attribute_types(self) -> dict[str, str]:
        """Every column the table answers with, and its type."""
        return {self.primary_id: "Uniqueidentifier", **self.columns, **dict.fromkeys(self.lookups, "Lookup"),
                **SYSTEM_COLUMNS}


def _text(*names: str) -> dict[str, str]:
    return dict.fromkeys(names, "String")


TABLES: dict[str, Table] = {t.logical_name: t for t in [
    Table("lead", "leads", {
        **_text(ALTERNATE_KEY, "firstname", "lastname", "fullname", "companyname", "emailaddress1", "jobtitle",
                "telephone1", "mobilephone", "websiteurl", "address1_line1", "address1_city", "address1_stateorprovince",
                "address1_postalcode", "address1_country", "subject", "description", "industrycode_text",
                "leadsource_text"),
        "numberofemployees": "Integer", "revenue": "Money", "statuscode": "Status",
    }, required=("lastname",)),
    Table("account", "accounts", {
        **_text(ALTERNATE_KEY, "name", "websiteurl", "telephone1", "address1_line1", "address1_city",
                "address1_stateorprovince", "address1_postalcode", "address1_country", "industry_text",
                "upm_approvalstatus", "description"),
        "numberofemployees": "Integer", "revenue": "Money",
    }, required=("name",)),
    Table("contact", "contacts", {
        **_text(ALTERNATE_KEY, "firstname", "lastname", "emailaddress1", "jobtitle", "telephone1", "mobilephone",
                "description"),
    }, lookups={"_parentcustomerid_value": Lookup({"parentcustomerid_account": "accounts",
                                                     "parentcustomerid_contact": "contacts"})}, required=("lastname",)),
    Table("opportunity", "opportunities", {
        **_text(ALTERNATE_KEY, "name", "description", "upm_offerid", "upm_tacticid", "stepname"),
        "estimatedvalue": "Money", "estimatedclosedate": "DateTime", "salesstagecode": "Picklist",
    }, lookups={"_parentaccountid_value": Lookup({"parentaccountid": "accounts"}),
                "_parentcontactid_value": Lookup({"parentcontactid": "contacts"})}, required=("name",)),
    Table("annotation", "annotations", {
        **_text(ALTERNATE_KEY, "subject", "notetext", "objecttypecode"),
    }, lookups={"_objectid_value": Lookup({f"objectid_{name}": f"{name}s" for name in ("account", "contact", "lead")}
                                         | {"objectid_opportunity": "opportunities"})}),
]}
BY_ENTITY_SET: dict[str, Table] = {t.entity_set: t for t in TABLES.values()}


def table_for_set(entity_set: str) -> Table | None:
    return BY_ENTITY_SET.get(entity_set)
