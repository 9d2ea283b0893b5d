"""Plain data shared by the core, the probes and the screens. No I/O, no Textual."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import msgspec

from ppcockpit.durations import format_duration


class Status(StrEnum):
    """One vocabulary everywhere: the watched app's own, plus `skipped` for "not configured"."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"

    @property
    def glyph(self) -> str:
        return STATUS_GLYPHS[self]

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def rank(self) -> int:
        """Severity order used to pick the worst of several statuses."""
        return STATUS_RANKS[self]


STATUS_GLYPHS = {
    Status.HEALTHY: "✔",
    Status.DEGRADED: "▲",
    Status.UNAVAILABLE: "✖",
    Status.UNKNOWN: "?",
    Status.SKIPPED: "-",
}
STATUS_LABELS = {
    Status.HEALTHY: "healthy",
    Status.DEGRADED: "degraded",
    Status.UNAVAILABLE: "unavailable",
    Status.UNKNOWN: "unknown",
    Status.SKIPPED: "not configured",
}
STATUS_RANKS = {
    Status.SKIPPED: 0,
    Status.HEALTHY: 1,
    Status.DEGRADED: 2,
    Status.UNKNOWN: 3,
    Status.UNAVAILABLE: 4,
}


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The most severe status of several (healthy when there are none)."""
    return max(statuses, key=lambda s: s.rank, default=Status.HEALTHY)


class Failure(StrEnum):
    """Why a reading is not a clean observation of the target."""

    NONE = "none"
    TARGET = "target"  # the target answered badly or not at all: it is unavailable
    PROBE = "probe"  # the probe itself failed: a bug or a misconfiguration


class Row(msgspec.Struct, frozen=True):
    """One line of a probe's breakdown (a dependency, a provider, a component)."""

    key: str
    label: str
    status: Status
    latency_ms: float | None = None
    message: str = ""
    consecutive_failures: int = 0
    alerting: bool = False
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class Reading(msgspec.Struct, frozen=True):
    """What one probe saw once."""

    probe: str
    target: str
    status: Status
    summary: str
    started_at: float = 0.0  # wall clock (time.time())
    finished_at: float = 0.0
    latency_ms: float | None = None
    metrics: dict[str, float | int | None] = msgspec.field(default_factory=dict)
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    rows: tuple[Row, ...] = ()
    error: str | None = None
    failure: Failure = Failure.NONE
    request_id: str | None = None
    retry_after: float | None = None  # the target asked us to wait this long (seconds)
    # A short phrase said in place of the status word, after the glyph ("✖ failures > 5%",
    # "✖ memory ≥ 90%"): what is wrong, in a table's status column. None: the status word.
    label: str | None = None

    def age(self, now: float | None = None) -> float:
        """Seconds since the reading finished."""
        return max(0.0, (time.time() if now is None else now) - self.finished_at)

    @property
    def cached(self) -> bool:
        """The probe served an earlier answer again (PostHog's, while it is rate limited or
        down): `details["cached"]`, with the age that answer had in `metrics["data_age_s"]`."""
        return self.details.get("cached") is True

    def data_age(self, now: float | None = None) -> float:
        """How old the data this reading shows is: for a cached answer, the age it had when
        it was served plus the time since; otherwise the time since the reading finished."""
        since = self.age(now) if self.finished_at > 0 else 0.0
        served = self.metrics.get("data_age_s") if self.cached else None
        if isinstance(served, bool) or not isinstance(served, int | float) \
                or not math.isfinite(served) or served < 0:
            served = 0.0
        return served + since

    def freshness(self, interval: float | None, now: float | None = None) -> Freshness | None:
        """The one staleness rule: the data shown is stale when it is older than two of the
        probe's intervals, or at once when it is a cached answer. None for a reading with
        nothing to age (not configured, or not finished)."""
        if self.status is Status.SKIPPED or (self.finished_at <= 0 and not self.cached):
            return None
        age = self.data_age(now)
        too_old = bool(interval) and age > STALE_AFTER_INTERVALS * (interval or 0.0)
        return Freshness(age=age, stale=self.cached or too_old, cached=self.cached)

    def is_stale(self, interval: float | None, now: float | None = None) -> bool:
        found = self.freshness(interval, now)
        return found is not None and found.stale


