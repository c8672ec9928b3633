"""The portal's business records: prospects, companies, contacts, accounts, opportunities and their
line items, registered deals, notes, tasks and campaigns (fields after the ZINFI UPM admin guide).

Every record carries created/updated timestamps in UTC and an `archived_at` (a CRM delete archives,
never destroys). `partner_account_id` is the partner that owns the record in the portal.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.store.base import Archivable, Base, Timestamped

MONEY = Numeric(18, 2)

SALES_STAGES: dict[int, str] = {
    1: "Prospecting",
    2: "Qualification",
    3: "Needs Analysis",
    4: "Value Proposition",
    5: "Id. Decision Makers",
    6: "Perception Analysis",
    7: "Proposal/Price Quote",
    8: "Negotiation/Review",
    9: "Closed Lost",
    10: "Closed Won",
    11: "PO Received",
    12: "Other",
}
"""UPM sales stages 1-12 (1-Prospecting ... 9-Closed Lost, 10-Closed Won, 11-PO Received, 12-Other)."""

CURRENCIES = ("USD", "GBP", "AUD", "INR")
APPROVAL_STATUSES = ("Draft", "Pending", "Approved", "Rejected")


class Campaign(Timestamped, Archivable, Base):
    """A marketing campaign synced from the CRM, with the offer and tactic ids leads carry."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    crm_campaign_id: Mapped[str | None] = mapped_column(String(64), index=True)
    offer_id: Mapped[str | None] = mapped_column(String(64))
    tactic_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(40))
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]


class Company(Timestamped, Archivable, Base):
    """A company derived from prospects (the prospect's company information)."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    website: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(40))
    employees: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(MONEY)
    industry: Mapped[str | None] = mapped_column(String(120))
    street: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str | None] = mapped_column(String(80))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(80))


REPORT_INDEXES = (
    ("ix_prospects_report_created", "created_at",
     ("partner_account_id", "assigned_at", "accepted_at", "converted_at"), "archived_at IS NULL"),
    ("ix_prospects_report_assigned", "assigned_at",
     ("partner_account_id", "segment", "company_employees", "accepted_at", "converted_at"),
     "archived_at IS NULL AND assigned_at IS NOT NULL"),
    ("ix_prospects_report_accepted", "accepted_at", ("partner_account_id", "assigned_user_id"),
     "archived_at IS NULL AND accepted_at IS NOT NULL"),
)
"""(name, key column, included columns (PostgreSQL), partial-index condition) of the prospects'
report indexes (migration 0020)."""


class Prospect(Timestamped, Archivable, Base):
    """A lead in the portal: what distribution assigns and partners nurture."""

    __tablename__ = "prospects"
    __table_args__ = (
        Index("ix_prospects_email_lower", "email"),
        # The reports' covering indexes (connector/reports/): each report's prospect scan reads one
        # of these (an index-only scan on PostgreSQL) instead of the whole table.
        *(Index(name, column, postgresql_include=list(include), postgresql_where=text(where), sqlite_where=text(where))
          for name, column, include, where in REPORT_INDEXES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    title: Mapped[str | None] = mapped_column(String(120))
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    mobile_phone: Mapped[str | None] = mapped_column(String(40))
    lead_source: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(40), default="New")
    lead_score: Mapped[int] = mapped_column(default=0)
    favorite: Mapped[bool] = mapped_column(default=False)
    survey_sent: Mapped[bool] = mapped_column(default=False)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    company_name: Mapped[str | None] = mapped_column(String(255))
    company_website: Mapped[str | None] = mapped_column(String(255))
    company_phone: Mapped[str | None] = mapped_column(String(40))
    company_employees: Mapped[int | None]
    company_annual_revenue: Mapped[Decimal | None] = mapped_column(MONEY)
    industry: Mapped[str | None] = mapped_column(String(120))
    segment: Mapped[str | None] = mapped_column(String(20))  # SMB, Mid-Market, Enterprise
    product_interest: Mapped[str | None] = mapped_column(String(255))
    street: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str | None] = mapped_column(String(80))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(80))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    offer_id: Mapped[str | None] = mapped_column(String(64))
    tactic_id: Mapped[str | None] = mapped_column(String(64))
    partner_account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_accounts.id"), index=True)
    converted_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    converted_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime | None]
    # distribution (connector.leads): new | assigned | accepted | pool | open | manual_review | converted;
    # the holder is partner_account_id (and assigned_user_id when a rep was named)
    distribution_state: Mapped[str] = mapped_column(String(20), default="new", server_default="new", index=True)
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id"))
    assignment_rule_id: Mapped[int | None] = mapped_column(ForeignKey("assignment_rules.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    pool_until: Mapped[datetime | None]
    previous_holder_ids: Mapped[list[int]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    registered_at: Mapped[datetime | None]


class Account(Timestamped, Archivable, Base):
    """A customer account a partner works; new ones go to the CRM for approval (workflow 1)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    account_type: Mapped[str | None] = mapped_column(String(40))  # OEM, Distributor, Reseller, Alliance
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_other: Mapped[str | None] = mapped_column(String(40))
    fax: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(255))
    employees: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(MONEY)
    industry: Mapped[str | None] = mapped_column(String(120))
    ownership: Mapped[str | None] = mapped_column(String(120))
    billing_street: Mapped[str | None] = mapped_column(String(255))
    billing_city: Mapped[str | None] = mapped_column(String(120))
    billing_state: Mapped[str | None] = mapped_column(String(80))
    billing_postal_code: Mapped[str | None] = mapped_column(String(20))
    billing_country: Mapped[str | None] = mapped_column(String(80))
    shipping_street: Mapped[str | None] = mapped_column(String(255))
    shipping_city: Mapped[str | None] = mapped_column(String(120))
    shipping_state: Mapped[str | None] = mapped_column(String(80))
    shipping_postal_code: Mapped[str | None] = mapped_column(String(20))
    shipping_country: Mapped[str | None] = mapped_column(String(80))
    approval_status: Mapped[str] = mapped_column(String(20), default="Draft")
    active: Mapped[bool] = mapped_column(default=False)
    named: Mapped[bool] = mapped_column(default=False)  # protected: its leads go to the owning partner
    partner_account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_accounts.id"), index=True)
    named_rep_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id"))

    __table_args__ = (Index("ix_accounts_name_folded", func.lower(name)),)  # the named-account match


