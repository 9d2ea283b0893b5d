"""Simulated time: it starts at the real clock and runs `time_scale` times faster."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SimClock:
    """simulated now = start + real elapsed × time_scale (+ any manual advance, for tests)."""

    def __init__(self, time_scale: float, start: float | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be greater than zero")
        self.time_scale = time_scale
        self.start = time.time() if start is None else start
        self._mono_start = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Simulated unix seconds."""
        real = time.monotonic() - self._mono_start
        with self._lock:
            return self.start + real * self.time_scale + self._offset

    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return self.now() - self.start

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward (tests and drills); never backward."""
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        with self._lock:
            self._offset += seconds

    def real_seconds(self, simulated: float) -> float:
        """How long `simulated` seconds take on the wall clock."""
        return simulated / self.time_scale


def iso_ms(moment: float) -> str:
    """2026-11-28T10:00:00.000Z, the app's timestamp format."""
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def iso_seconds(moment: float) -> str:
    """2026-11-28T10:00:00Z."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
