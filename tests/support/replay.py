"""A probe that replays recorded readings: for screens whose pixels must not depend on time.

It implements the Probe protocol like any other probe; the target it "watches" is the list
of readings a test recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from msgspec.structs import replace

from ppcockpit.model import Reading


@dataclass
class ReplayProbe:
    name: str
    readings: Sequence[Reading]
    interval: float = 3600.0
    timeout: float = 5.0
    target: str = "replay"
    at: float = 1_764_324_000.0  # 2025-11-28 10:00:00 UTC: fixed, so ages are fixed
    calls: int = field(default=0)

    async def check(self, deadline: float) -> Reading:
        reading = self.readings[min(self.calls, len(self.readings) - 1)]
        self.calls += 1
        return replace(reading, started_at=self.at, finished_at=self.at,
                       latency_ms=reading.latency_ms if reading.latency_ms is not None else 42.0)

    async def aclose(self) -> None:
        return None
