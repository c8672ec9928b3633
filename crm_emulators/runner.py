"""Serve an emulator's ASGI app with uvicorn, in the foreground (CLI) or a background thread (tests)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class TLSFiles:
    """Server certificate chain and key (PEM files) for an HTTPS emulator."""

    cert_file: Path
    key_file: Path


def _config(app: Any, host: str, port: int, tls: TLSFiles | None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,  # a client holding a keep-alive connection must not stall shutdown
    )


def serve_forever(app: Any, host: str, port: int, tls: TLSFiles | None = None) -> None:
    """Run until SIGINT/SIGTERM (the CLI's `upm-connector emulator ...`)."""
    uvicorn.Server(_config(app, host, port, tls)).run()


class BackgroundServer:
    """An emulator served from a daemon thread; use as a context manager.

    >>> with BackgroundServer(app) as srv:
    ...     requests.get(srv.base_url + "/__emulator/stats")
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, tls: TLSFiles | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.tls = tls
        self._server = uvicorn.Server(_config(app, host, self.port, tls))
        self._thread = threading.Thread(target=self._server.run, name=f"emulator:{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
