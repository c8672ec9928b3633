"""The emulators' clock: real UTC time plus an offset that tests move through `/__emulator/clock`."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class EmulatorClock:
    """Wall-clock UTC time that can be advanced (never rewound) without sleeping."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()
