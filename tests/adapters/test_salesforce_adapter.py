"""Salesforce-specific behaviour of SalesforceAdapter, over the emulator with real HTTPS and the real
simple-salesforce: composite packing and its limits, Bulk API 2.0, query paging, the delete log, token
refresh in the middle of a read, the quota guard, lock retries and SOQL escaping."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from connector.adapters.base import AuthError, FatalError, NeedsFullResync, QuotaError, adapter_class
from connector.adapters.salesforce import SalesforceAdapter
from connector.auth.vault import TokenSet
from crm_emulators.salesforce import EmulatorOptions
from connector.store import Database

from .conftest import Backends, RecordingSleep
from .harness_salesforce import START, SalesforceBackend, SalesforceHarness

FIELDS = ["UPM_Id__c", "Company", "LastName"]


@pytest.fixture
def salesforce(crm_backends: Backends, db: Database, sleeps: RecordingSleep) -> Iterator[SalesforceHarness]:
    """The Salesforce harness with the adapter's default page size (2,000)."""
    backend = crm_backends.get("salesforce")
    assert isinstance(backend, SalesforceBackend)
    with backend.harness(db, sleep=sleeps) as harness:
        sleeps.advance = harness.advance_clock
        yield harness


@pytest.fixture(scope="module")
def rotating_backend() -> Iterator[SalesforceBackend]:
    """An org that rotates refresh tokens, with 10-minute access tokens (shorter than the 15 minutes a
    query locator stays open unused)."""
    with SalesforceBackend(EmulatorOptions(token_ttl=600, rotate_refresh_tokens=True)) as backend:
        yield backend


def leads(harness: SalesforceHarness, numbers: range) -> list[dict[str, Any]]:
    return [harness.new_record(n) for n in numbers]


def calls(harness: SalesforceHarness, *categories: str) -> int:
    by_category = harness.calls_by_category()
    return sum(by_category.get(category, 0) for category in categories)


def seed(harness: SalesforceHarness, count: int) -> list[str]:
    """Leads created as an admin would (no API calls)."""
    rows = [{"LastName": f"Seed {i}", "Company": "Acme", "UPM_Id__c": f"seed-{i}"} for i in range(count)]
    return harness.emulator.seed({"Lead": rows})["Lead"]


def composite_bodies(adapter: SalesforceAdapter) -> list[dict[str, Any]]:
    """Records the body of every /composite request the adapter sends (a response hook on its session)."""
    bodies: list[dict[str, Any]] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.request.body
        if response.request.url and response.request.url.endswith("/composite") and isinstance(body, bytes):
            bodies.append(json.loads(body))

    adapter.http.hooks["response"].append(record)
    return bodies


class StaticTokens:
    """A session id that cannot be refreshed (`refresh` gives the same one back)."""

    def __init__(self, access_token: str, instance_url: str | None):
        self.tokens = TokenSet(access_token=access_token, refresh_token=None, instance_url=instance_url)
        self.refreshes = 0

    def current(self) -> TokenSet:
        return self.tokens

    def refresh(self, seen_generation: int | None) -> TokenSet:
        self.refreshes += 1
        return self.tokens


# ---- writes: composite packing, limits, Bulk 2.0


def test_2500_records_are_loaded_in_3_composite_calls_within_the_collection_limits(salesforce: SalesforceHarness) -> None:
    adapter = salesforce.adapter
    bodies = composite_bodies(adapter)
    before = salesforce.api_calls()

    results = adapter.upsert_many("Lead", "UPM_Id__c", leads(salesforce, range(2500)))

    assert [r.outcome for r in results] == ["created"] * 2500
    assert [r.key for r in results] == [f"upm-{n}" for n in range(2500)]
    assert salesforce.api_calls() - before == 3 == calls(salesforce, "composite")
    assert [len(body["compositeRequest"]) for body in bodies] == [5, 5, 3]
    sizes = [len(sub["body"]["records"]) for body in bodies for sub in body["compositeRequest"]]
    assert max(sizes) == 200 and sum(sizes) == 2500
    assert len(salesforce.crm_records()) == 2500


def test_max_upsert_batch_is_one_composite_call_and_more_is_refused(salesforce: SalesforceHarness) -> None:
    adapter = salesforce.adapter
    before = salesforce.api_calls()

    results = adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(SalesforceAdapter.max_upsert_batch)))

    assert SalesforceAdapter.max_upsert_batch == 1000
    assert all(r.ok for r in results) and salesforce.api_calls() - before == 1
    with pytest.raises(ValueError):
        adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(1001)))
    with pytest.raises(ValueError):
        adapter.update("Lead", [(r.crm_id or "", {"Title": "x"}) for r in [*results, results[0]]])
    assert salesforce.api_calls() - before == 1


