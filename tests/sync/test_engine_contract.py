"""The sync engine's contract, one suite run against every CRM emulator (advanced mode): the
scenarios are written once against neutral names (`Crm`); CRM-specific cases stay in
test_engine_salesforce.py and test_engine_hubspot.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from connector.store.bindings import Binding
from connector.store.conflicts import Conflict
from connector.store.outbox import OutboxEntry
from connector.store.records import Account, Contact
from connector.sync import pull
from connector.runtime import Runtime
from connector.sync.pull import Puller
from connector.sync.summary import Counts

from .conftest import CrmSetup

NAMES = {
    "salesforce": {"account": "Account", "contact": "Contact", "name": "Name", "last_name": "LastName",
                   "email": "Email", "approval": "Approval_Status__c", "key": "UPM_Id__c", "title": "Title", "phone": "Phone",
                   "reads": "query", "writes": "collections composite"},
    "hubspot": {"account": "companies", "contact": "contacts", "name": "name", "last_name": "lastname",
                "email": "email", "approval": "approval_status", "key": "upm_id", "title": "jobtitle", "phone": "phone",
                "reads": "search", "writes": "batch_upsert batch_update"},
    "dynamics": {"account": "account", "contact": "contact", "name": "name", "last_name": "lastname",
                 "email": "emailaddress1", "approval": "upm_approvalstatus", "key": "upm_id", "title": "jobtitle",
                 "phone": "telephone1", "reads": "query", "writes": "batch"},
}
"""Each CRM's object and field names for the neutral ones the scenarios use."""


@pytest.fixture
def salesforce_profile() -> str:
    return "advanced.yaml"


@pytest.fixture
def hubspot_profile() -> str:
    return "advanced.yaml"


@pytest.fixture
def salesforce_options() -> str:
    return "{page_size: 200}"  # HubSpot's search page: a 500-record load spans pages on every CRM


@pytest.fixture
def dynamics_options() -> str:
    return "{page_size: 200}"


class LaterClock:
    """The engine's clock, `minutes` ahead of the CRM's: what the CRM stamped is past the lookback."""

    def __init__(self, minutes: float):
        self.minutes = minutes

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(minutes=self.minutes)


class Crm:
    """One CRM emulator and its connection, behind neutral names."""

    def __init__(self, kind: str, setup: CrmSetup):
        self.kind = kind
        self.setup = setup
        self.names = NAMES[kind]
        self.db = setup.db

    def _fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {self.names[k]: v for k, v in fields.items()}

    def add(self, module: str, **fields: Any) -> str:
        if self.kind == "dynamics":
            return self.setup.emulator.admin_upsert(self.names[module], self._fields(fields))
        if self.kind == "salesforce":
            return self.setup.emulator.admin_upsert(self.names[module], self._fields(fields))
        return self.setup.emulator.admin_upsert(0, self.names[module], self._fields(fields))

    def edit(self, module: str, crm_id: str, **fields: Any) -> None:
        if self.kind == "dynamics":
            self.setup.emulator.admin_upsert(self.names[module], self._fields(fields), id=crm_id)
        elif self.kind == "salesforce":
            self.setup.emulator.admin_upsert(self.names[module], {"Id": crm_id, **self._fields(fields)})
        else:
            self.setup.emulator.admin_upsert(0, self.names[module], self._fields(fields), id=crm_id)

    def delete(self, module: str, crm_id: str) -> None:
        if self.kind == "dynamics":
            self.setup.emulator.admin_delete(self.names[module], crm_id)
        elif self.kind == "salesforce":
            self.setup.emulator.admin_delete(self.names[module], crm_id)
        else:
            self.setup.emulator.admin_archive(0, self.names[module], crm_id)

    def records(self, module: str) -> list[dict[str, Any]]:
        """The CRM's live records of a module, keyed by neutral field names."""
        if self.kind == "salesforce":
            raw = [r for r in self.setup.emulator.records(self.names[module])]
        elif self.kind == "dynamics":
            raw = [{"Id": r[f"{self.names[module]}id"], **r} for r in self.setup.emulator.records(self.names[module])]
        else:
            raw = [{"Id": r["id"], **r["properties"]} for r in self.setup.emulator.records(0, self.names[module])
                   if not r["archived"]]
        back = {v: k for k, v in self.names.items()}
        return [{back.get(k, k): v for k, v in r.items()} for r in raw]

    def _calls(self, categories: str) -> int:
        stats = self.setup.emulator.stats()
        calls = stats["portals"][0]["api_calls"] if self.kind == "hubspot" else stats["api_calls"]
        return sum(int(calls["by_category"].get(c, 0)) for c in categories.split())

    def reads(self) -> int:
        """Read calls (queries, searches) the CRM has counted."""
        return self._calls(self.names["reads"])

    def writes(self) -> int:
        """Record-writing calls the CRM has counted (on Salesforce, /composite also carries the
        delete log's reads)."""
        return self._calls(self.names["writes"])

    def cycle(self, *, later: float = 0, method: str = "cycle", **kwargs: Any) -> Counts:
        """One engine run, its clock `later` minutes ahead of the CRM's."""
        engine = Runtime(self.setup.settings, clock=LaterClock(later), db=self.db).engine(self.setup.connection)
        try:
            counts: Counts = getattr(engine, method)(**kwargs)
            return counts
        finally:
            engine.adapter.close()

    def pulled_objects(self) -> int:
        engine = self.setup.engine()
        engine.adapter.close()
        return len([o for o in engine.loaded.profile.objects if o.direction != "to_crm"])

    @contextmanager
    def stamped(self, at: datetime) -> Iterator[None]:
        """Records written meanwhile carry the stamp `at` (a bulk load sharing one second)."""
        clock = self.setup.emulator.clock
        clock.now = lambda: at
        try:
            yield
        finally:
            del clock.now


