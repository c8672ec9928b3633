"""schemathesis against the served /openapi.json, with a valid vendor key (so the calls get past
401 to the routes themselves): no 5xx, and no response that breaks its documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from connector.api.app import create_app
from connector.config.secrets import Secret
from connector.config.settings import HttpSettings, Settings
from connector.leads.service import LeadService
from connector.store import Database
from connector.store.bindings import Binding
from crm_emulators.runner import BackgroundServer
from leads.conftest import Make

KEY = "schemathesis-vendor-key"


@pytest.fixture
def served_schema(db: Database, service: LeadService, make: Make) -> Iterator[Any]:
    make.partner("Alpha")
    make.group("Resellers", [make.partner("Beta")])
    lead = make.lead()
    with db.session() as s:
        s.add(Binding(connection="vendor-salesforce", crm_object="Lead", crm_id="00Q1", module="prospect", record_id=lead))
    http = HttpSettings(api_keys={"fuzz": Secret(KEY, "test")})
    with BackgroundServer(create_app(db, lambda: True, service, http, Settings(http=http))) as server:
        yield schemathesis.openapi.from_url(server.base_url + "/openapi.json")


def test_no_server_error_and_every_response_matches_its_schema(served_schema: Any) -> None:
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/leads/{ref}", "/api/v1/leads/{ref}/assign", "/api/v1/inbox"}
    statuses: set[int] = set()
    for operation in operations:
        @given(operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            response = case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"},
                                              checks=[not_a_server_error, response_schema_conformance])
            statuses.add(response.status_code)

        call()
    assert 200 in statuses and 401 not in statuses, "the calls reach past the key check"