def test_updates_by_record_id_in_one_composite_call(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    created = salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(300)))
    unkeyed = salesforce.emulator.admin_upsert("Lead", {"LastName": "Made in the CRM", "Company": "Acme"})
    salesforce.fail_record_once("upm-5")
    changes = [(r.crm_id or "", {"Title": f"Title {n}"}) for n, r in enumerate(created)]
    changes += [(unkeyed, {"UPM_Id__c": "upm-crm"}), (created[0].crm_id or "", {"Title": "Twice"}), ("0011'--", {"Title": "x"})]
    before = salesforce.api_calls()

    results = salesforce.adapter.update("Lead", changes)

    assert [r.outcome for r in results] == ["updated"] * 302 + ["failed"]
    assert [r.crm_id for r in results[:302]] == [crm_id for crm_id, _ in changes[:302]]
    assert results[302].error_code == "MALFORMED_ID"
    assert salesforce.api_calls() - before == 2 and len(sleeps.calls) == 1, "one call, then the locked row again"
    stored = {r["Id"]: r for r in salesforce.crm_records()}
    assert stored[unkeyed]["UPM_Id__c"] == "upm-crm"
    assert stored[created[0].crm_id or ""]["Title"] == "Twice" and stored[created[5].crm_id or ""]["Title"] == "Title 5"


def test_a_rejected_update_fails_alone_with_the_crms_message(salesforce: SalesforceHarness) -> None:
    created = salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(3)))
    salesforce.reject_record("upm-1", "Status cannot go back")

    results = salesforce.adapter.update("Lead", [(r.crm_id or "", {"Status": "Working - Contacted"}) for r in created])

    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and not results[1].retriable
    assert results[1].error_message == "Status cannot go back" and results[1].crm_id == created[1].crm_id


def test_the_registered_adapter_opens_from_a_configured_connection(salesforce: SalesforceHarness) -> None:
    tokens = StaticTokens(salesforce.emulator.issue_access_token(), instance_url=None)
    cls = adapter_class("salesforce")
    assert cls is SalesforceAdapter

    adapter = cls.open("configured", tokens, endpoint=salesforce.credentials["instance_url"],
                       ca_file=salesforce.credentials["ca_file"], clock=salesforce.emulator.clock, sleep=salesforce.sleep,
                       options={"page_size": 500})
    try:
        assert [r.ok for r in adapter.upsert("Lead", "UPM_Id__c", [salesforce.new_record(1)])] == [True]
    finally:
        adapter.close()


def test_deletes_are_packed_too_and_a_repeated_delete_succeeds(salesforce: SalesforceHarness) -> None:
    ids = [r.crm_id or "" for r in salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(450)))]
    before = salesforce.api_calls()

    deleted = salesforce.adapter.delete("Lead", ids)
    again = salesforce.adapter.delete("Lead", [ids[0], "not-an-id'; DROP"])

    assert [d.outcome for d in deleted] == ["deleted"] * 450 and [d.crm_id for d in deleted] == ids
    assert salesforce.api_calls() - before == 2, "one call of three collections, then one of one"
    assert [d.outcome for d in again] == ["deleted", "failed"] and again[1].error_code == "MALFORMED_ID"
    assert salesforce.crm_records() == []


def test_a_load_above_the_bulk_threshold_goes_through_bulk_2(salesforce: SalesforceHarness) -> None:
    adapter = salesforce.oauth_adapter(bulk_threshold=100)
    adapter.upsert("Lead", "UPM_Id__c", [{**salesforce.new_record(n), "Title": "Old"} for n in range(10)])
    salesforce.reject_record("upm-7", "Partner account is closed")
    salesforce.fail_record_once("upm-3")
    records = [{**salesforce.new_record(n), "Title": None} for n in range(150)]

    results = adapter.upsert_many("Lead", "UPM_Id__c", records)

    assert salesforce.emulator.stats()["bulk_jobs"]["ingest"] == 1
    assert calls(salesforce, "bulk2") >= 4
    assert [r.outcome for r in results[:10]] == ["updated"] * 7 + ["failed"] + ["updated"] * 2
    assert [r.outcome for r in results[10:]] == ["created"] * 140
    failed = results[7]
    assert failed.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and "Partner account is closed" in (failed.error_message or "")
    assert not failed.retriable
    assert calls(salesforce, "composite") == 2, "the first ten, then the locked row again through a collection"
    stored = {r["UPM_Id__c"]: r for r in salesforce.crm_records()}
    assert len(stored) == 150 and stored["upm-0"]["Title"] is None and stored["upm-7"]["Title"] == "Old"
    assert all(r.crm_id == stored[r.key]["Id"] for r in results if r.ok)


