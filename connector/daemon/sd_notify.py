"""systemd's service notification protocol (sd_notify): datagrams to `$NOTIFY_SOCKET`.

With `Type=notify` systemd waits for READY=1, expects WATCHDOG=1 more often than `WatchdogSec`,
and reads STOPPING=1 when the service begins to shut down. Without `$NOTIFY_SOCKET` (not under
systemd) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends state lines to the socket systemd names; an abstract socket starts with `@`."""

    def __init__(self, environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET") or None
        self.address = "\0" + path[1:] if path and path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watched = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        self.watchdog_seconds: float | None = int(usec) / 1_000_000 if watched else None
        """The unit's WatchdogSec, when the watchdog is on for this process."""

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *states: str) -> bool:
        """Send `KEY=value` lines in one datagram; False when not under systemd or the send failed."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(states).encode(), self.address)
            return True
        except OSError as exc:
            log.warning("could not notify systemd at %s: %s", self.address.lstrip("\0"), exc)
            return False

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1", "STATUS=finishing running batches")
