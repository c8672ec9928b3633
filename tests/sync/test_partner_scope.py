"""Workflow 5 with two partners, each on its own HubSpot portal: a partner connection receives only
what its partner owns (never unassigned leads, the other partner's records or the vendor's own),
a lead pulled back stops being updated there, and what its reps create comes back attributed to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector.config import Settings, load_settings
from connector.runtime import Runtime
from connector.store import Database
from connector.store.migrate import upgrade
from connector.store.outbox import OutboxEntry
from connector.store.partners import PartnerAccount, PartnerUser
from support.partners import ensure_partner
from connector.store.records import Account, Contact, Note, Opportunity, Prospect
from crm_emulators.hubspot import EmulatorOptions, serve_in_background

REPO = Path(__file__).resolve().parents[2]
PORTAL = {"acme": 0, "beta": 1}


@dataclass
class TwoPartners:
    running: Any
    settings: Settings
    db: Database
    ids: dict[str, int]

    def cycle(self, name: str):  # type: ignore[no-untyped-def]
        engine = Runtime(self.settings, db=self.db).engine(name)
        try:
            return engine.cycle()
        finally:
            engine.adapter.close()

    def crm(self, name: str, object_type: str) -> list[dict[str, Any]]:
        return [{"id": r["id"], **r["properties"]} for r in self.running.emulator.records(PORTAL[name], object_type)
                if not r["archived"]]

    def names(self, name: str, object_type: str, field: str) -> set[str]:
        return {r[field] for r in self.crm(name, object_type)}


@pytest.fixture
def two(tmp_path: Path, database_url: str) -> Iterator[TwoPartners]:
    options = EmulatorOptions(portals=2, search_per_second=None, ten_second_limit=None, search_lag_seconds=0)
    with serve_in_background(options) as running:
        connections = ""
        for name, portal in PORTAL.items():
            (tmp_path / f"{name}.json").write_text(json.dumps(running.credentials["portals"][portal]))
            connections += f"""
  {name}:
    adapter: hubspot
    role: partner
    partner_account: {name.title()} Resellers
    auth: {{type: credentials_file, file: {name}.json}}
    mapping: {REPO / "mappings" / "hubspot" / "partner.yaml"}
    options: {{search_per_second: 1000}}
