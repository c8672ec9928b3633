"""Every report's figures against answers computed in plain Python over the same seed, under each
filter (period, group, tier, region, partner) and each partner viewer's visibility."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from connector.reports.base import Env, Filters, ReportError
from connector.reports.registry import REPORTS, run_report
from connector.store import Database
from reporting.expected import EXPECTED, Case
from reporting.seed import NOW, SLA, Seed, seed

PERIOD = (datetime(2026, 2, 1, tzinfo=timezone.utc), datetime(2026, 5, 1, tzinfo=timezone.utc))


@pytest.fixture
def seeded(db: Database) -> Seed:
    return seed(db)


def cases(s: Seed) -> list[Case]:
    return [Case(s), Case(s, period=PERIOD), Case(s, group=True), Case(s, tier="Gold"), Case(s, region="US"),
            Case(s, partner="Alpha"), Case(s, viewer_of="Alpha"), Case(s, viewer_of="Alpha West"),
            Case(s, viewer_of="Beta", period=PERIOD), Case(s, tier="Gold", region="US", currency="GBP")]


def comparable(rows: list[dict[str, Any]], columns: Any) -> list[dict[str, Any]]:
    return [{c: round(v, 2) if isinstance(v, float) else v for c, v in row.items() if c in columns} for row in rows]


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_report_matches_the_figures_computed_from_the_seed(db: Database, seeded: Seed, name: str) -> None:
    nonempty = 0
    for case in cases(seeded):
        report = run_report(db, name, Filters(**case.kwargs), Env(SLA, NOW))
        expected = EXPECTED[name](case)
        assert comparable(report.rows, report.columns) == comparable(expected, report.columns), case
        nonempty += bool(expected)
    assert nonempty >= 8, "the seed gives most cases figures to compare"


def test_a_partner_viewer_sees_its_own_and_its_childrens_partners_only(db: Database, seeded: Seed) -> None:
    alpha, west, beta = (seeded.partner_id(n) for n in ("Alpha", "Alpha West", "Beta"))
    env = Env(SLA, NOW)

    def partners_seen(viewer: int, **kwargs: Any) -> set[int]:
        return {r["partner_id"] for r in run_report(db, "partner-dashboard", Filters(viewer=viewer, **kwargs), env).rows}

    assert partners_seen(seeded.users_of(alpha)[0]) == {alpha, west}
    assert partners_seen(seeded.users_of(west)[1]) == {west}
    assert partners_seen(seeded.users_of(west)[0], partner=beta) == set(), "a filter never widens a viewer's scope"
    reps = {r["partner"] for r in run_report(db, "rep-ranking", Filters(viewer=seeded.users_of(beta)[0]), env).rows}
    assert reps == {"Beta"}
    everyone = run_report(db, "pipeline-by-stage", Filters(), env).summary["opportunities"]
    alphas = run_report(db, "pipeline-by-stage", Filters(viewer=seeded.users_of(alpha)[0]), env).summary["opportunities"]
    assert 0 < alphas < everyone


def test_bad_filters_name_what_is_wrong(db: Database, seeded: Seed) -> None:
    env = Env(SLA, NOW)
    with pytest.raises(ReportError, match="group 'Nowhere' does not exist"):
        run_report(db, "partner-dashboard", Filters(group="Nowhere"), env)
    with pytest.raises(ReportError, match="partner 999 does not exist"):
        run_report(db, "partner-dashboard", Filters(partner=999), env)
    with pytest.raises(ReportError, match="currency 'EUR'"):
        Filters(currency="EUR")
    with pytest.raises(ReportError, match="is not before"):
        Filters(period_from=PERIOD[1], period_to=PERIOD[0])
    with pytest.raises(ReportError, match="report 'nope' is not one of"):
        run_report(db, "nope", Filters(), env)