SETUPS = {"salesforce": "sf", "hubspot": "hs", "dynamics": "dyn"}
"""Each CRM's setup fixture (conftest.py)."""


@pytest.fixture(params=list(SETUPS))
def crm(request: pytest.FixtureRequest) -> Crm:
    kind = str(request.param)
    return Crm(kind, request.getfixturevalue(SETUPS[kind]))


def count(db: Any, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def seed(crm: Crm) -> dict[str, str]:
    ids = {"account": crm.add("account", name="Globex")}
    for n in range(3):
        ids[f"c{n}"] = crm.add("contact", last_name=f"Last {n}", email=f"c{n}@globex.example")
    return ids


def test_initial_load_binds_and_a_no_change_cycle_reads_nothing(crm: Crm) -> None:
    seed(crm)
    counts = crm.cycle()
    assert (counts.created, counts.failed) == (4, 0)
    with crm.db.session() as s:
        assert s.scalar(select(func.count(func.distinct(Binding.crm_id))).where(Binding.module == "contact")) == 3
    crm.cycle(later=10)  # moves the cursors past the load (its start held them back by the lookback)
    reads = crm.reads()
    again = crm.cycle(later=10)
    assert (again.read, again.created, again.updated, again.pushed) == (0, 0, 0, 0)
    assert crm.reads() - reads == crm.pulled_objects(), "one read call per object"


def test_a_local_record_is_pushed_once_with_its_external_id(crm: Crm) -> None:
    with crm.db.session() as s:
        contact = Contact(email="new@partner.example", last_name="Lead")
        s.add(contact)
    assert crm.cycle().pushed == 1
    for _ in range(3):
        assert crm.cycle().pushed == 0
    mine = [r for r in crm.records("contact") if r.get("key") == f"upm-contact-{contact.id}"]
    assert [r["last_name"] for r in mine] == ["Lead"]


def test_a_crm_delete_archives_never_destroys(crm: Crm) -> None:
    ids = seed(crm)
    crm.cycle()
    crm.delete("contact", ids["c1"])
    assert crm.cycle().archived == 1
    with crm.db.session() as s:
        archived = s.scalars(select(Contact.last_name).where(Contact.archived_at.is_not(None))).all()
    assert archived == ["Last 1"] and count(crm.db, Contact) == 3


def test_echo_one_local_edit_ten_cycles_one_write(crm: Crm) -> None:
    seed(crm)
    crm.cycle()
    with crm.db.session() as s:
        contact = s.scalars(select(Contact).where(Contact.last_name == "Last 0")).one()
        contact.phone = "+1 555 0100"
    writes = crm.writes()
    for _ in range(10):
        crm.cycle(deletes="due")  # the delete log is not due again: every call counted is a write
    assert crm.writes() - writes == 1, "exactly one write to the CRM"
    (remote,) = [r for r in crm.records("contact") if r.get("last_name") == "Last 0"]
    assert remote["phone"] == "+1 555 0100"
    with crm.db.session() as s:
        stamp = s.get(Contact, contact.id).updated_at  # type: ignore[union-attr]
    crm.cycle()
    with crm.db.session() as s:
        assert s.get(Contact, contact.id).updated_at == stamp, "our write coming back changed nothing"  # type: ignore[union-attr]


def test_echo_one_crm_edit_ten_cycles_one_local_write(crm: Crm) -> None:
    ids = seed(crm)
    crm.cycle()
    crm.edit("contact", ids["c1"], title="CTO")
    writes = crm.writes()
    updated = sum(crm.cycle(deletes="due").updated for _ in range(10))
    assert updated == 1 and crm.writes() == writes
    with crm.db.session() as s:
        assert s.scalars(select(Contact.title).where(Contact.last_name == "Last 1")).one() == "CTO"


def test_disjoint_concurrent_edits_both_survive(crm: Crm) -> None:
    ids = seed(crm)
    crm.cycle()
    crm.edit("contact", ids["c2"], title="VP Sales")
    with crm.db.session() as s:
        s.scalars(select(Contact).where(Contact.last_name == "Last 2")).one().phone = "+44 20 7946 0000"
    crm.cycle()
    crm.cycle()
    (remote,) = [r for r in crm.records("contact") if r.get("last_name") == "Last 2"]
    assert (remote["title"], remote["phone"]) == ("VP Sales", "+44 20 7946 0000")
    with crm.db.session() as s:
        local = s.scalars(select(Contact).where(Contact.last_name == "Last 2")).one()
        assert (local.title, local.phone) == ("VP Sales", "+44 20 7946 0000")
        assert s.scalar(select(func.count()).select_from(Conflict)) == 0


class Killed(RuntimeError):
    pass


@pytest.mark.parametrize("killed_after", [1, 2])
def test_a_same_stamp_load_across_pages_killed_between_batches_is_ingested_once(
        crm: Crm, killed_after: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """500 records share one stamp, older than the lookback, over three pages (one batch each);
    the sync dies after `killed_after` batches committed. The next runs pull every record once."""
    monkeypatch.setattr(pull, "APPLY_BATCH", 200)
    with crm.stamped(datetime.now(timezone.utc).replace(microsecond=0)):
        for n in range(500):
            crm.add("contact", last_name=f"Bulk {n}", email=f"bulk{n}@load.example")
    real = Puller.apply_page
    batches = []

    def apply_then_die(self: Puller, page: Any, counts: Counts, **kwargs: Any) -> None:
        real(self, page, counts, **kwargs)
        if self.obj.module == "contact":
            batches.append(len(page))
            if len(batches) == killed_after:
                raise Killed("the sync was killed after this batch committed")

    monkeypatch.setattr(Puller, "apply_page", apply_then_die)
    with pytest.raises(Killed):
        crm.cycle(later=10)
    assert count(crm.db, Contact) == 200 * killed_after
    monkeypatch.setattr(Puller, "apply_page", real)
    created = crm.cycle(later=10).created + crm.cycle(later=10).created
    assert created == 500 - 200 * killed_after, "the rest, once"
    with crm.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 500
        assert s.scalar(select(func.count(func.distinct(Binding.crm_id))).where(Binding.module == "contact")) == 500
        assert s.scalar(select(func.count()).select_from(Binding).where(Binding.module == "contact")) == 500
    reads = crm.reads()
    assert crm.cycle(later=10).read == 0 and crm.reads() - reads == crm.pulled_objects(), "settled: reads nothing"


def test_a_record_committed_late_inside_the_lookback_is_ingested_once(crm: Crm) -> None:
    """A record stamped before the newest one a run applied, but committed after that run read:
    within the lookback, so the next run reads it, once."""
    now = datetime.now(timezone.utc)
    crm.add("contact", last_name="First", email="first@x.example")
    assert crm.cycle().created == 1
    with crm.stamped(now - timedelta(seconds=60)):
        crm.add("contact", last_name="Late", email="late@x.example")
    assert crm.cycle().created == 1
    assert crm.cycle().created == 0
    assert crm.cycle(later=10).created == 0
    with crm.db.session() as s:
        assert sorted(s.scalars(select(Contact.last_name))) == ["First", "Late"]


def test_a_pushed_account_read_back_logs_no_conflict(crm: Crm) -> None:
    """A to_upm field (the CRM's approval decision) is the CRM's to set: reading back an account
    we created, and the CRM's decision on it, are no conflict."""
    with crm.db.session() as s:
        account = Account(name="Initech")
        s.add(account)
    assert crm.cycle().pushed == 1
    (pushed,) = [r for r in crm.records("account") if r.get("key") == f"upm-account-{account.id}"]
    crm.edit("account", pushed["Id"], approval="Approved")
    counts = crm.cycle()
    assert counts.conflicts == 0
    assert crm.cycle().conflicts == 0
    with crm.db.session() as s:
        assert s.get(Account, account.id).approval_status == "Approved"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Conflict)) == 0


