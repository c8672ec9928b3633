"""Delivery of the notification outbox over SMTP.

Each due pending notification is sent with its own fixed Message-ID and marked in its own
transaction right after the server accepted it. On PostgreSQL the row is taken with
`FOR UPDATE SKIP LOCKED` and stays locked while it is sent, so two daemons never send the same
row; on SQLite (one daemon) the lane lease is what keeps delivery single.

Delivery is at-least-once: a crash after the server accepted a message and before the row was
marked sent sends it again on the next run, with the same Message-ID, so mail systems and
readers can recognise the duplicate. In normal operation a message is sent exactly once.

Failures: a 4xx reply, a refused connection, a timeout or a dropped connection is transient: the
row is retried with exponential backoff (`next_attempt_at`) until `max_attempts`, then marked
failed. A 5xx reply refusing the recipient or the message's data fails it at once. A problem
with the server or our side of it (unreachable, TLS or login refused, the From address refused)
ends the run after charging the message it was sending as a transient failure, so an outage or
a misconfiguration does not burn every message's attempts in one run.
"""

from __future__ import annotations

import smtplib
import uuid
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.config.settings import NotificationSettings
from connector.store.database import Database
from connector.store.notifications import Notification


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a transiently failing message is retried."""

    max_attempts: int = 10
    backoff_seconds: float = 60.0
    """The wait after the first failed attempt; it doubles after each further one."""
    max_backoff_seconds: float = 6 * 3600.0

    def delay(self, attempts: int) -> timedelta:
        """The wait before the next try, after `attempts` failed ones."""
        return timedelta(seconds=min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.max_backoff_seconds))


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    stopped_by: str | None = None
    """Why the run ended early (the SMTP server could not be used), if it did."""
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"
        return text + (f"; stopped: {self.stopped_by}" if self.stopped_by else "")


class _ServerProblem(Exception):
    """The SMTP server cannot be used right now (connection, TLS or login): stop the run."""


@dataclass(frozen=True)
class _Outcome:
    permanent: bool
    error: str


def build_message(notification: Notification, from_address: str, now: datetime) -> EmailMessage:
    """The email for one outbox row: its fixed Message-ID, plain UTF-8 text."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = notification.recipient
    message["Subject"] = notification.subject
    message["Message-ID"] = notification.message_id
    message["Date"] = format_datetime(now)
    message["X-UPM-Notification"] = notification.kind
    message.set_content(notification.body)
    return message


class SmtpSender:
    """One SMTP session, opened on first use and reused for the messages of a run."""

    def __init__(self, settings: NotificationSettings, ssl_context: ssl.SSLContext | None = None):
        self.settings = settings
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp_settings = self.settings.smtp
        try:
            smtp = smtplib.SMTP(smtp_settings.host, smtp_settings.port, timeout=smtp_settings.timeout_seconds)
        except (OSError, smtplib.SMTPException) as exc:
            raise _ServerProblem(f"cannot connect to {smtp_settings.host}:{smtp_settings.port}: {exc}") from None
        try:
            smtp.ehlo()
            if smtp_settings.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if smtp_settings.username:
                password = smtp_settings.password.get() if smtp_settings.password else ""
                smtp.login(smtp_settings.username, password)
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            # the exception text is the server's reply or the socket error, never the password
            raise _ServerProblem(f"SMTP session setup with {smtp_settings.host}:{smtp_settings.port} failed: "
                                 f"{type(exc).__name__}: {exc}") from None
        return smtp

    def send(self, message: EmailMessage, recipient: str) -> _Outcome | None:
        """Send one message. None when accepted; an outcome naming the error when refused.
        Raises _ServerProblem when the server cannot be used at all."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message, from_addr=self.settings.from_address, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(recipient, (450, b"recipient refused"))
            outcome = _Outcome(permanent=code >= 500, error=f"recipient refused: {code} {_text(reply)}")
        except smtplib.SMTPSenderRefused as exc:  # our From address: every message would fail alike
            raise _ServerProblem(f"sender {self.settings.from_address} refused: {exc.smtp_code} "
                                 f"{_text(exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:  # the message itself refused (DATA)
            outcome = _Outcome(permanent=exc.smtp_code >= 500, error=f"{exc.smtp_code} {_text(exc.smtp_error)}")
        except (OSError, smtplib.SMTPException) as exc:  # timeout, connection dropped mid-message
            self.close()
            raise _ServerProblem(f"{type(exc).__name__}: {exc}") from None
        else:
            return None
        if self._smtp.sock is None:  # smtplib hangs up after a 421: the next message reconnects
            self._smtp = None
        return outcome

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            self._smtp.close()
        self._smtp = None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _take_due(session: Session, now: datetime) -> Notification | None:
    """The next due pending row, locked for this transaction (rows other workers hold are skipped)."""
    return session.scalars(
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def _record_failure(row: Notification, error: str, permanent: bool, now: datetime, policy: RetryPolicy) -> bool:
    """Count the failed attempt; True when the message is given up."""
    row.attempts += 1
    row.last_error = error[:2000]
    if permanent or row.attempts >= policy.max_attempts:
        row.status = "failed"
        return True
    row.next_attempt_at = now + policy.delay(row.attempts)
    return False


def deliver_due(
    db: Database, settings: NotificationSettings, clock: Clock, *, policy: RetryPolicy = RetryPolicy(),
    limit: int = 500, should_stop: Callable[[], bool] = lambda: False, ssl_context: ssl.SSLContext | None = None,
) -> DeliveryReport:
    """Send the pending notifications that are due, oldest first, at most `limit` of them.

    `ssl_context` verifies the server on STARTTLS (default: the system's trusted CAs)."""
    report = DeliveryReport()
    sender = SmtpSender(settings, ssl_context)
    try:
        for _ in range(limit):
            if should_stop():
                break
            with db.session() as session:
                now = clock.now()
                row = _take_due(session, now)
                if row is None:
                    break
                try:
                    outcome = sender.send(build_message(row, settings.from_address, now), row.recipient)
                except _ServerProblem as exc:
                    report.stopped_by = str(exc)
                    gave_up = _record_failure(row, str(exc), False, now, policy)
                    report.failed += gave_up
                    report.retrying += not gave_up
                    break
                if outcome is None:
                    row.status, row.sent_at, row.attempts, row.last_error = "sent", now, row.attempts + 1, None
                    report.sent += 1
                    continue
                gave_up = _record_failure(row, outcome.error, outcome.permanent, now, policy)
                report.failed += gave_up
                report.retrying += not gave_up
                report.errors.append(f"notification {row.id} to {row.recipient}: {outcome.error}")
    finally:
        sender.close()
    return report


def send_now(settings: NotificationSettings, recipient: str, subject: str, body: str, now: datetime) -> str | None:
    """Send one message at once, not through the outbox (a sign-in link is of no use a minute
    later): None when the server accepted it, else why not (never a password)."""
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@upm-connector>"
    message["Date"] = format_datetime(now)
    message.set_content(body)
    sender = SmtpSender(settings)
    try:
        outcome = sender.send(message, recipient)
    except _ServerProblem as exc:
        return str(exc)
    finally:
        sender.close()
    return None if outcome is None else outcome.error
