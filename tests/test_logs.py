"""Logs: one JSON object per line naming lane and connection; secrets never appear at any level."""

from __future__ import annotations

import io
import json
import logging

import pytest

from connector.logs import configure_logging, log_context


@pytest.fixture
def stream() -> io.StringIO:
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    yield out
    configure_logging("WARNING", "json")


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_name_lane_and_connection(stream: io.StringIO) -> None:
    log = logging.getLogger("connector.test")
    with log_context("sync:vendor-sf", "vendor-sf"):
        log.info("pulled %d records", 42, extra={"object": "Lead"})
    log.info("outside")
    inside, outside = lines(stream)
    assert inside["msg"] == "pulled 42 records"
    assert (inside["lane"], inside["connection"], inside["object"]) == ("sync:vendor-sf", "vendor-sf", "Lead")
    assert "lane" not in outside


@pytest.mark.parametrize(
    "logger,message,secret",
    [
        ("urllib3.connectionpool", "send: b'POST /x HTTP/1.1\\r\\nAuthorization: Bearer pat-na1-11112222-3333'", "pat-na1-11112222-3333"),
        ("requests_oauthlib.oauth2_session", "Updated token {'access_token': '00Dxx0000001gEH!AQ4AQFK', 'refresh_token': '5Aep861TSES'}", "00Dxx0000001gEH!AQ4AQFK"),
        ("requests_oauthlib.oauth2_session", "Updated token {'access_token': '00Dxx0000001gEH!AQ4AQFK', 'refresh_token': '5Aep861TSES'}", "5Aep861TSES"),
        ("oauthlib.oauth2.rfc6749", "body grant_type=refresh_token&client_id=abc&client_secret=s3cr3t-value&refresh_token=r1", "s3cr3t-value"),
        ("simple_salesforce", "headers {'Authorization': 'Bearer 00D5g000004tok', 'X-PrettyPrint': '1'}", "00D5g000004tok"),
        ("connector.auth", "callback received /callback?code=aPrxYXyxzkuBzbiaBTyGH&state=xyz", "aPrxYXyxzkuBzbiaBTyGH"),
    ],
)
def test_secrets_are_redacted_even_at_debug(
    stream: io.StringIO, logger: str, message: str, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    library_logger = logging.getLogger(logger)
    monkeypatch.setattr(library_logger, "level", logging.DEBUG)  # client libraries tune their loggers' levels
    monkeypatch.setattr(library_logger, "disabled", False)
    library_logger.debug(message)
    text = stream.getvalue()
    assert secret not in text
    assert "[REDACTED]" in text


def test_secrets_in_arguments_and_tracebacks_are_redacted(stream: io.StringIO) -> None:
    log = logging.getLogger("connector.test")
    log.warning("token response %s", {"access_token": "tok-abcdef123456"})
    try:
        raise RuntimeError("refresh failed for refresh_token=rt-987654321")
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    assert "tok-abcdef123456" not in text and "rt-987654321" not in text
    assert lines(stream)[1]["exc"].startswith("Traceback")


def test_error_codes_are_kept(stream: io.StringIO) -> None:
    logging.getLogger("connector.test").info('[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]')
    assert "INVALID_SESSION_ID" in stream.getvalue()


@pytest.fixture(autouse=True)
def _uvicorn_unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo uvicorn's own log config, which a test server run earlier may have applied to the
    `uvicorn` logger (a handler of its own, no propagation); the daemon never applies it."""
    parent = logging.getLogger("uvicorn")
    monkeypatch.setattr(parent, "handlers", [])
    monkeypatch.setattr(parent, "propagate", True)


def _access(path: str, status: int = 200) -> None:
    """A request line as uvicorn's access logger writes it."""
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5501", "GET", path, "1.1", status)


def test_the_access_log_is_json_fields_with_tokens_in_query_strings_redacted() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    try:
        _access("/api/v1/inbox?state=pool&access_token=tok-abcdef123456&key=k-998877", 200)
        _access("/healthz")
        _access("/metrics?x=1")
    finally:
        configure_logging("WARNING", "json")
    (entry,) = lines(out)
    assert (entry["logger"], entry["method"], entry["status"], entry["client"]) == ("uvicorn.access", "GET", 200, "127.0.0.1:5501")
    assert entry["path"] == "/api/v1/inbox?state=pool&access_token=[REDACTED]&key=[REDACTED]"
    assert "tok-abcdef123456" not in out.getvalue() and "k-998877" not in out.getvalue()
    assert entry["msg"] == '127.0.0.1:5501 - "GET /api/v1/inbox?state=pool&access_token=[REDACTED]&key=[REDACTED] HTTP/1.1" 200'


def test_probes_are_left_out_of_the_access_log_except_at_debug(stream: io.StringIO) -> None:
    _access("/readyz", 503)
    (entry,) = lines(stream)
    assert (entry["path"], entry["status"]) == ("/readyz", 503)