def _made_before_the_connection(crm: Crm, names: list[str]) -> None:
    """Accounts in UPM that no connection's outbox holds (they predate the connection)."""
    with crm.db.session() as s:
        s.add_all(Account(name=name) for name in names)
    with crm.db.session() as s:
        s.execute(delete(OutboxEntry))


def test_accounts_in_upm_before_the_connection_reach_the_crm_on_the_initial_sync(crm: Crm) -> None:
    _made_before_the_connection(crm, ["Acme", "Umbrella"])
    crm.add("account", name="Globex")
    counts = crm.cycle()
    assert (counts.created, counts.pushed) == (1, 2)
    assert sorted(r["name"] for r in crm.records("account")) == ["Acme", "Globex", "Umbrella"]
    assert crm.cycle().pushed == 0, "queued once"


def test_a_full_resync_pushes_local_accounts_the_crm_never_had(crm: Crm) -> None:
    crm.cycle()
    _made_before_the_connection(crm, ["Acme"])
    assert crm.cycle().pushed == 0, "an incremental cycle only pushes what changed"
    assert crm.cycle(method="resync", full=True).pushed == 1
    assert [r["name"] for r in crm.records("account")] == ["Acme"]
    assert crm.cycle(method="resync", full=True).pushed == 0, "bound now: nothing more to push"
