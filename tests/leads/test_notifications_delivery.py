"""Notification delivery over real SMTP (aiosmtpd on loopback): content, retries, give-up, no double send."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connector.clock import ManualClock
from connector.config.settings import NotificationSettings, Settings
from connector.jobs.context import JobContext
from connector.jobs import notification_delivery
from connector.leads import notify
from connector.leads.delivery import RetryPolicy, deliver_due
from connector.runtime import Runtime
from connector.store import Database
from connector.store.migrate import upgrade
from connector.store.notifications import Notification

from .support_delivery import FROM_ADDRESS, free_port, smtp_server

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _queue(db: Database, clock: ManualClock, *recipients: str, kind: str = "assignment", event: str = "p1") -> None:
    with db.session() as s:
        for index, recipient in enumerate(recipients):
            notify.queue(s, kind=kind, recipients=[recipient], subject=f"Lead {event} for you ({index})",
                         body=f"Hello {recipient},\nLead {event} was assigned to you: café.", event_key=event,
                         now=clock.now(), record_module="prospect", record_id=1)


def _rows(db: Database) -> dict[str, Notification]:
    with db.session() as s:
        return {n.recipient: n for n in s.scalars(select(Notification))}


def test_delivers_each_message_with_its_message_id_and_headers(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "rep@partner.example", "Boss@Partner.example")
    with smtp_server() as server:
        report = deliver_due(db, server.settings(), clock)
        received = {r.rcpt_tos[0]: r for r in server.recorder.received}
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    rows = _rows(db)
    assert set(received) == {"rep@partner.example", "boss@partner.example"}
    for recipient, got in received.items():
        row = rows[recipient]
        assert got.mail_from == FROM_ADDRESS
        assert got.message_id == row.message_id
        assert got.message["From"] == FROM_ADDRESS and got.message["To"] == recipient
        assert got.message["Subject"] == row.subject
        assert got.message["X-UPM-Notification"] == "assignment"
        assert got.message.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n").strip() == row.body.strip()
        assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 1, START, None)


def test_a_451_is_retried_with_exponential_backoff(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "busy@partner.example")
    policy = RetryPolicy(max_attempts=5, backoff_seconds=60)
    with smtp_server() as server:
        server.recorder.refuse("busy@partner.example", "451 4.3.0 mailbox busy, try later", times=2)
        first = deliver_due(db, server.settings(), clock, policy=policy)
        row = _rows(db)["busy@partner.example"]
        assert (first.retrying, row.status, row.attempts) == (1, "pending", 1)
        assert row.next_attempt_at == START + timedelta(seconds=60) and "451" in (row.last_error or "")

        clock.advance(seconds=59)
        assert deliver_due(db, server.settings(), clock, policy=policy).retrying == 0  # not due yet
        clock.advance(seconds=1)
        deliver_due(db, server.settings(), clock, policy=policy)
        row = _rows(db)["busy@partner.example"]
        assert row.attempts == 2 and row.next_attempt_at == clock.now() + timedelta(seconds=120)

        clock.advance(seconds=120)
        assert deliver_due(db, server.settings(), clock, policy=policy).sent == 1
        assert len(server.recorder.to("busy@partner.example")) == 1
    row = _rows(db)["busy@partner.example"]
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


def test_a_550_fails_at_once_and_the_others_still_go(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "gone@partner.example", "rep@partner.example")
    with smtp_server() as server:
        server.recorder.refuse("gone@partner.example", "550 5.1.1 no such user")
        report = deliver_due(db, server.settings(), clock)
        clock.advance(days=2)
        again = deliver_due(db, server.settings(), clock)
        assert [r.rcpt_tos for r in server.recorder.received] == [["rep@partner.example"]]
    assert (report.sent, report.failed, again.sent + again.failed) == (1, 1, 0)
    assert "gone@partner.example" in report.errors[0] and "550" in report.errors[0]
    gone = _rows(db)["gone@partner.example"]
    assert (gone.status, gone.attempts) == ("failed", 1) and "550 5.1.1 no such user" in (gone.last_error or "")


def test_gives_up_after_the_attempt_limit(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "busy@partner.example")
    policy = RetryPolicy(max_attempts=3, backoff_seconds=10)
    with smtp_server() as server:
        server.recorder.refuse("busy@partner.example", "421 4.7.0 too many connections", times=10)
        for _ in range(5):
            deliver_due(db, server.settings(), clock, policy=policy)
            clock.advance(hours=1)
        assert server.recorder.received == []
    row = _rows(db)["busy@partner.example"]
    assert (row.status, row.attempts) == ("failed", 3) and "421" in (row.last_error or "")


def test_two_runs_never_send_a_message_twice(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "a@partner.example", "b@partner.example", "c@partner.example")
    with smtp_server() as server:
        assert deliver_due(db, server.settings(), clock).sent == 3
        clock.advance(hours=1)
        _queue(db, clock, "a@partner.example")  # the same event again: queue() adds nothing
        assert deliver_due(db, server.settings(), clock).sent == 0
        ids = [r.message_id for r in server.recorder.received]
    assert len(ids) == len(set(ids)) == 3


def test_unreachable_server_charges_one_message_and_stops(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "a@partner.example", "b@partner.example")
    with smtp_server() as server:
        settings = server.settings()
    down = settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"port": free_port()})})
    report = deliver_due(db, down, clock)
    assert report.stopped_by and "cannot connect" in report.stopped_by
    rows = sorted(_rows(db).values(), key=lambda n: n.id)
    assert [(n.status, n.attempts) for n in rows] == [("pending", 1), ("pending", 0)]
    assert rows[0].next_attempt_at == START + timedelta(seconds=60)


def test_a_refused_sender_stops_the_run_without_failing_the_messages(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "a@partner.example", "b@partner.example")
    with smtp_server() as server:
        server.recorder.sender_reply = "550 5.7.1 sender not allowed"
        report = deliver_due(db, server.settings(), clock)
        assert report.stopped_by == f"sender {FROM_ADDRESS} refused: 550 5.7.1 sender not allowed"
        assert [(n.status, n.attempts) for n in sorted(_rows(db).values(), key=lambda n: n.id)] == [
            ("pending", 1), ("pending", 0)]
        server.recorder.sender_reply = None
        clock.advance(minutes=1)
        assert deliver_due(db, server.settings(), clock).sent == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_on_a_plain_connection(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "a@partner.example")
    with smtp_server(username="mailer", password="s3cret-pw") as server:
        caplog.set_level(logging.DEBUG)
        refused = deliver_due(db, server.settings(username="mailer", password="wrong-pw"), clock)
        assert refused.stopped_by and "535" in refused.stopped_by and "wrong-pw" not in refused.stopped_by
        clock.advance(minutes=5)
        assert deliver_due(db, server.settings(username="mailer", password="s3cret-pw"), clock).sent == 1
        assert len(server.recorder.received) == 1
    assert "s3cret-pw" not in caplog.text and "wrong-pw" not in caplog.text
    assert "wrong-pw" not in (_rows(db)["a@partner.example"].last_error or "")


def test_auth_over_starttls_with_a_verified_certificate(db: Database) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "a@partner.example")
    with smtp_server(username="mailer", password="s3cret-pw", tls=True) as server:
        settings = server.settings(username="mailer", password="s3cret-pw", starttls=True)
        untrusted = deliver_due(db, settings, clock)  # the system CAs do not know the test CA
        assert untrusted.stopped_by and "CERTIFICATE_VERIFY_FAILED" in untrusted.stopped_by
        clock.advance(minutes=5)
        report = deliver_due(db, settings, clock, ssl_context=server.client_context())
        assert report.sent == 1 and len(server.recorder.received) == 1


def test_two_concurrent_workers_on_postgresql_never_double_send(postgres_url: str) -> None:
    databases = [Database(postgres_url), Database(postgres_url)]
    upgrade(databases[0])
    clock = ManualClock(START)
    recipients = [f"rep{n}@partner.example" for n in range(120)]
    _queue(databases[0], clock, *recipients)
    reports = []
    with smtp_server() as server:
        server.recorder.delay_seconds = 0.002
        settings = server.settings()
        barrier = threading.Barrier(2)

        def work(db: Database) -> None:
            barrier.wait()
            reports.append(deliver_due(db, settings, clock))

        threads = [threading.Thread(target=work, args=(db,)) for db in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        ids = [r.message_id for r in server.recorder.received]
    for db in databases:
        db.dispose()
    assert len(ids) == len(set(ids)) == len(recipients)
    assert sum(r.sent for r in reports) == len(recipients)
    assert all(r.sent > 0 for r in reports), "both workers should have taken a share"


def test_the_job_delivers_only_when_notifications_are_enabled(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(START)
    _queue(db, clock, "a@partner.example")
    with smtp_server() as server:
        enabled = server.settings()

        def context(notifications: NotificationSettings) -> JobContext:
            return JobContext(lane=notification_delivery.LANE,
                              runtime=Runtime(Settings(notifications=notifications), clock=clock, db=db), log=logging.getLogger("test.delivery"), shutdown=threading.Event(),
                              lease_lost=threading.Event())

        notification_delivery.run(context(enabled.model_copy(update={"enabled": False})))
        assert server.recorder.received == []
        with caplog.at_level(logging.INFO, logger="test.delivery"):
            notification_delivery.run(context(enabled))
        assert len(server.recorder.received) == 1
    assert "notification delivery: 1 sent, 0 to retry, 0 failed" in caplog.text
