"""The adapter contract (connector.adapters.base), run against every CRM in conftest.BACKENDS.

Written only against CrmHarness and CrmAdapter: no CRM-specific branches. The harness's adapters
read PAGE_SIZE records a page, and their sleep is `sleeps` (records the wait, moves the emulator
clock), so retries and pacing never wait.

Beyond the base docstrings, the suite pins down:
- a transient per-record failure (harness.fail_record_once) is retried inside `upsert`: the
  caller sees the record written;
- `api_usage().calls_made` moves by exactly the calls the CRM counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import pytest

from connector.adapters.base import AuthError, CrmRecord, FatalError, QuotaError, RetriableError, WriteResult

from .conftest import PAGE_SIZE, RecordingSleep
from .harness import CrmHarness


def upsert(crm: CrmHarness, numbers: Iterable[int]) -> list[WriteResult]:
    records = [crm.new_record(n) for n in numbers]
    return crm.adapter.upsert(crm.obj, crm.external_id_field, records)


def read(crm: CrmHarness, since: datetime | None, lookback: float = 0) -> list[list[CrmRecord]]:
    return list(crm.adapter.read_changes(crm.obj, since, crm.read_fields, lookback_seconds=lookback))


def flat(pages: Sequence[Sequence[CrmRecord]]) -> list[CrmRecord]:
    return [record for page in pages for record in page]


def external_ids(crm: CrmHarness, records: Iterable[CrmRecord]) -> list[str]:
    return [str(record.fields[crm.external_id_field]) for record in records]


def live_external_ids(crm: CrmHarness) -> list[str]:
    return sorted(str(r[crm.external_id_field]) for r in crm.crm_records() if r.get(crm.external_id_field))


def assert_aware_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), moment


def upm(*numbers: int) -> list[str]:
    return sorted(f"upm-{n}" for n in numbers)


# ---- reads


def test_changes_are_read_once_each_across_pages_in_ascending_order(crm: CrmHarness) -> None:
    created = upsert(crm, range(25))  # one call: the CRM stamps them all alike
    assert all(r.ok for r in created)
    for n in (3, 11, 19):
        crm.advance_clock(1)
        crm.crm_edit(created[n].crm_id or "", {crm.text_field: f"Edited {n}"})

    pages = read(crm, None)
    records = flat(pages)

    assert len(pages) >= 3 and all(len(page) <= PAGE_SIZE for page in pages)
    assert sorted(external_ids(crm, records)) == upm(*range(25))
    assert len({r.id for r in records}) == 25
    stamps = [r.modified_at for r in records]
    assert stamps == sorted(stamps)
    assert Counter(stamps).most_common(1)[0][1] > PAGE_SIZE, "the batch's shared stamp spans a page boundary"
    for stamp in stamps:
        assert_aware_utc(stamp)
    assert [r.fields[crm.text_field] for r in records[-3:]] == ["Edited 3", "Edited 11", "Edited 19"]
    assert sorted(external_ids(crm, flat(read(crm, None)))) == upm(*range(25)), "a second read yields them again"


def test_since_is_honoured_with_lookback(crm: CrmHarness) -> None:
    upsert(crm, range(5))
    crm.advance_clock(60)
    mark = crm.now()
    upsert(crm, range(5, 10))

    assert sorted(external_ids(crm, flat(read(crm, mark)))) == upm(*range(5, 10))
    assert sorted(external_ids(crm, flat(read(crm, mark, lookback=120)))) == upm(*range(10))
    crm.advance_clock(60)
    assert flat(read(crm, crm.now())) == []


def test_an_edit_in_the_crm_is_read_as_a_change(crm: CrmHarness) -> None:
    created = upsert(crm, range(3))
    crm.advance_clock(30)
    mark = crm.now()
    crm.crm_edit(created[1].crm_id or "", {crm.text_field: "Changed by a CRM user"})

    records = flat(read(crm, mark))

    assert [(r.id, r.fields[crm.text_field]) for r in records] == [(created[1].crm_id, "Changed by a CRM user")]
    assert records[0].modified_at >= mark


def test_deleted_records_are_reported(crm: CrmHarness) -> None:
    created = upsert(crm, range(4))
    start = crm.adapter.read_deleted_by_token(crm.obj, None) if crm.adapter.deletes_by_token else None
    mark = crm.now()
    crm.advance_clock(10)
    crm.crm_delete(created[1].crm_id or "")
    deleted = crm.adapter.delete(crm.obj, [created[2].crm_id or ""])
    crm.advance_clock(61)  # Salesforce's getDeleted needs a window of more than a minute

    assert [(d.outcome, d.crm_id) for d in deleted] == [("deleted", created[2].crm_id)]
    gone = sorted([str(created[1].crm_id), str(created[2].crm_id)])
    if start is not None:  # deletes addressed by the CRM's token
        assert start.ids == [] and start.next_token
        report = crm.adapter.read_deleted_by_token(crm.obj, start.next_token)
        assert sorted(report.ids) == gone
        assert crm.adapter.read_deleted_by_token(crm.obj, report.next_token).ids == []
    else:
        by_instant = crm.adapter.read_deleted(crm.obj, mark)
        assert by_instant.complete
        assert sorted(i for i, _ in by_instant.ids) == gone
        for _, when in by_instant.ids:
            assert_aware_utc(when)
            assert when >= mark
        crm.advance_clock(10)
        assert crm.adapter.read_deleted(crm.obj, crm.now()).ids == []
    assert live_external_ids(crm) == upm(0, 3)
    assert sorted(external_ids(crm, flat(read(crm, None)))) == upm(0, 3)


def test_deletes_are_read_the_way_the_adapter_declares(crm: CrmHarness) -> None:
    """An adapter reads deletes by token or by instant; the other way is refused, never half-done."""
    if crm.adapter.deletes_by_token:
        with pytest.raises(FatalError):
            crm.adapter.read_deleted(crm.obj, crm.now())
    else:
        with pytest.raises(NotImplementedError):
            crm.adapter.read_deleted_by_token(crm.obj, None)


# ---- writes


def test_a_retried_batch_creates_nothing_twice(crm: CrmHarness) -> None:
    first = upsert(crm, range(5))
    again = upsert(crm, range(5))

    assert [r.outcome for r in first] == ["created"] * 5
    assert all(r.ok for r in again) and [r.crm_id for r in again] == [r.crm_id for r in first]
    assert [r.key for r in first] == upm(*range(5))
    assert live_external_ids(crm) == upm(*range(5))


def test_the_same_external_id_twice_makes_one_record(crm: CrmHarness) -> None:
    records = [crm.new_record(1), {**crm.new_record(1), crm.text_field: "Second write"}, crm.new_record(2)]

    results = crm.adapter.upsert(crm.obj, crm.external_id_field, records)

    assert [r.ok for r in results] == [True, True, True]
    assert results[0].crm_id == results[1].crm_id != results[2].crm_id
    assert live_external_ids(crm) == upm(1, 2)
    texts = {r[crm.external_id_field]: r[crm.text_field] for r in crm.crm_records()}
    assert texts["upm-1"] == "Second write"


def test_a_rejected_record_fails_alone_with_the_crms_message(crm: CrmHarness) -> None:
    crm.reject_record("upm-2", "Partner account is closed")

    results = upsert(crm, range(5))

    assert [r.ok for r in results] == [True, True, False, True, True]
    failed = results[2]
    assert failed.outcome == "failed" and failed.key == "upm-2" and not failed.retriable
    assert failed.error_code and "Partner account is closed" in (failed.error_message or "")
    assert live_external_ids(crm) == upm(0, 1, 3, 4)

    crm.accept_record("upm-2")
    assert [r.ok for r in upsert(crm, [2])] == [True]
    assert live_external_ids(crm) == upm(*range(5))


def test_a_transient_record_failure_is_retried(crm: CrmHarness) -> None:
    crm.fail_record_once("upm-1")

    results = upsert(crm, range(3))

    assert [r.ok for r in results] == [True, True, True]
    assert live_external_ids(crm) == upm(0, 1, 2)


def test_a_full_batch_is_accepted(crm: CrmHarness) -> None:
    size = crm.adapter.max_upsert_batch

    results = upsert(crm, range(size))

    assert [r.outcome for r in results] == ["created"] * size
    assert len(flat(read(crm, None))) == size


# ---- failures


def test_token_expiry_in_the_middle_of_a_read(crm: CrmHarness) -> None:
    upsert(crm, range(35))
    pages = crm.adapter.read_changes(crm.obj, None, crm.read_fields)
    first = next(pages)

    crm.expire_tokens()
    rest = flat(list(pages))

    assert sorted(external_ids(crm, [*first, *rest])) == upm(*range(35))


def test_server_errors_are_retried_with_backoff(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    sleeps.clear()
    crm.fail_next_calls(2, status=503)

    results = upsert(crm, range(3))

    assert [r.ok for r in results] == [True, True, True]
    assert len(sleeps.calls) == 2
    assert 0 < sleeps.calls[0] < sleeps.calls[1], "exponential backoff"
    assert live_external_ids(crm) == upm(0, 1, 2)


def test_lasting_server_errors_end_in_a_retriable_error_after_bounded_tries(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    sleeps.clear()
    calls_before = crm.adapter.api_usage().calls_made
    crm.fail_next_calls(1000, status=502)

    with pytest.raises(RetriableError):
        upsert(crm, range(3))

    tries = crm.adapter.api_usage().calls_made - calls_before
    assert 2 <= tries <= 10 and len(sleeps.calls) == tries - 1


def test_a_429_waits_at_least_its_retry_after(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    sleeps.clear()
    crm.answer_next_calls(1, 429, {"Retry-After": "7"})

    results = upsert(crm, range(2))

    assert [r.ok for r in results] == [True, True]
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 7
    assert live_external_ids(crm) == upm(0, 1)


def test_a_validation_400_is_not_retried(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    sleeps.clear()
    calls_before = crm.api_calls()
    crm.answer_next_calls(5, 400)

    with pytest.raises(FatalError):
        upsert(crm, range(2))

    assert sleeps.calls == [] and crm.api_calls() == calls_before, "one refused call, no retry"


def test_a_401_gets_exactly_one_token_refresh(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    refreshes = crm.token_refreshes()
    crm.answer_next_calls(1, 401)

    results = upsert(crm, range(2))

    assert [r.ok for r in results] == [True, True]
    assert crm.token_refreshes() == refreshes + 1
    assert live_external_ids(crm) == upm(0, 1)


def test_a_lasting_401_is_an_auth_error_after_one_refresh(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    refreshes = crm.token_refreshes()
    crm.answer_next_calls(10, 401)

    with pytest.raises(AuthError):
        upsert(crm, [1])

    assert crm.token_refreshes() == refreshes + 1 and sleeps.calls == []


def test_a_dropped_write_response_never_duplicates_a_record(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    sleeps.clear()
    crm.drop_next_response()

    results = upsert(crm, range(1, 4))

    assert [r.ok for r in results] == [True, True, True] and len(sleeps.calls) == 1, "retried once"
    assert live_external_ids(crm) == upm(0, 1, 2, 3), "the write the lost answer was for, applied once"


def test_a_reset_connection_is_retried(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, range(3))
    sleeps.clear()
    crm.reset_next_connection()

    records = flat(read(crm, None))

    assert sorted(external_ids(crm, records)) == upm(0, 1, 2) and len(sleeps.calls) == 1


def test_spent_quota_raises_quota_error_without_hammering(crm: CrmHarness, sleeps: RecordingSleep) -> None:
    upsert(crm, [0])
    sleeps.clear()
    calls_before = crm.adapter.api_usage().calls_made
    crm.exhaust_daily_quota()

    with pytest.raises(QuotaError) as refused:
        upsert(crm, [1])
    with pytest.raises(QuotaError):
        read(crm, None)

    assert crm.adapter.api_usage().calls_made - calls_before <= 2, "one call per operation at most, no retries"
    assert sleeps.calls == []
    assert refused.value.resets_at is None or refused.value.resets_at > crm.now()


# ---- describe and usage


def test_describe_reports_the_external_id_field(crm: CrmHarness) -> None:
    description = crm.adapter.describe(crm.obj)

    assert crm.external_id_field in description.external_id_fields
    assert description.fields[crm.external_id_field].unique
    assert crm.text_field in description.fields
    assert description.modified_field


def test_api_usage_counts_the_calls_the_crm_counts(crm: CrmHarness) -> None:
    calls_before, crm_before = crm.adapter.api_usage().calls_made, crm.api_calls()

    upsert(crm, range(3))
    read(crm, None)

    usage = crm.adapter.api_usage()
    assert usage.calls_made - calls_before == crm.api_calls() - crm_before >= 2
    if usage.used is not None and usage.limit is not None:
        assert 0 < usage.used <= usage.limit


def test_fetch_reads_one_record_by_id_in_one_call(crm: CrmHarness) -> None:
    created = upsert(crm, range(2))
    crm.advance_clock(5)
    crm.crm_edit(created[1].crm_id or "", {crm.text_field: "Edited in the CRM"})
    calls_before, crm_before = crm.adapter.api_usage().calls_made, crm.api_calls()

    record = crm.adapter.fetch(crm.obj, created[1].crm_id or "", crm.read_fields)

    assert crm.api_calls() - crm_before == 1 and crm.adapter.api_usage().calls_made - calls_before == 1
    assert record is not None and record.id == created[1].crm_id
    assert record.fields[crm.text_field] == "Edited in the CRM"
    assert external_ids(crm, [record]) == upm(1)
    assert_aware_utc(record.modified_at)
    assert record.modified_at == next(r for r in flat(read(crm, None)) if r.id == record.id).modified_at


def test_fetch_of_a_missing_or_deleted_record_is_none(crm: CrmHarness) -> None:
    created = upsert(crm, range(1))
    crm.crm_delete(created[0].crm_id or "")
    assert crm.adapter.fetch(crm.obj, created[0].crm_id or "", crm.read_fields) is None
    unknown = "00Q000000000000AAA" if crm.name == "salesforce" else "987654321"
    assert crm.adapter.fetch(crm.obj, unknown, crm.read_fields) is None
