"""Properties of the advanced-mode merge rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from connector.sync.merge import canonical, merge

FIELDS = ["name", "stage", "amount", "country"]
values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["a", "b", "USA", ""]))
records = st.fixed_dictionaries({f: values for f in FIELDS})
stamps = st.integers(0, 20).map(lambda s: datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=s))
skews = st.sampled_from([0.0, 2.0, 5.0])


@given(records, records, records, stamps, stamps, skews)
def test_order_of_the_sides_does_not_matter(base, a, b, ta, tb, skew) -> None:  # type: ignore[no-untyped-def]
    one = merge(base, a, b, ta, tb, skew)
    two = merge(base, b, a, tb, ta, skew)
    assert canonical(one.values) == canonical(two.values)
    assert {c.field for c in one.conflicts} == {c.field for c in two.conflicts}


@given(records, records, stamps, skews)
def test_merging_a_record_with_itself_changes_nothing(base, a, t, skew) -> None:  # type: ignore[no-untyped-def]
    result = merge(base, a, a, t, t, skew)
    assert result.values == a and result.conflicts == []


@given(st.one_of(st.none(), records), records, records, stamps, stamps, skews)
def test_every_value_comes_from_an_input(base, a, b, ta, tb, skew) -> None:  # type: ignore[no-untyped-def]
    result = merge(base, a, b, ta, tb, skew)
    for field, value in result.values.items():
        assert canonical(value) in (canonical(a[field]), canonical(b[field]))


def test_disjoint_edits_both_survive() -> None:
    base = {"name": "Acme", "stage": 1}
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    result = merge(base, {"name": "Acme Corp", "stage": 1}, {"name": "Acme", "stage": 3}, t, t + timedelta(hours=1))
    assert result.values == {"name": "Acme Corp", "stage": 3} and result.conflicts == []


def test_true_conflict_goes_to_the_later_stamp_beyond_the_skew() -> None:
    base = {"stage": 1}
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later_remote = merge(base, {"stage": 2}, {"stage": 3}, t, t + timedelta(seconds=10), skew_seconds=5)
    assert later_remote.values == {"stage": 3}
    assert [(c.field, c.local, c.remote, c.winner) for c in later_remote.conflicts] == [("stage", 2, 3, "remote")]
    later_local = merge(base, {"stage": 2}, {"stage": 3}, t + timedelta(seconds=10), t, skew_seconds=5)
    assert later_local.values == {"stage": 2} and later_local.conflicts[0].winner == "local"
    within_skew = merge(base, {"stage": 2}, {"stage": 3}, t + timedelta(seconds=3), t, skew_seconds=5)
    assert len(within_skew.conflicts) == 1, "inside the skew the stamps do not decide, but it is still a conflict"
