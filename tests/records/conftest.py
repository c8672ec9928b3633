"""Records API fixtures: the lead fixtures' datastore (with the Runtime's session hooks), the app
served over real HTTP on loopback, and keys for a vendor and two partners' users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from connector.api import keys
from connector.api.app import create_app
from connector.config.secrets import Secret
from connector.config.settings import HttpSettings
from connector.leads.service import LeadService
from connector.store import Database
from crm_emulators.runner import BackgroundServer
from leads.conftest import Make, clock, db, make, migrated_schema, service, settings  # noqa: F401 (fixtures)

VENDOR_KEY = "vendor-key-for-the-records-api"


class Api:
    """The app over real HTTP, one key per call (`as_`)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, key: str | None, *, etag: str | None = None, **kwargs: Any
             ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if etag is not None:
            headers["If-Match"] = etag
        return self.http.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)


@dataclass
class Keys:
    vendor: str
    a: str
    b: str
    a_user: int
    b_user: int
    a_partner: int
    b_partner: int


def key_of(db: Database, email: str) -> str:
    with db.session() as s:
        return keys.issue(s, email)


@pytest.fixture
def api(db: Database, service: LeadService) -> Iterator[Api]:
    http = HttpSettings(api_keys={"admin": Secret(VENDOR_KEY, "test")})
    with BackgroundServer(create_app(db, lambda: True, service, http, clock=service.clock)) as server:
        client = Api(server.base_url)
        yield client
        client.http.close()


@pytest.fixture
def keys_(db: Database, make: Make) -> Keys:
    """Partners Alpha and Beta, one user each, with keys."""
    a, b = make.partner("Alpha"), make.partner("Beta")
    return Keys(VENDOR_KEY, key_of(db, "rep0@alpha.example"), key_of(db, "rep0@beta.example"),
                make.users_of(a)[0], make.users_of(b)[0], a, b)