def test_duplicates_and_missing_external_ids_in_one_batch(salesforce: SalesforceHarness) -> None:
    records = [salesforce.new_record(1), {"UPM_Id__c": "upm-1", "Title": "Merged"}, {"Company": "No key", "LastName": "X"}]

    results = salesforce.adapter.upsert("Lead", "UPM_Id__c", records)

    assert [r.outcome for r in results] == ["created", "updated", "failed"]
    assert results[2].error_code == "MISSING_EXTERNAL_ID" and results[2].error_fields == ("UPM_Id__c",)
    [stored] = salesforce.crm_records()
    assert (stored["Company"], stored["Title"]) == ("Company 1", "Merged")


def test_unable_to_lock_row_is_retried_for_those_records_only(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    salesforce.emulator.faults.add({"kind": "lock_row", "keys": ["upm-1"], "count": 2})

    results = salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(3)))

    assert [r.outcome for r in results] == ["created"] * 3
    assert len(sleeps.calls) == 2 and calls(salesforce, "composite") == 3
    stamps = {r["UPM_Id__c"]: r["SystemModstamp"] for r in salesforce.crm_records()}
    assert stamps["upm-0"] == stamps["upm-2"] < stamps["upm-1"], "only the locked record was sent again"


def test_a_row_locked_for_good_ends_as_a_retriable_failure(salesforce: SalesforceHarness) -> None:
    salesforce.emulator.faults.add({"kind": "lock_row", "keys": ["upm-1"], "count": 100})

    results = salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(3)))

    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error_code == "UNABLE_TO_LOCK_ROW" and results[1].retriable
    assert calls(salesforce, "composite") == 5, "max_attempts rounds"


# ---- reads


def test_a_pull_of_n_records_takes_ceil_n_over_2000_query_calls(salesforce: SalesforceHarness) -> None:
    seeded = seed(salesforce, 4500)

    pages = list(salesforce.adapter.read_changes("Lead", None, FIELDS))

    assert [len(page) for page in pages] == [2000, 2000, 500]
    assert sorted(r.id for page in pages for r in page) == sorted(seeded)
    assert calls(salesforce, "query", "queryMore") == math.ceil(4500 / 2000)
    record = pages[0][0]
    assert record.modified_at == START and record.modified_by == salesforce.emulator.admin_user_id
    assert set(record.fields) == {"Id", "SystemModstamp", "LastModifiedById", *FIELDS}


def test_pages_are_fetched_only_as_they_are_consumed(salesforce: SalesforceHarness) -> None:
    seed(salesforce, 450)
    adapter = salesforce.oauth_adapter(page_size=200)

    pages = adapter.read_changes("Lead", None, FIELDS)
    assert calls(salesforce, "query", "queryMore") == 0
    assert len(next(pages)) == 200
    assert calls(salesforce, "query", "queryMore") == 1
    assert [len(page) for page in pages] == [200, 50]
    assert calls(salesforce, "query", "queryMore") == 3


def test_token_refresh_in_the_middle_of_a_read_with_rotating_refresh_tokens(
    rotating_backend: SalesforceBackend, db: Database, sleeps: RecordingSleep
) -> None:
    with rotating_backend.harness(db, sleep=sleeps, page_size=200) as harness:
        seeded = seed(harness, 450)
        pages = harness.adapter.read_changes("Lead", None, FIELDS)
        first = next(pages)
        stored_before = harness.vault.get("salesforce-test")
        assert stored_before is not None and stored_before.refresh_token not in (None, harness.credentials["refresh_token"])

        harness.expire_tokens()
        rest = [r for page in pages for r in page]

        assert sorted(r.id for r in [*first, *rest]) == sorted(seeded)
        assert harness.calls_by_category()["queryMore"] == 2
        usage = harness.adapter.api_usage()
        assert usage.details["refreshes"] == 1 and usage.details["unauthorized"] == 1
        stored_after = harness.vault.get("salesforce-test")
        assert stored_after is not None and stored_after.generation == stored_before.generation + 1
        assert stored_after.refresh_token not in (None, stored_before.refresh_token), "the rotated refresh token is kept"


