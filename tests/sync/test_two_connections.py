"""Workflow 5: a lead from the vendor's CRM reaches the partner's own CRM through UPM, and the
partner's changes come back and flow on to the vendor, with no echo between the three."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from connector.config import load_settings
from crm_emulators.hubspot import EmulatorOptions, serve_in_background
from connector.store.migrate import upgrade
from support.partners import ensure_partner
from connector.store.records import Contact
from connector.runtime import Runtime

REPO = Path(__file__).resolve().parents[2]


def test_vendor_to_partner_and_back(tmp_path: Path, database_url: str) -> None:
    # no search lag: these cycles run back to back on the real clock (lag: tests/adapters)
    with serve_in_background(EmulatorOptions(portals=2, search_per_second=None, ten_second_limit=None, search_lag_seconds=0)) as running:
        for index, name in enumerate(("vendor", "partner")):
            (tmp_path / f"{name}.json").write_text(json.dumps(running.credentials["portals"][index]))
        config = tmp_path / "config.yaml"
        config.write_text(f"""
database: {{url: "{database_url}"}}
secrets: {{key_file: upm.key}}
connections:
  vendor:
    adapter: hubspot
    auth: {{type: credentials_file, file: vendor.json}}
    mapping: {REPO / "mappings" / "hubspot" / "advanced.yaml"}
    options: {{search_per_second: 1000}}
  partner:
    adapter: hubspot
    role: partner
    partner_account: Acme Resellers
    auth: {{type: credentials_file, file: partner.json}}
    mapping: {REPO / "mappings" / "hubspot" / "advanced.yaml"}
    options: {{search_per_second: 1000}}
""")
        settings = load_settings(config)
        db = Runtime(settings).db
        upgrade(db)

        def cycle(name: str):  # type: ignore[no-untyped-def]
            engine = Runtime(settings, db=db).engine(name)
            try:
                return engine.cycle()
            finally:
                engine.adapter.close()

        emulator = running.emulator
        vendor_id = emulator.admin_upsert(0, "contacts", {"email": "lead@oem.example", "lastname": "Lead", "jobtitle": "CFO"})
        assert cycle("vendor").created == 1
        assert cycle("partner").pushed == 0  # the vendor's own contact: never to a partner's CRM
        with db.session() as s:  # the contact is given to the partner in UPM
            s.scalars(select(Contact)).one().partner_account_id = ensure_partner(s, "Acme Resellers").id
        assert cycle("partner").pushed == 1
        (at_partner,) = [r for r in emulator.records(1, "contacts")]
        assert at_partner["properties"]["email"] == "lead@oem.example" and at_partner["properties"]["upm_id"].startswith("upm-contact-")

        # The partner's rep works the lead in the partner CRM; it comes back and flows on to the vendor.
        emulator.admin_upsert(1, "contacts", {"phone": "+1 555 0199"}, id=at_partner["id"])
        assert cycle("partner").updated == 1
        assert cycle("vendor").pushed == 1
        (at_vendor,) = [r for r in emulator.records(0, "contacts") if r["id"] == vendor_id]
        assert at_vendor["properties"]["phone"] == "+1 555 0199"
        with db.session() as s:
            assert s.scalars(select(Contact.phone)).one() == "+1 555 0199"

        # Settled: further cycles on both sides write nothing anywhere.
        for _ in range(2):
            for name in ("vendor", "partner"):
                counts = cycle(name)
                assert (counts.created, counts.updated, counts.pushed) == (0, 0, 0), (name, counts)
        db.dispose()
