"""A lead's life end to end, on a real SMTP server and an injected clock: imported, assigned by a rule,
the partner told by email; no activity, a reminder; past the deadline, pulled back and given to
another partner, who accepts it."""

from __future__ import annotations

from pathlib import Path

from leads.conftest import Make

from connector.clock import ManualClock
from connector.config.settings import LeadSettings
from connector.leads import lifecycle
from connector.leads.aging import NO_ACTIVITY, sweep
from connector.leads.delivery import deliver_due
from connector.leads.imports import import_prospects
from connector.leads.service import LeadService
from connector.store import Database

from .support_delivery import aging_rule, smtp_server, write_table


def test_import_assign_notify_remind_pull_back_redistribute_accept(
    db: Database, settings: LeadSettings, clock: ManualClock, make: Make, service: LeadService, tmp_path: Path,
) -> None:
    acme, beta = make.partner("Acme", countries=("USA",)), make.partner("Beta", countries=("USA",))
    group = make.group("US Resellers", [acme, beta])
    service.save_rules([{"name": "US round robin", "countries": ["USA"], "target": "group:US Resellers"}])
    aging_rule(db, "US resellers", green_days=1, yellow_days=2, group_id=group, country="USA",
               revoke=[{"name": "2 days without activity", "condition": NO_ACTIVITY, "days": 2}])
    path = write_table(tmp_path / "leads.xlsx", ["Email", "First Name", "Last Name", "Company Name", "Country", "Segment"],
                       [["jo@customer.example", "Jo", "Park", "Customer Inc", "USA", "Enterprise"]])

    with smtp_server() as server:
        mail = server.settings()

        def delivered() -> list[tuple[str, str]]:
            assert deliver_due(db, mail, clock).failed == 0
            return [(r.rcpt_tos[0], str(r.message["Subject"])) for r in server.recorder.received]

        report = import_prospects(db, path, lead_settings=settings, clock=clock)
        assert (report.created, report.distributed) == (1, {lifecycle.ASSIGNED: 1})
        lead = service.prospects()[0].id
        assert make.prospect(lead).partner_account_id == acme
        assert delivered() == [("rep0@acme.example", "Lead was assigned to you: Jo Park (Customer Inc)")]

        clock.advance(hours=25)  # no activity: the reminder is due a day ahead of the deadline
        assert len(sweep(db, settings, clock).reminders) == 1
        assert delivered()[-1] == ("rep0@acme.example",
                                   "Reminder: Jo Park (Customer Inc) - log an activity on it by 2026-03-04 09:00 UTC")

        clock.advance(hours=23, seconds=1)  # past 2 days without activity
        pulled = sweep(db, settings, clock).pullbacks
        assert [(a.prospect_id, a.outcome.account_id if a.outcome else None) for a in pulled] == [(lead, beta)]
        assert delivered()[-2:] == [("rep0@acme.example", "Lead withdrawn: Jo Park (Customer Inc)"),
                                    ("rep0@beta.example", "Lead was assigned to you: Jo Park (Customer Inc)")]

        service.accept(lead, make.users_of(beta)[0])
        clock.advance(hours=1)
        assert sweep(db, settings, clock).pullbacks == []
        assert len(server.recorder.received) == 4 and deliver_due(db, mail, clock).sent == 0

    final = make.prospect(lead)
    assert (final.distribution_state, final.status, final.partner_account_id) == (lifecycle.ACCEPTED, "Accepted", beta)
    assert make.statuses(lead) == ["Assigned", "Open", "Assigned", "Accepted"]
    assert [a for a in make.assignment_actions(lead) if a[1] == "account"] == [
        ("assigned", "account", acme), ("pulled_back", "account", acme), ("assigned", "account", beta)]
