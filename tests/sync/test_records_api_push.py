"""A record created through the records API reaches the CRM on the next cycle: the service's
writes go through the Runtime's session hooks, so their outbox rows commit with them."""

from __future__ import annotations

import requests
from sqlalchemy import select

from connector.api.app import create_app
from connector.config.secrets import Secret
from connector.config.settings import HttpSettings
from connector.runtime import Runtime
from connector.store.outbox import OutboxEntry
from crm_emulators.runner import BackgroundServer

from .conftest import SalesforceSetup

KEY = {"Authorization": "Bearer vendor-key"}


def test_an_opportunity_created_through_the_api_reaches_salesforce_after_one_sync(sf: SalesforceSetup) -> None:
    runtime = Runtime(sf.settings, db=sf.db)
    app = create_app(sf.db, lambda: True, runtime.leads, HttpSettings(api_keys={"admin": Secret("vendor-key", "t")}))
    with BackgroundServer(app) as server, requests.Session() as http:
        def post(path: str, body: dict[str, object]) -> dict[str, object]:
            answer = http.post(f"{server.base_url}/api/v1/{path}", json=body, headers=KEY, timeout=30)
            assert answer.status_code == 201, answer.text
            return answer.json()  # type: ignore[no-any-return]

        account = post("accounts", {"name": "Initech", "billing_country": "USA"})
        contact = post("contacts", {"first_name": "Bill", "last_name": "Lumbergh", "email": "bill@initech.example",
                                    "account_id": account["id"]})
        opportunity = post("opportunities", {"name": "Initech renewal", "account_id": account["id"],
                                             "contact_id": contact["id"],
                                             "line_items": [{"product": "Seat", "sales_price": "100", "quantity": "5"}]})
    with sf.db.session() as s:
        queued = {(row.module, row.record_id) for row in s.scalars(select(OutboxEntry).where(OutboxEntry.connection == "sf"))}
    assert {("account", account["id"]), ("contact", contact["id"]), ("opportunity", opportunity["id"])} <= queued
    counts = sf.run()
    assert counts.failed == 0 and counts.pushed >= 3, counts
    (crm_account,) = sf.emulator.records("Account")
    (lead,) = sf.emulator.records("Lead")
    assert crm_account["Name"] == "Initech"
    assert (lead["Company"], lead["LastName"], lead["Email"]) == ("Initech", "Lumbergh", "bill@initech.example")
