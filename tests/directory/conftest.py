"""Directory fixtures: the lead suite's datastore (with the Runtime's hooks), clock, LeadService and
factory, plus a DirectoryService over them."""

from __future__ import annotations

import pytest

from connector.leads.service import LeadService
from connector.services.directory import DirectoryService
from connector.store import Database
from leads.conftest import Make, clock, db, make, migrated_schema, service, settings  # noqa: F401 (fixtures)


@pytest.fixture
def directory(db: Database, service: LeadService) -> DirectoryService:  # noqa: F811
    return DirectoryService(db, service)


__all__ = ["Make"]