STALE_AFTER_INTERVALS = 2


class Freshness(msgspec.Struct, frozen=True):
    """How old the data a reading shows is, judged by `Reading.freshness`."""

    age: float  # seconds
    stale: bool
    cached: bool = False  # an earlier answer served again

    @property
    def words(self) -> str:
        """"live", or "stale 1m" (the data shown is a minute old): the same words on every
        screen."""
        return f"stale {format_duration(max(1.0, self.age))}" if self.stale else "live"


class TargetUnavailable(Exception):
    """Raised by a probe when the target is down or answered badly (not a probe bug).

    The message is one line, safe to show: no secrets, no control characters.
    """

    def __init__(self, reason: str, *, request_id: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.retry_after = retry_after


class ProbeMisconfigured(Exception):
    """Raised by a probe when its own configuration cannot work (a probe failure)."""


class RingBuffer:
    """A bounded history of numbers, oldest first."""

    __slots__ = ("_items",)

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._items: deque[float] = deque(maxlen=capacity)

    @property
    def capacity(self) -> int:
        return self._items.maxlen or 0

    def append(self, value: float) -> None:
        self._items.append(value)

    def values(self) -> list[float]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[float]:
        return iter(self._items)


class Transition(msgspec.Struct, frozen=True):
    at: float
    key: str
    before: Status
    after: Status
    summary: str


class Signal(msgspec.Struct):
    """The bounded history of one key: samples for sparklines, status changes, failure streak."""

    key: str
    samples: RingBuffer
    status: Status = Status.UNKNOWN
    since: float = 0.0  # when the current status began
    consecutive_failures: int = 0
    transitions: deque[Transition] = msgspec.field(default_factory=lambda: deque(maxlen=100))

    @classmethod
    def new(cls, key: str, capacity: int = 120) -> Signal:
        return cls(key=key, samples=RingBuffer(capacity))

    def observe(self, status: Status, at: float, summary: str = "",
                sample: float | None = None) -> Transition | None:
        """Record one observation; return the transition if the status changed."""
        if sample is not None:
            self.samples.append(sample)
        if status is Status.UNAVAILABLE:
            self.consecutive_failures += 1
        else:
            self.consecutive_failures = 0
        first = not self.since
        if status is self.status and not first:
            return None
        before = self.status
        self.status = status
        self.since = at
        if first:
            # The first observation is where we start, not a change worth announcing.
            return None
        transition = Transition(at=at, key=self.key, before=before, after=status,
                                summary=summary)
        self.transitions.append(transition)
        return transition


class Decision(StrEnum):
    GO = "go"
    NO_GO = "no-go"
    WAITING = "waiting"  # not every probe has reported yet


class Verdict(msgspec.Struct, frozen=True):
    decision: Decision
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # degraded: shown, not blocking
    not_configured: tuple[str, ...] = ()  # probes with nothing to watch

    @property
    def go(self) -> bool:
        return self.decision is Decision.GO


class Snapshot(msgspec.Struct, frozen=True):
    """Everything a screen needs to draw the cockpit at one moment (read-only for screens)."""

    environment: str
    operator: str
    readings: dict[str, Reading]
    signals: dict[str, Signal]
    verdict: Verdict
    stale: frozenset[str]
    probe_names: tuple[str, ...]
    taken_at: float
    # Per probe, how old the data it shows is (one rule: Reading.freshness); `stale` holds
    # the names whose data is stale.
    freshness: dict[str, Freshness] = msgspec.field(default_factory=dict)

    def freshness_of(self, name: str) -> Freshness | None:
        """The freshness of probe `name`'s reading, judged as `stale` was (a Snapshot made
        without it judges the reading alone: stale when it says it is a cached answer)."""
        found = self.freshness.get(name)
        if found is not None:
            return found
        reading = self.readings.get(name)
        if reading is None:
            return None
        judged = reading.freshness(None, self.taken_at)
        if judged is not None and name in self.stale and not judged.stale:
            return Freshness(judged.age, True, judged.cached)
        return judged
