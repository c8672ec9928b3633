"""Logging: one JSON object per line, naming the lane and connection, with secrets redacted.

Redaction is a logging.Filter on the root handler, so it also covers the DEBUG output of
requests-oauthlib, urllib3 and the CRM client libraries, which log headers and token bodies.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

_lane: contextvars.ContextVar[str | None] = contextvars.ContextVar("lane", default=None)
_connection: contextvars.ContextVar[str | None] = contextvars.ContextVar("connection", default=None)

REDACTED = "[REDACTED]"
_SECRET_PATTERNS = [
    # Authorization headers, in any quoting: `Authorization: Bearer xxx`, `'Authorization': 'OAuth xxx'`
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|oauth|basic)\s+)?[^'\"\s,}]+"),
    re.compile(r"(?i)\b((?:bearer|oauth)\s+)[A-Za-z0-9._~+/=!-]{8,}"),
    # key=value and "key": "value" for the usual secret names (form bodies, JSON, query strings)
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|password|session_id|sessionid|id_token|api_key|"
        r"apikey|hapikey|private_app_token|signature)['\"]?\s*[:=]\s*['\"]?)[^'\"&\s,}]+"
    ),
    re.compile(r"(?i)([?&]code=)[^&\s'\"]+"),
    # query-string parameters that carry a credential: ?token=, ?key=, ?hub_token=, ?api-key=
    re.compile(r"(?i)([?&](?:[a-z_-]*token|[a-z_-]*key|secret)=)[^&\s'\"]+"),
]


def redact(text: str) -> str:
    """Mask tokens, secrets and Authorization headers in free text."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets masked (arguments are rendered first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


PROBE_PATHS = ("/healthz", "/readyz", "/metrics")
"""Requests the access log leaves out below DEBUG: orchestrators' probes and Prometheus scrapes."""


class AccessLogFilter(logging.Filter):
    """uvicorn's access lines as fields (client, method, path with its query redacted, status), and
    probe requests dropped unless logging is at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        client, method, path, http_version, status = args
        if str(path).split("?")[0] in PROBE_PATHS and not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        path = redact(str(path))
        record.args = (client, method, path, http_version, status)
        record.client, record.method, record.path, record.status = client, method, path, status
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, lane, connection, and `extra` fields."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if lane := _lane.get():
            entry["lane"] = lane
        if connection := _connection.get():
            entry["connection"] = connection
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={v}" for k, v in (("lane", _lane.get()), ("connection", _connection.get())) if v)
        base = super().format(record)
        return f"{base} [{context}]" if context else base


def route_access_log() -> None:
    """Send uvicorn's access lines to the root handler (only), at the root's level: each uvicorn
    server (the embedded emulators: `access_log=False`, `log_level="warning"`) re-plumbs the shared
    `uvicorn.access` logger when it is configured."""
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = True
    access.setLevel(logging.NOTSET)


def configure_logging(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Install the one root handler the daemon and CLI log through."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for executor in ("default", "daemon:replicas"):  # every lane run, every replica beat: the connector logs its own
        logging.getLogger(f"apscheduler.executors.{executor}").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").filters[:] = [AccessLogFilter()]
    route_access_log()
    # alembic's "Context impl", "Running upgrade" lines: shown at DEBUG only; its warnings and errors always.
    logging.getLogger("alembic").setLevel(root.level if root.level <= logging.DEBUG else max(logging.WARNING, root.level))


@contextmanager
def log_context(lane: str | None = None, connection: str | None = None) -> Iterator[None]:
    """Name the lane/connection on every log line written inside the block (this thread/task)."""
    tokens = [_lane.set(lane), _connection.set(connection)]
    try:
        yield
    finally:
        _connection.reset(tokens[1])
        _lane.reset(tokens[0])
