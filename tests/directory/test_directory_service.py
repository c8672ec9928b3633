"""The directory service: validation naming field and value, the directory version moving with
every write (and only then), deactivation redistributing leads, and seeding from the config."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from connector.config.settings import DirectorySettings, Settings
from connector.leads import lifecycle
from connector.leads.service import LeadService
from connector.services.directory import (DirectoryService, GroupSpec, InvalidField, NamedAccountSpec, PartnerChanges,
                                          PartnerSpec, UnknownRecord, UserChanges, UserSpec, parse)
from connector.services.directory_seed import seed
from connector.store import Database
from connector.store.directory_version import current_token
from connector.store.partners import PartnerAccount
from leads.conftest import Make


def token(db: Database) -> str | None:
    with db.session() as s:
        return current_token(s)


def refused(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidField) as caught:
        call(*args)
    return str(caught.value)


def test_the_partner_list_shows_each_partners_parent_children_and_users(directory: DirectoryService) -> None:
    """The list (read for all partners at once) says what each partner's own view says."""
    for spec in ({"name": "Acme"}, {"name": "Acme West", "parent": "Acme"}, {"name": "Acme East", "parent": "Acme"},
                 {"name": "Solo"}, {"name": "Acme West Texas", "parent": "Acme West"}):
        directory.add_partner(parse(PartnerSpec, spec))
    for email, partner in (("a@acme.example", "Acme"), ("b@acme.example", "Acme"), ("w@west.example", "Acme West")):
        directory.add_user(parse(UserSpec, {"email": email, "partner": partner}))
    listed = {p.name: (p.parent, p.children, p.users) for p in directory.partners()}
    assert listed == {"Acme": (None, ["Acme West", "Acme East"], 2), "Acme West": ("Acme", ["Acme West Texas"], 1),
                      "Acme East": ("Acme", [], 0), "Solo": (None, [], 0), "Acme West Texas": ("Acme West", [], 0)}
    for name, shown in listed.items():
        one = directory.partner(name)
        assert (one.parent, one.children, one.users) == shown


def test_bad_input_is_refused_naming_the_field_and_the_value(directory: DirectoryService) -> None:
    directory.add_partner(parse(PartnerSpec, {"name": "Acme", "countries": ["us", "CA"]}))
    directory.add_partner(parse(PartnerSpec, {"name": "Acme West", "parent": "Acme"}))
    directory.add_user(parse(UserSpec, {"email": "rep@acme.example", "partner": "Acme"}))
    assert directory.partner("acme").countries == ["US", "CA"], "codes are kept upper-case"
    assert refused(directory.add_partner, parse(PartnerSpec, {"name": "X", "parent": "Nope"})) == \
        "parent: 'Nope' is not a partner"
    assert refused(directory.edit_partner, "Acme", parse(PartnerChanges, {"parent": "Acme West"})) == \
        "parent: 'Acme West' would make a cycle: Acme -> Acme West -> Acme"
    assert refused(directory.add_partner, parse(PartnerSpec, {"name": "ACME"})) == \
        "name: 'ACME' is already the name of partner 1"
    assert refused(directory.add_user, parse(UserSpec, {"email": "Rep@Acme.example", "partner": "Acme"})) == \
        "email: 'Rep@Acme.example' is already the email of user 1"
    assert refused(directory.add_group, parse(GroupSpec, {"name": "G", "members": ["Acme", "Ghost"]})) == \
        "members.1.partner: 'Ghost' is not a partner"
    assert refused(directory.add_group, parse(GroupSpec, {"name": "G", "members": ["Acme West=rep@acme.example"]})) \
        == "members.0.rep: 'rep@acme.example' is not a user of Acme West"
    assert refused(parse, PartnerSpec, {"name": "Y", "countries": ["United Kingdom"]}) == \
        "countries: 'United Kingdom' is not an ISO 3166 country code; did you mean 'GBR'?"
    assert refused(parse, UserSpec, {"email": "r@x.example", "partner": "Acme", "role": "boss"}).startswith(
        "role: 'boss' is invalid: Input should be 'admin', 'marketing' or 'sales'")
    assert refused(parse, UserSpec, {"partner": "Acme"}) == "email: a value is required"
    with pytest.raises(UnknownRecord, match="no partner 'Nobody'"):
        directory.partner("Nobody")
    assert [p.name for p in directory.partners()] == ["Acme", "Acme West"], "nothing refused was written"


