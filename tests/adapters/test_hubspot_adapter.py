"""HubSpot-specific behaviour of HubSpotAdapter, over the emulator with real HTTP and the real client:
the 10,000-result search cap, archived records, associations, rate limits, token handling, portals."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from connector.adapters.base import AuthError, FatalError, QuotaError, RetriableError
from connector.adapters.hubspot import HubSpotAdapter, PrivateAppToken
from connector.clock import ManualClock
from connector.mapping.loader import load_profile
from connector.store import Database
from crm_emulators.hubspot import EmulatorOptions
from crm_emulators.runner import free_port

from .conftest import RecordingSleep
from .harness_hubspot import START, HubSpotBackend, HubSpotHarness


def contact(n: int, **extra: Any) -> dict[str, Any]:
    return {"upm_id": f"upm-{n}", "email": f"lead{n}@example.com", "company": f"Company {n}", **extra}


def calls(hubspot: HubSpotHarness, category: str, portal: int = 0) -> int:
    return int(hubspot.portal_stats(portal)["api_calls"]["by_category"].get(category, 0))


def rejected(hubspot: HubSpotHarness, policy: str) -> int:
    return int(hubspot.portal_stats()["rejected"].get(policy, 0))


def read_ids(adapter: HubSpotAdapter, obj: str = "contacts", since: datetime | None = None) -> list[str]:
    return [r.id for page in adapter.read_changes(obj, since, ["company"]) for r in page]


# ---- the search index lags behind writes

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def test_the_shipped_lookback_covers_the_search_lag(db: Database, sleeps: RecordingSleep) -> None:
    lookback = load_profile(MAPPINGS / "hubspot" / "basic.yaml").profile.lookback_seconds
    with HubSpotBackend(EmulatorOptions(portals=1)) as backend, backend.harness(db, sleep=sleeps) as hubspot:
        assert hubspot.emulator.options.search_lag_seconds == 2.0, "HubSpot's lag is the emulator's default"
        adapter = hubspot.private_app_adapter()
        hubspot.emulator.admin_upsert(0, "contacts", {"upm_id": "early", "company": "Early"})
        hubspot.advance_clock(10)
        late = hubspot.emulator.admin_upsert(0, "contacts", {"upm_id": "late", "company": "Late"})
        hubspot.advance_clock(1)  # the sync starts one second after the write: search does not show it yet
        first_run = hubspot.now()
        first = [r for page in adapter.read_changes("contacts", None, ["company"]) for r in page]
        assert [r.fields["company"] for r in first] == ["Early"]
        cursor = min(max(r.modified_at for r in first), first_run - timedelta(seconds=lookback))  # as the engine
        hubspot.advance_clock(60)

        second = read_ids_since(adapter, cursor, lookback)

        assert late in second, "the next sync picks up the record the lag hid"
        assert late not in read_ids_since(adapter, first_run, 0), "a cursor at the run's start would lose it"


def read_ids_since(adapter: HubSpotAdapter, since: datetime, lookback: float) -> list[str]:
    return [r.id for page in adapter.read_changes("contacts", since, ["company"], lookback_seconds=lookback) for r in page]


# ---- reads past the search cap


def test_a_backlog_of_25000_is_read_completely_once_each_past_the_search_cap(hubspot: HubSpotHarness) -> None:
    emulator = hubspot.emulator
    seeded = [emulator.admin_upsert(0, "contacts", {"company": f"Import {i}"}) for i in range(12_000)]  # one stamp
    sizes = [1, 3, 150, 40, 700, 9, 97]
    while len(seeded) < 25_000:
        emulator.advance_clock(0.001)
        for _ in range(min(sizes[len(seeded) % len(sizes)], 25_000 - len(seeded))):
            seeded.append(emulator.admin_upsert(0, "contacts", {"company": "Later"}))
    searches_before = calls(hubspot, "search")

    ids: list[str] = []
    stamps: list[datetime] = []
    largest_page = 0
    for page in hubspot.adapter.read_changes("contacts", None, ["company"]):
        largest_page = max(largest_page, len(page))
        ids.extend(r.id for r in page)
        stamps.extend(r.modified_at for r in page)

    assert len(ids) == 25_000 and set(ids) == set(seeded)
    assert stamps == sorted(stamps)
    assert largest_page == 200
    searches = calls(hubspot, "search") - searches_before
    assert searches <= math.ceil(25_000 / 200) + 8, searches


def test_a_since_inside_a_large_backlog_reads_only_what_follows(hubspot: HubSpotHarness) -> None:
    for i in range(300):
        hubspot.emulator.admin_upsert(0, "contacts", {"company": f"Old {i}"})
    hubspot.advance_clock(5)
    mark = hubspot.now()
    later = [hubspot.emulator.admin_upsert(0, "contacts", {"company": f"New {i}"}) for i in range(250)]

    assert sorted(read_ids(hubspot.adapter, since=mark)) == sorted(later)


# ---- deletes


def test_archived_records_are_reported_as_deleted(hubspot: HubSpotHarness) -> None:
    adapter = hubspot.adapter
    created = adapter.upsert("contacts", "upm_id", [contact(n) for n in range(3)])
    bulk = [hubspot.emulator.admin_upsert(0, "contacts", {"company": f"Bulk {i}"}) for i in range(150)]
    mark = hubspot.now()
    hubspot.advance_clock(5)
    hubspot.crm_delete(created[0].crm_id or "")
    adapter.delete("contacts", [created[1].crm_id or ""])
    for record_id in bulk:
        hubspot.crm_delete(record_id)
    lists_before = calls(hubspot, "list")

    report = adapter.read_deleted("contacts", mark)

    assert report.complete and report.earliest_available == hubspot.now() - timedelta(days=90)
    assert sorted(i for i, _ in report.ids) == sorted([str(created[0].crm_id), str(created[1].crm_id), *bulk])
    assert {when for _, when in report.ids} == {mark + timedelta(seconds=5)}
    assert calls(hubspot, "list") - lists_before == 2, "100 archived records a page"
    assert read_ids(adapter) == [created[2].crm_id], "search never returns archived records"

    old = adapter.read_deleted("contacts", hubspot.now() - timedelta(days=91))
    assert not old.complete and len(old.ids) == 152


# ---- associations


def test_associations_round_trip(hubspot: HubSpotHarness) -> None:
    adapter = hubspot.adapter
    c1, c2 = (r.crm_id or "" for r in adapter.upsert("contacts", "upm_id", [contact(1), contact(2)]))
    (co1,) = (r.crm_id or "" for r in adapter.upsert("companies", "upm_id", [{"upm_id": "co-1", "name": "Acme"}]))
    (d1,) = (r.crm_id or "" for r in adapter.upsert("deals", "upm_id", [{"upm_id": "d-1", "dealname": "Big deal", "amount": 1200}]))
    (n1,) = (r.crm_id or "" for r in adapter.upsert("notes", "upm_id", [{"upm_id": "n-1", "hs_note_body": "Called", "hs_timestamp": START}]))

    linked = [
        *adapter.associate("contacts", c1, "companies", [co1]),
        *adapter.associate("deals", d1, "contacts", [c1, c2]),
        *adapter.associate("deals", d1, "companies", [co1]),
        *adapter.associate("notes", n1, "contacts", [c1]),
        *adapter.associate("notes", n1, "deals", [d1]),
    ]

    assert all(r.outcome == "created" for r in linked)
    assert adapter.read_associations("contacts", [c1, c2], "companies") == {c1: [co1], c2: []}
    assert {k: sorted(v) for k, v in adapter.read_associations("deals", [d1], "contacts").items()} == {d1: sorted([c1, c2])}
    assert adapter.read_associations("deals", [d1], "companies") == {d1: [co1]}
    assert adapter.read_associations("companies", [co1], "deals") == {co1: [d1]}
    assert sorted(adapter.read_associations("contacts", [c2], "deals")[c2]) == [d1]
    assert adapter.read_associations("notes", [n1], "deals") == {n1: [d1]}
    assert adapter.read_associations("contacts", [c1], "notes") == {c1: [n1]}


def test_linking_to_a_missing_record_fails_for_that_record(hubspot: HubSpotHarness) -> None:
    adapter = hubspot.adapter
    (c1,) = (r.crm_id or "" for r in adapter.upsert("contacts", "upm_id", [contact(1)]))
    (co1,) = (r.crm_id or "" for r in adapter.upsert("companies", "upm_id", [{"upm_id": "co-1", "name": "Acme"}]))

    results = adapter.associate("contacts", c1, "companies", ["999", co1])

    assert [(r.key, r.outcome) for r in results] == [("999", "failed"), (co1, "created")]
    assert results[0].error_code == "OBJECT_NOT_FOUND"
    with pytest.raises(FatalError):
        adapter.associate("contacts", c1, "contacts", [c1])


# ---- writes


def test_invalid_values_fail_only_their_records(hubspot: HubSpotHarness) -> None:
    records = [contact(n) for n in range(8)]
    records[3]["email"] = "not-an-email"
    records[6]["no_such_property"] = "x"
    before = calls(hubspot, "batch_upsert")

    results = hubspot.adapter.upsert("contacts", "upm_id", records)

    assert [r.ok for r in results] == [True, True, True, False, True, True, False, True]
    assert (results[3].error_code, results[3].error_fields) == ("INVALID_EMAIL", ("email",))
    assert (results[6].error_code, results[6].error_fields) == ("PROPERTY_DOESNT_EXIST", ("no_such_property",))
    assert "not-an-email" in (results[3].error_message or "")
    assert calls(hubspot, "batch_upsert") - before <= 12
    assert len(hubspot.crm_records()) == 6


def test_more_than_a_batch_is_refused(hubspot: HubSpotHarness) -> None:
    with pytest.raises(ValueError):
        hubspot.adapter.upsert("contacts", "upm_id", [contact(n) for n in range(101)])


def test_a_record_without_external_id_fails_alone(hubspot: HubSpotHarness) -> None:
    results = hubspot.adapter.upsert("contacts", "upm_id", [contact(1), {"company": "No id"}])

    assert [(r.ok, r.error_code) for r in results] == [(True, None), (False, "MISSING_EXTERNAL_ID")]


# ---- rate limits


def test_a_ten_secondly_429_waits_the_interval_then_succeeds(hubspot: HubSpotHarness, sleeps: RecordingSleep) -> None:
    hubspot.adapter.describe("contacts")
    other = hubspot.private_app_adapter()
    for _ in range(109):
        other.describe("contacts")  # the portal's 110 calls per 10 s are spent by another integration
    sleeps.clear()

    description = hubspot.adapter.describe("contacts")

    assert "upm_id" in description.fields
    assert rejected(hubspot, "TEN_SECONDLY_ROLLING") == 1
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 10


def test_rate_limit_headers_pace_calls_before_any_429(hubspot: HubSpotHarness, sleeps: RecordingSleep) -> None:
    for _ in range(111):
        hubspot.adapter.describe("companies")

    assert rejected(hubspot, "TEN_SECONDLY_ROLLING") == 0
    assert len(sleeps.calls) == 1 and 10 <= sleeps.calls[0] < 11
    usage = hubspot.adapter.api_usage()
    assert (usage.limit, usage.calls_made) == (500_000, 111) and usage.used and usage.used >= 110


def test_the_daily_limit_stops_calls_until_midnight_utc(hubspot: HubSpotHarness, sleeps: RecordingSleep) -> None:
    hubspot.adapter.describe("contacts")
    hubspot.exhaust_daily_quota()

    with pytest.raises(QuotaError) as refused:
        hubspot.adapter.upsert("contacts", "upm_id", [contact(1)])
    with pytest.raises(QuotaError):
        hubspot.adapter.describe("contacts")

    assert refused.value.resets_at == datetime(2026, 3, 3, tzinfo=timezone.utc)
    assert rejected(hubspot, "DAILY") == 1 and sleeps.calls == []
    hubspot.advance_clock((refused.value.resets_at - hubspot.now()).total_seconds())
    assert [r.ok for r in hubspot.adapter.upsert("contacts", "upm_id", [contact(1)])] == [True]


def test_searches_are_paced_at_five_a_second(hubspot: HubSpotHarness, sleeps: RecordingSleep) -> None:
    adapter = hubspot.oauth_adapter(page_size=2)
    adapter.upsert("contacts", "upm_id", [contact(n) for n in range(30)])
    start = hubspot.now()

    assert len(read_ids(adapter)) == 30

    assert calls(hubspot, "search") == 15 and rejected(hubspot, "SECONDLY") == 0
    assert len(sleeps.calls) == 2 and all(0.9 < s <= 1.1 for s in sleeps.calls)
    assert hubspot.now() - start >= timedelta(seconds=2)


def test_a_search_429_is_retried_after_a_second(hubspot: HubSpotHarness, sleeps: RecordingSleep) -> None:
    hubspot.adapter.upsert("contacts", "upm_id", [contact(1)])
    other = hubspot.private_app_adapter()
    for _ in range(5):
        read_ids(other)  # another integration spends this second's searches
    sleeps.clear()

    assert len(read_ids(hubspot.adapter)) == 1

    assert rejected(hubspot, "SECONDLY") == 1
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 1


# ---- tokens and transport


def test_tokens_are_refreshed_ahead_of_expiry(hubspot: HubSpotHarness) -> None:
    adapter = hubspot.adapter
    adapter.describe("contacts")
    hubspot.advance_clock(1600)  # 200 s left: inside the 5-minute margin

    adapter.describe("contacts")
    hubspot.advance_clock(1000)
    adapter.describe("contacts")

    details = adapter.api_usage().details
    assert (details["refreshes"], details["unauthorized"]) == (1, 0), "no 401 was ever received"
    assert calls(hubspot, "token") == 2


def test_a_401_anyway_refreshes_once_and_retries(hubspot: HubSpotHarness) -> None:
    adapter = hubspot.oauth_adapter(clock=ManualClock(START))  # a clock that never sees the token age
    adapter.describe("contacts")
    hubspot.advance_clock(1801)

    adapter.describe("contacts")

    details = adapter.api_usage().details
    assert (details["refreshes"], details["unauthorized"]) == (1, 1)
    assert adapter.api_usage().calls_made == 3


def test_a_refused_private_app_token_is_an_auth_error(hubspot: HubSpotHarness) -> None:
    adapter = hubspot.private_app_adapter(token="pat-na1-revoked")

    with pytest.raises(AuthError):
        adapter.describe("contacts")

    assert adapter.api_usage().calls_made == 1


def test_a_private_app_token_works_and_never_expires(hubspot: HubSpotHarness) -> None:
    adapter = hubspot.private_app_adapter()
    adapter.upsert("contacts", "upm_id", [contact(1)])
    hubspot.advance_clock(7200)

    assert len(read_ids(adapter)) == 1
    assert adapter.api_usage().details["refreshes"] == 0 and calls(hubspot, "token") == 0


def test_two_portals_sync_side_by_side_without_crossing(hubspot: HubSpotHarness) -> None:
    first, second = hubspot.adapter, hubspot.oauth_adapter(portal=1)

    first.upsert("contacts", "upm_id", [contact(n, company="Portal zero") for n in range(3)])
    second.upsert("contacts", "upm_id", [contact(n, company="Portal one") for n in range(2)])

    def companies(adapter: HubSpotAdapter) -> list[str]:
        return [r.fields["company"] for page in adapter.read_changes("contacts", None, ["company"]) for r in page]

    assert companies(first) == ["Portal zero"] * 3
    assert companies(second) == ["Portal one"] * 2
    assert [len(hubspot.emulator.records(p, "contacts")) for p in (0, 1)] == [3, 2]


def test_a_timed_out_call_is_retried(hubspot: HubSpotHarness, sleeps: RecordingSleep) -> None:
    adapter = hubspot.oauth_adapter(timeout=0.3)
    adapter.describe("contacts")
    hubspot.emulator.add_fault({"type": "timeout", "delay_seconds": 1.0, "count": 1, "portal": 0})

    results = adapter.upsert("contacts", "upm_id", [contact(1), contact(2)])

    assert [r.ok for r in results] == [True, True]
    assert len(sleeps.calls) == 1 and len(hubspot.crm_records()) == 2


def test_an_unreachable_hubspot_is_retriable(sleeps: RecordingSleep) -> None:
    adapter = HubSpotAdapter("nowhere", PrivateAppToken("pat-na1-x"), base_url=f"http://127.0.0.1:{free_port()}",
                             clock=ManualClock(START), sleep=sleeps, options={"max_attempts": 3})

    with pytest.raises(RetriableError, match="unreachable"):
        adapter.describe("contacts")

    assert len(sleeps.calls) == 2 and adapter.api_usage().calls_made == 3


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="page_sise"):
        HubSpotAdapter("x", PrivateAppToken("pat"), clock=ManualClock(), options={"page_sise": 10})