def test_a_session_refused_after_a_refresh_is_an_auth_error(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    tokens = StaticTokens("00Dbogus!ARnot-a-session", salesforce.credentials["instance_url"])
    adapter = salesforce.make_adapter(tokens)

    with pytest.raises(AuthError) as refused:
        list(adapter.read_changes("Lead", None, FIELDS))

    assert refused.value.code == "INVALID_SESSION_ID" and tokens.refreshes == 1
    assert adapter.api_usage().calls_made == 2 and sleeps.calls == []


def test_format_soql_escapes_hostile_strings_in_where_clauses(salesforce: SalesforceHarness) -> None:
    hostile = "O'Brien \\' OR Company != '' -- \"quoted\"\nnext line"
    salesforce.adapter.upsert("Lead", "UPM_Id__c", [
        {**salesforce.new_record(1), "Company": hostile},
        {**salesforce.new_record(2), "Company": "O'Brien"},
        {**salesforce.new_record(3), "Company": "Plain"},
    ])

    def companies(filters: dict[str, Any]) -> list[str]:
        adapter = salesforce.oauth_adapter(filters={"Lead": filters})
        return [str(r.fields["Company"]) for page in adapter.read_changes("Lead", None, FIELDS) for r in page]

    assert companies({"Company": hostile}) == [hostile]
    assert sorted(companies({"Company": [hostile, "Plain"]})) == sorted([hostile, "Plain"])
    assert companies({"Company": "' OR Company != '"}) == []


def test_names_that_are_not_api_names_are_refused_before_any_call(salesforce: SalesforceHarness) -> None:
    before = salesforce.adapter.api_usage().calls_made

    for obj, fields in (("Lead WHERE Id != null", FIELDS), ("Lead", ["Company FROM Lead --"])):
        with pytest.raises(FatalError):
            list(salesforce.adapter.read_changes(obj, None, fields))
    with pytest.raises(FatalError):
        salesforce.adapter.upsert("Lead", "UPM_Id__c/../../sobjects", [salesforce.new_record(1)])

    assert salesforce.adapter.api_usage().calls_made == before


def test_an_unknown_field_is_fatal_and_not_retried(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    with pytest.raises(FatalError) as refused:
        list(salesforce.adapter.read_changes("Lead", None, ["No_Such_Field__c"]))

    assert refused.value.code == "INVALID_FIELD" and refused.value.status == 400
    assert sleeps.calls == []


HELD = 0.6
"""Seconds the emulator holds a call in the timeout test (the adapter gives up after 0.2)."""


def test_a_timed_out_call_is_retried(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    seed(salesforce, 3)
    adapter = salesforce.oauth_adapter(timeout=0.2)
    adapter.describe("Lead")  # the token is in place before the fault is armed
    salesforce.emulator.faults.add({"kind": "timeout", "count": 1, "delay_seconds": HELD, "category": "query"})

    records = [r for page in adapter.read_changes("Lead", None, FIELDS) for r in page]

    assert len(records) == 3 and len(sleeps.calls) == 1
    time.sleep(HELD)  # the held call is over before the next test resets the emulator


# ---- deletes


def test_parent_fields_are_read_flat_under_their_soql_paths(salesforce: SalesforceHarness) -> None:
    salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(2)))

    records = [r for page in salesforce.adapter.read_changes("Lead", None, ["Company", "Owner.Email"]) for r in page]

    assert [r.fields["Owner.Email"] for r in records] == ["integ@upm-emulator.example.com"] * 2
    assert "Owner" not in records[0].fields


def test_deletes_older_than_the_current_minute_come_from_the_delete_log(salesforce: SalesforceHarness) -> None:
    created = salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(3)))
    mark = salesforce.now()
    salesforce.advance_clock(30)
    salesforce.crm_delete(created[0].crm_id or "")
    salesforce.advance_clock(90)
    salesforce.crm_delete(created[1].crm_id or "")
    before = salesforce.api_calls()

    report = salesforce.adapter.read_deleted("Lead", mark)

    assert salesforce.api_calls() - before == 1, "getDeleted and the recycle bin query in one composite call"
    assert report.complete and report.earliest_available is not None and report.earliest_available <= mark
    assert report.ids == [(created[0].crm_id, START + timedelta(seconds=30)), (created[1].crm_id, START + timedelta(seconds=120))]


def test_a_purged_delete_log_needs_a_full_resync(salesforce: SalesforceHarness) -> None:
    created = salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(3)))
    mark = salesforce.now()
    salesforce.advance_clock(60)
    salesforce.crm_delete(created[0].crm_id or "")
    salesforce.advance_clock(60)
    salesforce.emulator.purge_delete_log("Lead")

    with pytest.raises(NeedsFullResync) as purged:
        salesforce.adapter.read_deleted("Lead", mark)

    assert purged.value.code == "INVALID_REPLICATION_DATE"