"""
        (tmp_path / "config.yaml").write_text(f'database: {{url: "{database_url}"}}\nsecrets: {{key_file: upm.key}}\n'
                                              f"connections:{connections}")
        settings = load_settings(tmp_path / "config.yaml")
        db = Runtime(settings).db
        upgrade(db)
        ids: dict[str, int] = {}
        with db.session() as s:
            acme = ensure_partner(s, "Acme Resellers", [{"email": "rep@acme.example"}])
            beta = ensure_partner(s, "Beta Resellers", [{"email": "rep@beta.example"}])
            west = PartnerAccount(name="Acme West", parent_id=acme.id, active=True)
            s.add(west)
            s.flush()
            acme_rep = s.scalars(select(PartnerUser.id).where(PartnerUser.email == "rep@acme.example")).one()
            beta_rep = s.scalars(select(PartnerUser.id).where(PartnerUser.email == "rep@beta.example")).one()
            records: dict[str, Any] = {
                "acme_account": Account(name="Acme Customer", partner_account_id=acme.id),
                "west_account": Account(name="West Customer", partner_account_id=west.id),
                "beta_account": Account(name="Beta Customer", partner_account_id=beta.id),
                "vendor_account": Account(name="Vendor Own Account"),
                "acme_contact": Contact(email="buyer@acme-customer.example", last_name="Buyer", partner_account_id=acme.id),
                "vendor_contact": Contact(email="vip@vendor.example", last_name="Vip"),
                "acme_lead": Prospect(email="lead1@x.example", last_name="One", partner_account_id=acme.id,
                                      assigned_user_id=acme_rep, distribution_state="assigned"),
                # held by Acme's rep alone (e.g. a group's member rep): Acme's too
                "rep_lead": Prospect(email="lead2@x.example", last_name="Two", assigned_user_id=acme_rep,
                                     distribution_state="assigned"),
                "beta_lead": Prospect(email="lead3@x.example", last_name="Three", partner_account_id=beta.id,
                                      assigned_user_id=beta_rep, distribution_state="accepted"),
                "open_lead": Prospect(email="lead4@x.example", last_name="Four", distribution_state="open"),
            }
            s.add_all(records.values())
            s.flush()
            opportunity = Opportunity(name="Acme Deal", partner_account_id=acme.id, sales_stage=2,
                                      contact_id=records["acme_contact"].id, account_id=records["acme_account"].id,
                                      expected_close_date=date(2026, 12, 1))
            s.add(opportunity)
            s.flush()
            s.add(Note(record_module="opportunity", record_id=opportunity.id, body="Acme's note"))
            s.add(Note(record_module="account", record_id=records["vendor_account"].id, body="Vendor's note"))
            ids = {key: r.id for key, r in records.items()} | {"acme": acme.id, "beta": beta.id}
        yield TwoPartners(running, settings, db, ids)
        db.dispose()


def test_each_partner_crm_gets_only_its_partners_records(two: TwoPartners) -> None:
    acme_owner = two.running.emulator.add_owner(PORTAL["acme"], "rep@acme.example", "Riley", "Rep")
    two.running.emulator.add_owner(PORTAL["acme"], "someone@acme.example")
    for name in PORTAL:
        two.cycle(name)
    assert two.names("acme", "companies", "name") == {"Acme Customer", "West Customer"}  # its child's too
    assert two.names("acme", "contacts", "email") == {"buyer@acme-customer.example", "lead1@x.example", "lead2@x.example"}
    assert two.names("acme", "deals", "dealname") == {"Acme Deal"}
    assert [n["hs_note_body"] for n in two.crm("acme", "notes")] == ["Acme's note"]
    assert two.names("beta", "companies", "name") == {"Beta Customer"}
    assert two.names("beta", "contacts", "email") == {"lead3@x.example"}
    assert two.crm("beta", "deals") == [] and two.crm("beta", "notes") == []
    leads = {r["email"]: r for r in two.crm("acme", "contacts")}
    assert leads["lead1@x.example"]["upm_id"] == f"upm-lead-{two.ids['acme_lead']}"
    # each lead is owned there by the rep holding it (by email); Beta's portal has no such user
    assert leads["lead1@x.example"]["hubspot_owner_id"] == leads["lead2@x.example"]["hubspot_owner_id"] == acme_owner
    assert not two.crm("beta", "contacts")[0].get("hubspot_owner_id")
    # Settled: a second cycle writes nothing anywhere.
    for name in PORTAL:
        counts = two.cycle(name)
        assert (counts.created, counts.updated, counts.pushed) == (0, 0, 0), (name, counts)


def test_a_lead_pulled_back_is_no_longer_updated_and_a_reassigned_one_moves(two: TwoPartners) -> None:
    for name in PORTAL:
        two.cycle(name)
    with two.db.session() as s:  # the lead is edited while Acme holds it (queued for Acme) ...
        s.get(Prospect, two.ids["acme_lead"]).phone = "+1 555 0100"
    with two.db.session() as s:  # ... then pulled back before Acme's lane runs; Beta's lead goes to Acme
        lead = s.get(Prospect, two.ids["acme_lead"])
        lead.partner_account_id, lead.assigned_user_id, lead.distribution_state = None, None, "open"
        lead.phone = "+1 555 0101"
        moved = s.get(Prospect, two.ids["beta_lead"])
        moved.partner_account_id, moved.assigned_user_id = two.ids["acme"], None
        moved.phone = "+1 555 0102"
    two.cycle("acme")
    two.cycle("beta")
    at_acme = {r["email"]: r for r in two.crm("acme", "contacts")}
    assert "phone" not in at_acme["lead1@x.example"] or not at_acme["lead1@x.example"]["phone"]  # left as it was
    assert at_acme["lead3@x.example"]["phone"] == "+1 555 0102"  # now Acme's
    at_beta = {r["email"]: r for r in two.crm("beta", "contacts")}
    assert not at_beta["lead3@x.example"].get("phone")  # left at Beta as it was, no longer updated
    with two.db.session() as s:
        skipped = s.scalars(select(OutboxEntry).where(OutboxEntry.connection == "acme", OutboxEntry.module == "prospect",
                                                      OutboxEntry.record_id == two.ids["acme_lead"],
                                                      OutboxEntry.status == "skipped")).all()
        assert skipped and all("out of scope" in (row.last_error or "") for row in skipped)


def test_what_a_partners_reps_create_comes_back_attributed_to_it(two: TwoPartners) -> None:
    for name in PORTAL:
        two.cycle(name)
    emulator = two.running.emulator
    emulator.admin_upsert(PORTAL["acme"], "deals", {"dealname": "Won at Acme", "dealstage": "qualifiedtobuy", "amount": "5000"})
    emulator.admin_upsert(PORTAL["acme"], "contacts", {"email": "new@acme-customer.example", "lastname": "New"})
    emulator.admin_upsert(PORTAL["acme"], "companies", {"name": "Acme Prospect Co"})
    counts = two.cycle("acme")
    assert counts.created == 3
    with two.db.session() as s:
        deal = s.scalars(select(Opportunity).where(Opportunity.name == "Won at Acme")).one()
        contact = s.scalars(select(Contact).where(Contact.email == "new@acme-customer.example")).one()
        company = s.scalars(select(Account).where(Account.name == "Acme Prospect Co")).one()
        assert deal.partner_account_id == contact.partner_account_id == company.partner_account_id == two.ids["acme"]
    two.cycle("beta")  # never to the other partner
    assert "Won at Acme" not in two.names("beta", "deals", "dealname")
    assert "new@acme-customer.example" not in two.names("beta", "contacts", "email")
    assert "Acme Prospect Co" not in two.names("beta", "companies", "name")
