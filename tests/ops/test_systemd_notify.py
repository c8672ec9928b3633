"""`upm-connector run` under a fake systemd: READY=1, WATCHDOG=1 and STOPPING=1 on NOTIFY_SOCKET."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.daemon.sd_notify import SystemdNotifier
from test_daemon import Daemon


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def receive_until(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    """Every datagram until one carries the line `wanted` (AssertionError after `timeout`)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if wanted in got[-1].splitlines():
            return got
    raise AssertionError(f"no {wanted} within {timeout}s; got {got}")


def test_run_tells_systemd_ready_alive_and_stopping(
    database_url: str, tmp_path: Path, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # WatchdogSec=1s: a beat every half second
    daemon = Daemon("unit", tmp_path, database_url, tmp_path / "probe.log", lease=30, batches=1, batch_seconds=0,
                    every="1h")
    try:
        ready = receive_until(notify_socket, "READY=1", 30)
        # READY=1 comes once the schema is migrated, the lanes are started and HTTP answers.
        assert requests.get(f"http://127.0.0.1:{daemon.port}/healthz", timeout=5).status_code == 200
        assert any(line.startswith("STATUS=") and "lanes" in line for line in ready[-1].splitlines())
        beats = sum(message == "WATCHDOG=1" for message in receive_until(notify_socket, "WATCHDOG=1", 5))
        beats += sum(message == "WATCHDOG=1" for message in receive_until(notify_socket, "WATCHDOG=1", 5))
        assert beats >= 2, "the scheduler keeps beating"
        daemon.proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in receive_until(notify_socket, "STOPPING=1", 20)[-1].splitlines()
        assert daemon.proc.wait(timeout=20) == 0, daemon.log_path.read_text()
    finally:
        daemon.stop()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.ready("x") is False and notifier.watchdog_seconds is None


def test_abstract_sockets_and_a_watchdog_for_another_pid(tmp_path: Path) -> None:
    name = f"upm-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "4000000",
                                    "WATCHDOG_PID": str(os.getpid())})
        assert notifier.stopping() and sock.recv(100) == b"STOPPING=1\nSTATUS=finishing running batches"
        assert notifier.watchdog_seconds == 4.0
    assert SystemdNotifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}).watchdog_seconds is None
    assert SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody")}).ready("x") is False
