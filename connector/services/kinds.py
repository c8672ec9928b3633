"""The record kinds the records service writes and the API serves: one row of a small table each.

A kind names its module (the key `record_module` columns hold, the plural the API and `export`
use), its model, the fields a caller may write, those a create needs, those only a vendor may set,
the column `?status=` filters on and the columns `?q=` searches.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column

from connector.store.base import Base
from connector.store.modules import MODULES
from connector.store.records import (
    Account,
    Campaign,
    Company,
    Contact,
    Note,
    Opportunity,
    Prospect,
    RegisteredDeal,
    Task,
)

_ADDRESS = ("street", "city", "state", "postal_code", "country")
_BILLING = tuple(f"billing_{f}" for f in _ADDRESS)
_SHIPPING = tuple(f"shipping_{f}" for f in _ADDRESS)
_PERSON = ("email", "title", "first_name", "last_name", "phone", "mobile_phone", "lead_source")


@dataclass(frozen=True)
class Kind:
    """One record kind of the API. `partner_writes`: partner users may create and edit it (else
    vendor keys only); `hidden`: columns never shown (they name other partners)."""

    name: str
    model: type[Base]
    fields: tuple[str, ...]
    required: tuple[str, ...] = ()
    vendor_only: tuple[str, ...] = ()
    status: str | None = None
    q: tuple[str, ...] = ()
    partner_writes: bool = True
    hidden: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The singular module key (`record_module` values, bindings, grants)."""
        return MODULES[self.name].key

    def column(self, name: str) -> Column[object]:
        return self.model.__table__.c[name]  # type: ignore[attr-defined, no-any-return]

    @property
    def owned(self) -> bool:
        """Records of this kind carry the partner that owns them."""
        return "partner_account_id" in self.model.__table__.c  # type: ignore[attr-defined]


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("prospects", Prospect,
         (*_PERSON, "status", "lead_score", "favorite", "company_id", "company_name", "company_website",
          "company_phone", "company_employees", "company_annual_revenue", "industry", "segment",
          "product_interest", *_ADDRESS, "campaign_id", "offer_id", "tactic_id"),
         required=("email",), status="status", q=("email", "last_name", "company_name"),
         hidden=("previous_holder_ids",)),
    Kind("companies", Company,
         ("name", "website", "phone", "employees", "annual_revenue", "industry", *_ADDRESS),
         required=("name",), q=("name",), partner_writes=False),
    Kind("contacts", Contact,
         (*_PERSON, "contact_type", "touch_phase", "account_id", "partner_account_id"),
         required=("last_name",), q=("email", "last_name")),
    Kind("accounts", Account,
         ("name", "account_type", "phone", "phone_other", "fax", "website", "employees", "annual_revenue",
          "industry", "ownership", *_BILLING, *_SHIPPING, "approval_status", "active", "named", "named_rep_id",
          "partner_account_id"),
         required=("name",), vendor_only=("approval_status", "active", "named", "named_rep_id"),
         status="approval_status", q=("name",)),
    Kind("opportunities", Opportunity,
         ("name", "account_id", "contact_id", "sales_stage", "currency", "lead_source", "quarter", "status",
          "price_book", "expected_close_date", "campaign_id", "offer_id", "tactic_id", "description",
          "sales_contact_id", "partner_account_id"),
         required=("name",), status="status", q=("name",)),
    Kind("deals", RegisteredDeal, ("opportunity_id", "name", "approval_status"), required=("opportunity_id",),
         vendor_only=("approval_status",), status="approval_status", q=("name",)),
    Kind("notes", Note, ("record_module", "record_id", "title", "body"), required=("record_module", "record_id"),
         q=("title",)),
    Kind("tasks", Task, ("record_module", "record_id", "subject", "status", "priority", "due_date", "assigned_user_id"),
         required=("record_module", "record_id", "subject"), status="status", q=("subject",)),
    Kind("campaigns", Campaign, ("name", "crm_campaign_id", "offer_id", "tactic_id", "status", "start_date", "end_date"),
         required=("name",), status="status", q=("name",), partner_writes=False),
)}

KINDS_BY_KEY: dict[str, Kind] = {k.key: k for k in KINDS.values()}
MODELS_BY_KEY: dict[str, type[Base]] = {k.key: k.model for k in KINDS.values()}
"""What notes and tasks may be attached to (`record_module`), by module key."""

LINE_ITEM_FIELDS = ("product", "sku", "sales_price", "quantity", "discount")
"""What a caller gives of an opportunity's line item; total and net (and so the amount) are computed."""
