"""The cockpit's picture of the world: latest readings folded into bounded signals."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ppcockpit.model import Freshness, Reading, Signal, Snapshot, Transition, Verdict
from ppcockpit.verdict import decide

# Which metric of a probe feeds its sparkline history (the PostHog panel draws the
# per-minute series PostHog itself returns, so it needs no history here).
SPARKLINE_METRICS = {"redis": "memory_ratio"}


class CockpitState:
    """Latest reading per probe, a Signal per probe and per row, and the verdict."""

    def __init__(self, probe_names: Iterable[str], intervals: dict[str, float],
                 history: int = 120) -> None:
        self.probe_names = list(probe_names)
        self.intervals = intervals
        self.history = history
        self.readings: dict[str, Reading] = {}
        self.signals: dict[str, Signal] = {}
        self.version = 0  # bumps on every applied reading, for cheap change detection

    def signal(self, key: str) -> Signal:
        found = self.signals.get(key)
        if found is None:
            found = self.signals[key] = Signal.new(key, self.history)
        return found

    def apply(self, reading: Reading) -> list[Transition]:
        """Fold one reading in; return the status changes it caused (probe and rows)."""
        self.readings[reading.probe] = reading
        self.version += 1
        at = reading.finished_at or time.time()
        metric = SPARKLINE_METRICS.get(reading.probe)
        sample = reading.metrics.get(metric) if metric else None
        changes = [self.signal(reading.probe).observe(
            reading.status, at, reading.summary,
            sample=float(sample) if isinstance(sample, int | float) else None)]
        for row in reading.rows:
            changes.append(self.signal(f"{reading.probe}/{row.key}").observe(
                row.status, at, row.message or row.status.label))
        return [c for c in changes if c is not None]

    def freshness(self, name: str, now: float | None = None) -> Freshness | None:
        """How old the data of probe `name`'s reading is (the one rule: Reading.freshness)."""
        reading = self.readings.get(name)
        return reading.freshness(self.intervals.get(name), now) if reading else None

    def is_stale(self, name: str, now: float | None = None) -> bool:
        found = self.freshness(name, now)
        return found is not None and found.stale

    def verdict(self) -> Verdict:
        return decide(self.readings.values(), expected=self.probe_names)

    def snapshot(self, environment: str, operator: str, now: float | None = None) -> Snapshot:
        now = time.time() if now is None else now
        freshness = {name: found for name in self.readings
                     if (found := self.freshness(name, now)) is not None}
        return Snapshot(
            environment=environment,
            operator=operator,
            readings=dict(self.readings),
            signals=self.signals,
            verdict=self.verdict(),
            stale=frozenset(name for name, found in freshness.items() if found.stale),
            probe_names=tuple(self.probe_names),
            taken_at=now,
            freshness=freshness,
        )