def test_every_write_moves_the_directory_version_and_a_no_op_does_not(db: Database, service: LeadService) -> None:
    bare = Database(db.url)  # no session hooks: the service bumps the version itself
    directory = DirectoryService(bare, service)
    seen = {token(db)}

    def moved() -> None:
        now = token(db)
        assert now not in seen, "the directory version did not change"
        seen.add(now)

    directory.add_partner(parse(PartnerSpec, {"name": "Acme"}))
    moved()
    directory.add_user(parse(UserSpec, {"email": "rep@acme.example", "partner": "Acme"}))
    moved()
    directory.add_group(parse(GroupSpec, {"name": "G", "members": ["Acme"]}))
    moved()
    directory.add_named_account(parse(NamedAccountSpec, {"name": "Initech", "partner": "Acme"}))
    moved()
    directory.edit_user("rep@acme.example", parse(UserChanges, {"role": "admin"}))
    moved()
    before = token(db)
    directory.edit_partner("Acme", parse(PartnerChanges, {"name": "Acme"}))
    directory.edit_group("G", parse(GroupSpec, {"name": "G", "members": ["Acme"]}))
    assert token(db) == before, "a write that changes nothing leaves the version alone"
    directory.deactivate_named_account("Initech")
    moved()
    bare.dispose()


def test_deactivating_a_partner_pulls_back_its_leads_and_redistributes_them(
        directory: DirectoryService, service: LeadService, make: Make) -> None:
    alpha, beta = make.partner("Alpha"), make.partner("Beta")
    make.group("US", [alpha, beta])
    service.save_rules([{"name": "us", "target": "group:US", "model": "round_robin"}])
    first, second = make.lead(email="a@c.example"), make.lead(email="b@c.example")
    for lead in (first, second):
        service.assign(lead, "account:Alpha", reason="test")
    service.accept(second, make.users_of(alpha)[0])
    untouched = make.lead(email="c@c.example")
    service.assign(untouched, "account:Beta", reason="test")

    done = directory.deactivate_partner("Alpha", "left the program")
    assert done.was_active and done.kind == "partner" and done.name == "Alpha"
    assert [(m.lead_id, m.partner, m.state) for m in done.leads] == [(first, "Beta", lifecycle.ASSIGNED),
                                                                      (second, "Beta", lifecycle.ASSIGNED)]
    assert all(make.prospect(lead).partner_account_id == beta for lead in (first, second))
    assert ("pulled_back", "account", alpha) in make.assignment_actions(first)
    assert make.prospect(untouched).partner_account_id == beta
    assert directory.partner("Alpha").active is False
    again = directory.deactivate_partner("Alpha")
    assert not again.was_active and again.leads == []


def test_deactivating_a_user_pulls_back_the_leads_assigned_to_them(directory: DirectoryService,
                                                                   service: LeadService, make: Make) -> None:
    alpha, beta = make.partner("Alpha", users=2), make.partner("Beta")
    rep, other = make.users_of(alpha)
    lead, kept = make.lead(email="a@c.example"), make.lead(email="b@c.example")
    service.assign(lead, f"user:{rep}", reason="test")
    service.assign(kept, f"user:{other}", reason="test")
    service.save_rules([{"name": "beta", "target": "account:Beta"}])

    done = directory.deactivate_user("rep0@alpha.example")
    assert [(m.lead_id, m.partner_id) for m in done.leads] == [(lead, beta)]
    assert make.prospect(kept).assigned_user_id == other, "other users' leads stay"
    assert directory.user(rep).active is False