def test_a_delete_log_older_than_15_days_needs_a_full_resync(salesforce: SalesforceHarness) -> None:
    mark = salesforce.now()
    salesforce.advance_clock(timedelta(days=16).total_seconds())

    with pytest.raises(NeedsFullResync):
        salesforce.adapter.read_deleted("Lead", mark)


def test_a_window_of_a_minute_or_less_is_not_asked_for(salesforce: SalesforceHarness) -> None:
    mark = salesforce.now()
    salesforce.advance_clock(60)
    before = salesforce.api_calls()

    skipped = salesforce.adapter.read_deleted("Lead", mark)

    assert salesforce.api_calls() == before, "getDeleted refuses such a window: no call at all"
    assert skipped.ids == [] and skipped.covered_until == mark


def test_the_next_read_starts_at_latest_date_covered(salesforce: SalesforceHarness) -> None:
    mark = salesforce.now()
    salesforce.advance_clock(150)

    report = salesforce.adapter.read_deleted("Lead", mark)

    assert report.covered_until == START + timedelta(minutes=2), "the last whole minute, not now"


# ---- the quota


def test_an_injected_403_request_limit_exceeded_is_a_quota_error_at_once(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    sleeps.clear()
    salesforce.answer_next_calls(3, 403)

    with pytest.raises(QuotaError) as refused:
        salesforce.adapter.upsert("Lead", "UPM_Id__c", leads(salesforce, range(2)))

    assert refused.value.code == "REQUEST_LIMIT_EXCEEDED" and sleeps.calls == [], "checkpoint and stop, no sleeping"


def test_the_quota_guard_stops_before_the_org_runs_dry(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    emulator = salesforce.emulator
    adapter = salesforce.oauth_adapter(quota_stop_share=0.5, quota_recheck_seconds=600)
    adapter.describe("Lead")
    with emulator.lock:
        emulator.usage.daily_limit = emulator.usage.used() + 20

    written = 0
    with pytest.raises(QuotaError) as stopped:
        for n in range(100):
            adapter.upsert("Lead", "UPM_Id__c", [salesforce.new_record(n)])
            written += 1

    usage = adapter.api_usage()
    assert usage.used is not None and usage.limit == emulator.usage.daily_limit
    assert usage.used == emulator.usage.used() and usage.share is not None and 0.5 <= usage.share < 0.6
    assert emulator.usage.used() < emulator.usage.daily_limit, "the org still has calls left"
    assert "rejected_request_limit_exceeded" not in emulator.stats()["other_requests"]
    assert stopped.value.resets_at == salesforce.now() + timedelta(seconds=600)
    assert written == len(salesforce.crm_records()) and sleeps.calls == []
    with pytest.raises(QuotaError):
        list(adapter.read_changes("Lead", None, FIELDS))
    assert adapter.api_usage().calls_made == usage.calls_made, "refused without a call"

    salesforce.advance_clock(timedelta(hours=24).total_seconds())
    assert [r.ok for r in adapter.upsert("Lead", "UPM_Id__c", [salesforce.new_record(1000)])] == [True]


def test_request_limit_exceeded_is_a_quota_error(salesforce: SalesforceHarness, sleeps: RecordingSleep) -> None:
    adapter = salesforce.adapter
    adapter.describe("Lead")
    salesforce.exhaust_daily_quota()
    calls_before = adapter.api_usage().calls_made

    with pytest.raises(QuotaError) as refused:
        adapter.upsert("Lead", "UPM_Id__c", [salesforce.new_record(1)])
    with pytest.raises(QuotaError):
        adapter.describe("Lead")

    assert refused.value.code == "REQUEST_LIMIT_EXCEEDED" and refused.value.status == 403
    assert refused.value.resets_at is not None and refused.value.resets_at > salesforce.now()
    assert adapter.api_usage().calls_made - calls_before == 1 and sleeps.calls == []
    assert salesforce.emulator.stats()["other_requests"]["rejected_request_limit_exceeded"] == 1


# ---- describe


def test_describe_reports_types_and_flags(salesforce: SalesforceHarness) -> None:
    description = salesforce.adapter.describe("Lead")

    assert description.modified_field == "SystemModstamp"
    assert description.external_id_fields == ["UPM_Id__c", "Legacy_Id__c"]
    upm_id, legacy = description.fields["UPM_Id__c"], description.fields["Legacy_Id__c"]
    assert (upm_id.unique, legacy.unique) == (True, False)
    assert description.fields["LastName"].nillable is False and description.fields["Name"].updateable is False
    assert description.fields["Id"].type == "id" and description.fields["Id"].unique
