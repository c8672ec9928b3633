"""`upm-connector auth login`: the authorization-code flow on a terminal.

Prints the URL to open; takes the redirect on the local port of `redirect_uri`, or a pasted
redirect URL or code (`--paste`) where the browser is on another machine.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from connector.auth.oauth import OAuthClient, oauth_params
from connector.auth.vault import TokenSet, TokenVault
from connector.clock import SystemClock
from connector.config.settings import Settings


class LoginError(RuntimeError):
    """The authorization did not complete."""


def _code_from(answer: str, state: str) -> str:
    answer = answer.strip()
    if "://" not in answer and "?" not in answer:
        return answer  # a bare code
    query = parse_qs(urlparse(answer).query)
    if "error" in query:
        raise LoginError(f"authorization refused: {query['error'][0]} {query.get('error_description', [''])[0]}")
    if query.get("state", [state])[0] != state:
        raise LoginError("the redirect's state does not match this login (possible CSRF); start again")
    if "code" not in query:
        raise LoginError("no code in the redirect URL")
    return query["code"][0]


def _wait_for_redirect(redirect_uri: str, state: str, timeout: float) -> str:
    parsed = urlparse(redirect_uri)
    received: dict[str, str] = {}
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if urlparse(self.path).path != parsed.path:
                self.send_error(404)
                return
            received["url"] = f"{parsed.scheme}://{parsed.netloc}{self.path}"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"UPM Connector: authorization received. You can close this window.\n")
            done.set()

        def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never log it
            return

    server = http.server.HTTPServer((parsed.hostname or "127.0.0.1", parsed.port or 80), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        if not done.wait(timeout):
            raise LoginError(f"no redirect to {redirect_uri} within {timeout:.0f}s")
    finally:
        server.shutdown()
        server.server_close()
    return _code_from(received["url"], state)


def run_login(
    settings: Settings,
    connection: str,
    vault: TokenVault,
    *,
    paste: bool,
    timeout: float,
    echo: Callable[[str], Any],
    prompt: Callable[[str], str],
) -> TokenSet:
    """Run the flow for `connection` and store the tokens it yields."""
    conn = settings.connections[connection]
    client = OAuthClient(connection, oauth_params(conn, settings), vault, SystemClock())
    url, state = client.authorization_url()
    echo(f"Open this URL in a browser and grant access:\n\n  {url}\n")
    if paste:
        code = _code_from(prompt("Paste the URL you were redirected to (or the code)"), state)
    else:
        echo(f"Waiting for the redirect to {client.params.redirect_uri} ...")
        code = _wait_for_redirect(client.params.redirect_uri, state, timeout)
    return client.exchange_code(code)