def test_seeding_from_the_config_is_idempotent_and_reports_bad_entries(db: Database,
                                                                      directory: DirectoryService) -> None:
    settings = Settings(directory=DirectorySettings(
        partners=[{"name": "Acme Resellers", "tier": "Gold", "countries": ["US"]},
                  {"name": "Acme West", "parent": "Acme Resellers"},
                  {"name": "Broken", "parent": "Nowhere"}],
        users=[{"email": "rep@acme.example", "partner": "Acme Resellers", "role": "sales"}],
        groups=[{"name": "Demo", "members": ["Acme Resellers", "Acme West"]}],
        named_accounts=[{"name": "Initech", "partner": "Acme Resellers", "rep": "rep@acme.example"}],
    ))
    first = seed(directory, settings)
    assert first.created == ["partner Acme Resellers", "partner Acme West", "user rep@acme.example", "group Demo",
                             "named account Initech"]
    assert first.problems == ["(embedded defaults): directory.partners[2]: parent: 'Nowhere' is not a partner"]
    version = token(db)
    second = seed(directory, settings)
    assert (second.created, second.present) == ([], 5)
    assert token(db) == version, "a second seed writes nothing"
    with db.session() as s:
        assert len(list(s.scalars(select(PartnerAccount)))) == 2
    directory.edit_partner("Acme Resellers", parse(PartnerChanges, {"tier": "Platinum"}))
    assert seed(directory, settings).present == 5
    assert directory.partner("Acme Resellers").tier == "Platinum", "a seed never undoes an edit"


def test_the_daemon_seeds_the_directory_at_start_and_logs_it(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from connector.daemon.service import _seed_directory
    from connector.runtime import Runtime

    settings = Settings(directory=DirectorySettings(partners=[{"name": "Acme Resellers"}, {"name": "Bad", "parent": "?"}]))
    runtime = Runtime(settings, db=db)
    with caplog.at_level(logging.INFO, logger="connector.daemon.service"):
        _seed_directory(settings, runtime)
        _seed_directory(settings, runtime)
    seeded = [r for r in caplog.records if r.getMessage() == "directory seeded from the config"]
    assert [r.seeded for r in seeded] == [["partner Acme Resellers"]], "logged once: the second start adds nothing"
    assert sum("parent: '?' is not a partner" in r.getMessage() for r in caplog.records) == 2
    assert DirectoryService(db, runtime.leads).partner("Acme Resellers").active


class LateReplica(DirectoryService):
    """A second replica seeding at the same moment as the first: it looked before the first one's
    inserts committed, so it finds nothing and adds everything again."""

    def __init__(self, db: Database, leads: LeadService):
        super().__init__(db, leads)
        self.looked: set[str | int] = set()

    def partner(self, ref: str | int) -> Any:
        if ref not in self.looked:
            self.looked.add(ref)
            raise UnknownRecord(f"no partner {ref!r}")
        return super().partner(ref)

    @staticmethod
    def _unique_name(s: Any, name: str) -> None:
        """The service's own check passed too (the first replica had not committed yet)."""


def test_replicas_seeding_at_once_create_each_partner_once(db: Database, service: LeadService) -> None:
    settings = Settings(directory=DirectorySettings(partners=[{"name": "Acme Resellers"}, {"name": "Globex"}]))
    assert seed(DirectoryService(db, service), settings).created == ["partner Acme Resellers", "partner Globex"]
    replica = LateReplica(db, service)
    late = seed(replica, settings)
    assert (late.created, late.present, late.problems) == ([], 2, [])
    assert replica.looked == {"Acme Resellers", "Globex"}, "the late replica did try to add them"
    with db.session() as s:
        assert sorted(s.scalars(select(PartnerAccount.name))) == ["Acme Resellers", "Globex"]
