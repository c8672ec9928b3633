"""Shared helpers of the notification, import, aging and lifecycle tests.

- A real SMTP server on loopback (aiosmtpd) and notification settings that point at it:
`SmtpRecorder` keeps every accepted message and can be told to refuse chosen recipients with a
given reply, a given number of times; it can require AUTH (optionally over STARTTLS with a trustme
certificate, whose CA `client_context()` trusts).
- `write_table`: an import file (.xlsx or .csv) from a header and rows.
- `aging_rule`: a Lead Configuration Rule with its revoke rules.
"""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from openpyxl import Workbook
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from connector.config.secrets import Secret
from connector.config.settings import NotificationSettings, SmtpSettings
from connector.store import Database
from connector.store.aging import LeadConfigurationRule, LeadRevokeRule

FROM_ADDRESS = "leads@vendor.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class SmtpRecorder:
    """The aiosmtpd handler: records accepted messages, refuses recipients on demand."""

    received: list[Received] = field(default_factory=list)
    refusals: dict[str, list[str]] = field(default_factory=dict)
    delay_seconds: float = 0.0
    sender_reply: str | None = None
    """When set, MAIL FROM is answered with it (e.g. '550 5.7.1 sender not allowed')."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, recipient: str, reply: str, times: int = 1) -> None:
        """Answer RCPT TO:`recipient` with `reply` (e.g. '451 4.3.0 try later') the next `times` times."""
        self.refusals.setdefault(recipient.lower(), []).extend([reply] * times)

    async def handle_MAIL(self, server: Any, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.sender_reply:
            return self.sender_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        with self.lock:
            queued = self.refusals.get(address.lower())
            if queued:
                return queued.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, recipient: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if recipient in r.rcpt_tos]


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder
    ca: trustme.CA | None = None

    def settings(self, *, username: str | None = None, password: str | None = None,
                 starttls: bool = False) -> NotificationSettings:
        smtp = SmtpSettings(host=self.host, port=self.port, starttls=starttls, username=username,
                            password=Secret(password, "test") if password is not None else None,
                            timeout_seconds=5)
        return NotificationSettings(enabled=True, from_address=FROM_ADDRESS, smtp=smtp)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate."""
        assert self.ca is not None
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


class _Credentials:
    def __init__(self, username: str, password: str):
        self.username, self.password = username.encode(), password.encode()
        self.attempts: list[tuple[str, bool]] = []

    def __call__(self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.username, self.password)
        self.attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(*, username: str | None = None, password: str | None = None, tls: bool = False) -> Iterator[SmtpServer]:
    """Run an SMTP server on 127.0.0.1 for the duration of the block.

    With `username`/`password` it requires AUTH; with `tls` it offers STARTTLS (trustme certificate)
    and accepts AUTH only after it, otherwise AUTH is allowed on the plain connection."""
    recorder = SmtpRecorder()
    kwargs: dict[str, Any] = {}
    ca = None
    if username is not None and password is not None:
        kwargs.update(authenticator=_Credentials(username, password), auth_required=True, auth_require_tls=tls)
    if tls:
        ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
        kwargs.update(tls_context=server_context, require_starttls=True)
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, recorder, ca)
    finally:
        controller.stop()


def write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """Write an import file: XLSX when `path` ends in .xlsx, else CSV (UTF-8)."""
    if path.suffix == ".xlsx":
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
        workbook.save(path)
    else:
        with path.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows(rows)
    return path


def aging_rule(db: Database, name: str, *, green_days: int, yellow_days: int, revoke: Sequence[dict[str, Any]] = (),
               **fields: Any) -> int:
    """A Lead Configuration Rule with its revoke rules ({"name", "condition", "operator", "days"|"hours"})."""
    with db.session() as s:
        rule = LeadConfigurationRule(name=name, green_days=green_days, yellow_days=yellow_days, **fields)
        rule.revoke_rules = [LeadRevokeRule(**spec) for spec in revoke]
        s.add(rule)
        s.flush()
        return rule.id
