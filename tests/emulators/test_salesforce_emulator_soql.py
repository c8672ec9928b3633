"""The Salesforce emulator's SOQL subset, run directly against an in-memory org (no HTTP)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from simple_salesforce import format_soql

from crm_emulators.clock import EmulatorClock
from crm_emulators.salesforce import SalesforceEmulator
from crm_emulators.salesforce.soql import SoqlError, parse


class StillClock(EmulatorClock):
    """Stands still: the four seeded Leads share one SystemModstamp even on a loaded machine."""

    def __init__(self) -> None:
        super().__init__()
        self._start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    def now(self) -> datetime:
        with self._lock:
            return self._start + self._offset


@pytest.fixture
def org() -> SalesforceEmulator:
    emulator = SalesforceEmulator(clock=StillClock())
    emulator.seed(
        {
            "Lead": [
                {"LastName": "Ada", "Company": "Acme", "Email": "ada@acme.test", "AnnualRevenue": 10,
                 "UPM_Id__c": "L1"},
                {"LastName": "Bob", "Company": "acme", "Email": None, "AnnualRevenue": 30, "UPM_Id__c": "L2"},
                {"LastName": "Cy", "Company": "Beta 50%_off", "AnnualRevenue": None, "UPM_Id__c": "L3"},
                {"LastName": "O'Neil \\ \"q\"\n", "Company": "Gamma", "AnnualRevenue": 20, "UPM_Id__c": "L4"},
            ]
        }
    )
    return emulator


def names(org: SalesforceEmulator, soql: str) -> list[str]:
    query = parse(soql, org.schema)
    return [record["LastName"] for record in query.run(org.store.all(query.object.name))]


def error_code(org: SalesforceEmulator, soql: str) -> str:
    with pytest.raises(SoqlError) as caught:
        parse(soql, org.schema)
    return caught.value.error_code


def test_comparisons_ignore_case_for_text_and_treat_null_like_salesforce(org: SalesforceEmulator) -> None:
    assert names(org, "SELECT Id FROM Lead WHERE Company = 'ACME' ORDER BY LastName") == ["Ada", "Bob"]
    assert names(org, "SELECT Id FROM Lead WHERE Email = null") == ["Bob", "Cy", "O'Neil \\ \"q\"\n"]
    assert names(org, "SELECT Id FROM Lead WHERE Email != 'ada@acme.test'") == ["Bob", "Cy", "O'Neil \\ \"q\"\n"]
    assert names(org, "SELECT Id FROM Lead WHERE AnnualRevenue > 15 ORDER BY AnnualRevenue DESC") == [
        "Bob",
        "O'Neil \\ \"q\"\n",
    ]
    assert names(org, "SELECT Id FROM Lead WHERE AnnualRevenue < 100 ORDER BY LastName") == [
        "Ada",
        "Bob",
        "O'Neil \\ \"q\"\n",
    ]


def test_in_not_in_like_not_and_parentheses(org: SalesforceEmulator) -> None:
    assert names(org, "SELECT Id FROM Lead WHERE UPM_Id__c IN ('l1', 'L3')") == ["Ada", "Cy"]
    assert names(org, "SELECT Id FROM Lead WHERE AnnualRevenue NOT IN (10, 30)") == ["Cy", "O'Neil \\ \"q\"\n"]
    assert names(org, "SELECT Id FROM Lead WHERE Email IN ('ada@acme.test', null)") == ["Ada", "Bob", "Cy",
                                                                                         "O'Neil \\ \"q\"\n"]
    assert names(org, "SELECT Id FROM Lead WHERE Company LIKE 'ac%'") == ["Ada", "Bob"]
    assert names(org, "SELECT Id FROM Lead WHERE Company LIKE '_eta%'") == ["Cy"]
    assert names(org, "SELECT Id FROM Lead WHERE NOT Company LIKE 'ac%'") == ["Cy", "O'Neil \\ \"q\"\n"]
    assert names(
        org, "SELECT Id FROM Lead WHERE (Company = 'acme' OR Company = 'gamma') AND (NOT LastName = 'Bob')"
    ) == ["Ada", "O'Neil \\ \"q\"\n"]


def test_format_soql_escapes_round_trip(org: SalesforceEmulator) -> None:
    tricky = "O'Neil \\ \"q\"\n"
    assert names(org, format_soql("SELECT Id FROM Lead WHERE LastName = {}", tricky)) == [tricky]
    assert names(org, format_soql("SELECT Id FROM Lead WHERE Company LIKE '{:like}'", "Beta 50%_off")) == ["Cy"]
    # escaped % and _ are literal: 'Beta 50X_off' does not match the escaped pattern
    assert names(org, format_soql("SELECT Id FROM Lead WHERE Company LIKE '{:like}'", "Beta 50X_off")) == []
    assert names(org, format_soql("SELECT Id FROM Lead WHERE UPM_Id__c IN {}", ["L2", "L4"])) == ["Bob", tricky]


def test_order_by_with_nulls_limit_offset(org: SalesforceEmulator) -> None:
    assert names(org, "SELECT Id FROM Lead ORDER BY AnnualRevenue") == ["Cy", "Ada", "O'Neil \\ \"q\"\n", "Bob"]
    assert names(org, "SELECT Id FROM Lead ORDER BY AnnualRevenue DESC") == ["Bob", "O'Neil \\ \"q\"\n", "Ada", "Cy"]
    assert names(org, "SELECT Id FROM Lead ORDER BY AnnualRevenue ASC NULLS LAST") == [
        "Ada", "O'Neil \\ \"q\"\n", "Bob", "Cy"]
    assert names(org, "SELECT Id FROM Lead ORDER BY AnnualRevenue DESC NULLS FIRST LIMIT 2") == ["Cy", "Bob"]
    assert names(org, "SELECT Id FROM Lead ORDER BY Company, LastName DESC LIMIT 2 OFFSET 1") == ["Ada", "Cy"]


def test_datetime_literals_in_every_form_clients_send(org: SalesforceEmulator) -> None:
    stamp = org.records("Lead")[0]["SystemModstamp"]  # e.g. 2026-01-02T03:04:05.000+0000
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.000+0000").replace(tzinfo=timezone.utc)
    for literal in (stamp, stamp[:19] + "Z", format_soql("{}", moment)):
        assert len(names(org, f"SELECT Id FROM Lead WHERE SystemModstamp >= {literal}")) == 4
        assert names(org, f"SELECT Id FROM Lead WHERE SystemModstamp > {literal}") == []


def test_count_queries(org: SalesforceEmulator) -> None:
    query = parse("SELECT COUNT() FROM Lead WHERE Company LIKE 'a%'", org.schema)
    assert query.count is not None and query.count.field is None
    assert len(query.run(org.store.all("Lead"))) == 2
    aggregate = parse("SELECT COUNT(Email) total FROM Lead", org.schema)
    assert aggregate.count is not None and aggregate.count.alias == "total"


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Company = 'a' AND Email = 'b' OR LastName = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Company = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Company = 'bad \\q escape'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE SystemModstamp >= '2026-01-01T00:00:00Z'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE AnnualRevenue = '10'", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT 5 FOR UPDATE", "MALFORMED_QUERY"),
        ("SELECT Foo__c FROM Lead", "INVALID_FIELD"),
        ("SELECT Manager.Name FROM Lead", "INVALID_FIELD"),
        ("SELECT Owner.Manager.Name FROM Lead", "INVALID_FIELD"),
        ("SELECT Owner.Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Owner.Email = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Whizbang", "INVALID_TYPE"),
        ("SELECT Id FROM Lead WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_refused_queries(org: SalesforceEmulator, soql: str, code: str) -> None:
    assert error_code(org, soql) == code


def test_error_message_points_at_the_problem(org: SalesforceEmulator) -> None:
    with pytest.raises(SoqlError) as caught:
        parse("SELECT Id, Foo FROM Lead", org.schema)
    assert caught.value.message.startswith("\nSELECT Id, Foo FROM Lead\n           ^\nERROR at Row:1:Column:12\n")
    assert "No such column 'Foo' on entity 'Lead'" in caught.value.message


def test_parent_fields_are_selected_through_their_lookup(org: SalesforceEmulator) -> None:
    query = parse("SELECT Id, Owner.Email, Owner.LastName, Lead.Company FROM Lead", org.schema)
    assert [f.name for f in query.fields] == ["Id", "Company"]
    assert [p.path for p in query.parents] == ["Owner.Email", "Owner.LastName"]
    record = next(iter(org.store.all("Lead")))
    owner = query.parents[0].parent_of(record, org.store.get)
    assert owner is not None and owner["Id"] == record["OwnerId"]
    assert query.parents[0].parent_of({"OwnerId": None}, org.store.get) is None


def test_system_modstamp_bound_reads_the_index_and_answers_as_a_scan(org: SalesforceEmulator) -> None:
    def both(soql: str, include_deleted: bool = False) -> tuple[list[str], list[str]]:
        query = parse(soql, org.schema)
        indexed = query.run(org.store.all("Lead", include_deleted, query.modified_since))
        scanned = query.run(org.store.all("Lead", include_deleted))
        return [r["LastName"] for r in indexed], [r["LastName"] for r in scanned]

    start = org.records("Lead")[0]["SystemModstamp"]
    ordered = "SELECT LastName FROM Lead WHERE SystemModstamp > 2026-01-02T03:05:00Z ORDER BY SystemModstamp, Id"
    assert parse(ordered, org.schema).modified_since == "2026-01-02T03:05:00.000+0000"
    assert parse(ordered.replace(" ORDER BY SystemModstamp, Id", ""), org.schema).modified_since is None
    assert parse(ordered.replace("WHERE", "WHERE LastName = 'x' OR"), org.schema).modified_since is None
    assert parse(ordered.replace("WHERE", "WHERE NOT"), org.schema).modified_since is None
    assert both(ordered) == ([], [])
    org.advance_clock(120)
    bob, cy = (org.store.match_external("Lead", "UPM_Id__c", key)[0] for key in ("L2", "L3"))
    org.admin_upsert("Lead", {"Id": cy, "Company": "Delta"})
    org.admin_upsert("Lead", {"Id": bob, "Company": "Epsilon"})
    assert both(ordered) == (["Bob", "Cy"], ["Bob", "Cy"])  # ties on the stamp: by Id
    org.advance_clock(60)
    with org.store.atomic() as savepoint:
        org.admin_upsert("Lead", {"Id": cy, "Company": "Zeta"})
        savepoint.rollback()  # Cy's older save is back: the index steps aside
    assert both(ordered) == (["Bob", "Cy"], ["Bob", "Cy"])
    org.admin_delete("Lead", bob)
    deleted = f"SELECT LastName FROM Lead WHERE SystemModstamp >= {start[:19]}Z ORDER BY LastName"
    assert both(deleted) == (["Ada", "Cy", "O'Neil \\ \"q\"\n"], ["Ada", "Cy", "O'Neil \\ \"q\"\n"])
    assert both(deleted, include_deleted=True)[0] == ["Ada", "Bob", "Cy", "O'Neil \\ \"q\"\n"]
