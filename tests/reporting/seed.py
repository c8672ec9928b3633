"""A seeded datastore for the report tests, and the same seed as plain Python lists, so each test
computes its expected figures independently of the SQL under test."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from connector.store import Database
from connector.store.distribution import LeadActivity
from connector.store.partners import PartnerAccount, PartnerGroup, PartnerGroupMember, PartnerUser
from connector.store.records import Account, Contact, Opportunity, Prospect

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 7, 1, tzinfo=timezone.utc)
SLA = {"SMB": 7, "Mid-Market": 90, "Enterprise": 180}
PARTNERS = (  # name, parent, tier, countries
    ("Alpha", None, "Gold", ["US", "CA"]),
    ("Alpha West", "Alpha", "Silver", ["US"]),
    ("Beta", None, "Gold", ["GB"]),
    ("Gamma", None, "Platinum", ["IN", "AU"]),
    ("Delta", None, "Silver", ["US"]),
)
GROUP = ("West", ("Alpha", "Beta"))


@dataclass
class Seed:
    """The seeded records as dicts (field -> value), ids as stored."""

    partners: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    prospects: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    group_members: set[int] = field(default_factory=set)

    def partner_id(self, name: str) -> int:
        return next(p["id"] for p in self.partners if p["name"] == name)

    def users_of(self, partner_id: int) -> list[int]:
        return [u["id"] for u in self.users if u["account_id"] == partner_id]


def _at(rng: random.Random) -> datetime:
    return T0 + timedelta(hours=rng.randrange(0, 180 * 24), minutes=17)


def _saved(session: Any, record: Any, fields: dict[str, Any], into: list[dict[str, Any]]) -> dict[str, Any]:
    session.add(record)
    session.flush()
    row = {"id": record.id, **fields}
    into.append(row)
    return row


def seed(db: Database, rng_seed: int = 7) -> Seed:
    rng = random.Random(rng_seed)
    out = Seed()
    with db.session() as s:
        for name, parent, tier, countries in PARTNERS:
            parent_id = out.partner_id(parent) if parent else None
            fields = {"name": name, "parent_id": parent_id, "tier": tier, "countries": countries}
            account = _saved(s, PartnerAccount(**fields), fields, out.partners)
            for n in range(2):
                user = {"account_id": account["id"], "email": f"rep{n}@{name.lower().replace(' ', '-')}.example"}
                _saved(s, PartnerUser(**user), user, out.users)
        group = PartnerGroup(name=GROUP[0])
        s.add(group)
        s.flush()
        for position, name in enumerate(GROUP[1]):
            s.add(PartnerGroupMember(group_id=group.id, account_id=out.partner_id(name), position=position))
            out.group_members.add(out.partner_id(name))
        partner_ids = [p["id"] for p in out.partners] + [None]
        for _ in range(300):
            pid = rng.choice(partner_ids)
            users = out.users_of(pid) if pid else []
            segment = rng.choice(["SMB", "Mid-Market", "Enterprise", None, None])
            employees = rng.choice([None, 20, 99, 100, 500, 999, 1000, 5000])
            created = _at(rng)
            assigned = created + timedelta(hours=rng.randrange(0, 48)) if pid and rng.random() < 0.8 else None
            accepted = assigned + timedelta(hours=rng.randrange(1, 300)) if assigned and rng.random() < 0.7 else None
            converted = (assigned + timedelta(hours=rng.randrange(1, 24 * 200), minutes=30)
                         if accepted and rng.random() < 0.5 else None)
            fields = {"email": f"lead{len(out.prospects)}@example.com", "segment": segment,
                      "company_employees": employees, "partner_account_id": pid, "created_at": created,
                      "assigned_at": assigned, "accepted_at": accepted, "converted_at": converted,
                      "assigned_user_id": rng.choice(users) if users and assigned else None,
                      "archived_at": NOW if rng.random() < 0.05 else None}
            _saved(s, Prospect(**fields), fields, out.prospects)
        for prospect in out.prospects:
            if prospect["converted_at"] or rng.random() < 0.2:
                fields = {"email": prospect["email"], "prospect_id": prospect["id"],
                          "partner_account_id": prospect["partner_account_id"], "created_at": _at(rng),
                          "archived_at": NOW if rng.random() < 0.05 else None}
                _saved(s, Contact(**fields), fields, out.contacts)
        for n in range(40):
            fields = {"name": f"Customer {n}", "partner_account_id": rng.choice(partner_ids), "created_at": _at(rng),
                      "archived_at": NOW if rng.random() < 0.05 else None}
            _saved(s, Account(**fields), fields, out.accounts)
        for n in range(200):
            pid = rng.choice(partner_ids)
            users = out.users_of(pid) if pid else []
            contact = rng.choice(out.contacts + [None, None])
            fields = {"name": f"Deal {n}", "partner_account_id": pid, "sales_stage": rng.randrange(1, 13),
                      "currency": rng.choice(["USD", "USD", "GBP", "AUD", "INR"]),
                      "amount": Decimal(rng.randrange(100, 10_000_000)) / 100,
                      "contact_id": contact["id"] if contact else None, "created_at": _at(rng),
                      "sales_contact_id": rng.choice(users) if users and rng.random() < 0.8 else None,
                      "archived_at": NOW if rng.random() < 0.05 else None}
            _saved(s, Opportunity(**fields), fields, out.opportunities)
        for _ in range(300):
            fields = {"prospect_id": rng.choice(out.prospects)["id"], "kind": rng.choice(["call", "email", "meeting", "note"]),
                      "user_id": rng.choice(out.users)["id"] if rng.random() < 0.9 else None, "at": _at(rng)}
            _saved(s, LeadActivity(**fields), fields, out.activities)
    return out
