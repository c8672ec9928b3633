"""The UPM modules by the names users type (`upm-connector export opportunities`), and their tables.

`record_module` columns (notes, tasks, assignments, bindings) hold the singular `key` of a module.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.store.assignments import RecordAssignment
from connector.store.base import Base
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


@dataclass(frozen=True)
class Module:
    """A module: the plural name users type, the singular key records use, and its model."""

    name: str
    key: str
    model: type[Base]
    crm_synced: bool


MODULES: dict[str, Module] = {
    m.name: m
    for m in (
        Module("prospects", "prospect", Prospect, True),
        Module("companies", "company", Company, True),
        Module("contacts", "contact", Contact, True),
        Module("accounts", "account", Account, True),
        Module("opportunities", "opportunity", Opportunity, True),
        Module("line-items", "line_item", LineItem, True),
        Module("deals", "registered_deal", RegisteredDeal, True),
        Module("notes", "note", Note, True),
        Module("tasks", "task", Task, True),
        Module("campaigns", "campaign", Campaign, True),
        Module("partners", "partner_account", PartnerAccount, False),
        Module("partner-users", "partner_user", PartnerUser, False),
        Module("groups", "partner_group", PartnerGroup, False),
        Module("assignments", "record_assignment", RecordAssignment, False),
    )
}

MODULES_BY_KEY: dict[str, Module] = {m.key: m for m in MODULES.values()}