class Contact(Timestamped, Archivable, Base):
    """A person at an account; a converted prospect keeps its link back."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    title: Mapped[str | None] = mapped_column(String(120))
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    mobile_phone: Mapped[str | None] = mapped_column(String(40))
    lead_source: Mapped[str | None] = mapped_column(String(80))
    contact_type: Mapped[str | None] = mapped_column(String(60))
    touch_phase: Mapped[str | None] = mapped_column(String(60))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id", use_alter=True))
    partner_account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_accounts.id"), index=True)


class Opportunity(Timestamped, Archivable, Base):
    """A partner's sales opportunity; syncs to the vendor CRM as a Lead (workflows 1, 2, 5)."""

    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint("sales_stage BETWEEN 1 AND 12", name="sales_stage_range"),
        CheckConstraint("currency IN ('USD', 'GBP', 'AUD', 'INR')", name="currency_iso"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id"), index=True)
    """The lead it came from (a partner's deal associated with the lead it was sent)."""
    sales_stage: Mapped[int] = mapped_column(default=1)
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    lead_source: Mapped[str | None] = mapped_column(String(80))
    quarter: Mapped[str | None] = mapped_column(String(10))  # FY24Q2
    status: Mapped[str | None] = mapped_column(String(40))
    price_book: Mapped[str | None] = mapped_column(String(120))
    expected_close_date: Mapped[date | None]
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    offer_id: Mapped[str | None] = mapped_column(String(64))
    tactic_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    sales_contact_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id"))
    partner_account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_accounts.id"), index=True)

    line_items: Mapped[list[LineItem]] = relationship(
        back_populates="opportunity", cascade="all, delete-orphan", order_by="LineItem.id"
    )

    def recompute_amount(self) -> Decimal:
        """Set `amount` to the sum of the line items' net values (the portal computes it, never typed)."""
        self.amount = sum((item.net for item in self.line_items), Decimal("0"))
        return self.amount


class LineItem(Timestamped, Base):
    """A product on an opportunity: total = price x quantity, net = total less the discount (%)."""

    __tablename__ = "line_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    product: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(80))
    sales_price: Mapped[Decimal] = mapped_column(MONEY)
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("1"))
    discount: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    net: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    opportunity: Mapped[Opportunity] = relationship(back_populates="line_items")

    def compute(self) -> None:
        """Derive total and net from price, quantity and discount, rounded to cents."""
        if self.quantity is None:
            self.quantity = Decimal("1")
        if self.discount is None:
            self.discount = Decimal("0")
        self.total = (self.sales_price * self.quantity).quantize(Decimal("0.01"))
        self.net = (self.total * (Decimal("100") - self.discount) / Decimal("100")).quantize(Decimal("0.01"))


class RegisteredDeal(Timestamped, Archivable, Base):
    """A deal registered from a Closed/Won opportunity; syncs to the CRM as an Opportunity."""

    __tablename__ = "registered_deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    approval_status: Mapped[str] = mapped_column(String(20), default="Pending")
    registered_at: Mapped[datetime | None]
    partner_account_id: Mapped[int | None] = mapped_column(ForeignKey("partner_accounts.id"), index=True)


class Note(Timestamped, Archivable, Base):
    """A note attached to any record (`record_module` + `record_id`)."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_record", "record_module", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    title: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id"))


class Task(Timestamped, Archivable, Base):
    """An action item attached to any record."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_record", "record_module", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_module: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    subject: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(40), default="Open")
    priority: Mapped[str | None] = mapped_column(String(20))
    due_date: Mapped[date | None]
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("partner_users.id"))
