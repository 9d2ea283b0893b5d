"""Why roll back: the evidence the rollback modal shows and the notify message carries.

Pure: built from the session's latest readings and signals (no I/O). The failure ratio
against its threshold and how long it has been over it, the providers that are
unavailable and for how many checks, Redis memory, the newest errors of the log tail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ppcockpit.durations import format_duration
from ppcockpit.model import Reading, Signal, Status
from ppcockpit.text import one_line
from ppcockpit.units import RATIO_DECIMALS, exceeds, percent, threshold_percent

MAX_ERRORS = 5  # newest error lines kept
MAX_ERROR_CHARS = 200
MAX_PROVIDERS = 10
LOG_SCAN = 2000  # newest log tail lines looked through for errors

if TYPE_CHECKING:
    from ppcockpit.logs import LogBuffer


@dataclass(frozen=True, slots=True)
class ProviderDown:
    label: str
    checks: int  # consecutive checks it has been unavailable


@dataclass(frozen=True, slots=True)
class Evidence:
    """The state of things at one moment, as plain data; `text()` says it in a paragraph."""

    environment: str
    taken_at: float  # unix seconds (the session's clock)
    failure_ratio: float | None = None  # None: unknown (no reading, too few requests)
    ratio_threshold: float | None = None  # the line it is over (crit, else warn)
    over_for_s: float | None = None  # how long it has been over that line
    ratio_summary: str = ""  # the PostHog probe's one line
    providers_down: tuple[ProviderDown, ...] = ()
    redis_memory: str = ""  # the Redis probe's one line
    redis_ratio: float | None = None
    errors: tuple[str, ...] = ()  # the newest error lines of the log tail, newest last
    verdict: str = ""

    def text(self) -> str:
        """One paragraph: what the modal shows and the notify message says."""
        parts = [self.ratio_text()]
        if self.providers_down:
            parts.append("Unavailable: " + ", ".join(
                f"{p.label} for {p.checks} check{'s' if p.checks != 1 else ''}"
                for p in self.providers_down) + ".")
        if self.redis_memory:
            parts.append(f"Redis: {self.redis_memory}.")
        if self.errors:
            parts.append("Newest errors: " + " | ".join(self.errors) + ".")
        if self.verdict:
            parts.append(f"Verdict: {self.verdict}.")
        return " ".join(parts)

    def ratio_text(self) -> str:
        if self.failure_ratio is None:
            said = f" ({self.ratio_summary})" if self.ratio_summary else ""
            return f"Failure ratio unknown{said}."
        shown = percent(self.failure_ratio, RATIO_DECIMALS)
        if self.ratio_threshold is None:
            return f"Failure ratio {shown}, under its thresholds."
        line = threshold_percent(self.ratio_threshold)
        over = f" for {format_duration(self.over_for_s)}" if self.over_for_s is not None \
            else ""
        return f"Failure ratio {shown}, over the {line} line{over}."

    def summary(self) -> str:
        """One short line (the release log's trigger names it in full)."""
        return one_line(self.text(), 240)

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment, "taken_at": self.taken_at,
            "failure_ratio": self.failure_ratio, "ratio_threshold": self.ratio_threshold,
            "over_for_s": self.over_for_s, "ratio_summary": self.ratio_summary,
            "providers_down": [{"label": p.label, "checks": p.checks}
                               for p in self.providers_down],
            "redis_memory": self.redis_memory, "redis_ratio": self.redis_ratio,
            "errors": list(self.errors), "verdict": self.verdict,
        }

    @classmethod
    def from_json(cls, data: object) -> Evidence | None:
        """Evidence read back from the journal (None when it is not a table of it)."""
        if not isinstance(data, Mapping):
            return None
        providers = data.get("providers_down")
        errors = data.get("errors")
        return cls(
            environment=_text(data.get("environment")),
            taken_at=_finite(data.get("taken_at")) or 0.0,
            failure_ratio=_finite(data.get("failure_ratio")),
            ratio_threshold=_finite(data.get("ratio_threshold")),
            over_for_s=_finite(data.get("over_for_s")),
            ratio_summary=_text(data.get("ratio_summary")),
            providers_down=tuple(
                ProviderDown(_text(p.get("label")), int(_finite(p.get("checks")) or 0))
                for p in (providers if isinstance(providers, list) else [])[:MAX_PROVIDERS]
                if isinstance(p, Mapping)),
            redis_memory=_text(data.get("redis_memory")),
            redis_ratio=_finite(data.get("redis_ratio")),
            errors=tuple(_text(e) for e in (errors if isinstance(errors, list) else [])
                         [-MAX_ERRORS:]),
            verdict=_text(data.get("verdict")),
        )


def gather_evidence(environment: str, readings: Mapping[str, Reading],
                    signals: Mapping[str, Signal], now: float, *,
                    ignored_providers: Iterable[str] = (),
                    recent_errors: Callable[[], Sequence[str]] | None = None,
                    redact: Callable[[str], str] = lambda text: text,
                    verdict: str = "") -> Evidence:
    """The evidence now. `readings` and `signals` by probe name (the session's state);
    `recent_errors` gives the log tail's newest error lines, when there is a log tail."""
    ratio, threshold, over_for, ratio_summary = _failure_ratio(
        readings.get("posthog"), signals.get("posthog"), now)
    redis = readings.get("redis")
    redis_ratio = redis.metrics.get("memory_ratio") if redis is not None else None
    errors: tuple[str, ...] = ()
    if recent_errors is not None:
        try:
            lines = list(recent_errors())[-MAX_ERRORS:]
        except Exception:  # the log tail is another module's: its trouble is not ours
            lines = []
        errors = tuple(redact(one_line(line, MAX_ERROR_CHARS)) for line in lines)
    return Evidence(
        environment=environment,
        taken_at=now,
        failure_ratio=ratio,
        ratio_threshold=threshold,
        over_for_s=over_for,
        ratio_summary=redact(ratio_summary),
        providers_down=_providers_down(readings.get("health"), set(ignored_providers)),
        redis_memory=redact(_redis_text(redis)),
        redis_ratio=_finite(redis_ratio),
        errors=errors,
        verdict=redact(one_line(verdict, 200)),
    )


def _failure_ratio(reading: Reading | None, signal: Signal | None, now: float,
                   ) -> tuple[float | None, float | None, float | None, str]:
    """The ratio, the line it is over (crit, else warn; None when under both), for how
    long, and the probe's summary."""
    if reading is None:
        return None, None, None, "no PostHog reading yet"
    summary = one_line(reading.summary, 160)
    if reading.status is Status.SKIPPED:
        return None, None, None, summary
    ratio = _finite(reading.metrics.get("ratio"))
    if ratio is None:
        return None, None, None, summary
    details = reading.details
    crit, warn = _finite(details.get("ratio_crit")), _finite(details.get("ratio_warn"))
    threshold = next((line for line in (crit, warn) if line is not None
                      and exceeds(ratio, line, RATIO_DECIMALS)), None)
    over_for = None
    if threshold is not None and signal is not None and signal.since:
        # Over the crit line: the probe says unavailable; over warn only: degraded or worse.
        run = (Status.UNAVAILABLE,) if threshold == crit else \
            (Status.DEGRADED, Status.UNAVAILABLE)
        if signal.status in run:
            over_for = max(0.0, now - _run_began(signal, run))
    return ratio, threshold, over_for, summary


def _run_began(signal: Signal, run: tuple[Status, ...]) -> float:
    """When the signal's current run of `run` statuses began."""
    since = signal.since
    for transition in reversed(signal.transitions):
        if transition.after not in run:
            break
        since = min(since, transition.at)
        if transition.before not in run:
            break
    return since


def _providers_down(reading: Reading | None, ignored: set[str]) -> tuple[ProviderDown, ...]:
    if reading is None:
        return ()
    down = [ProviderDown(one_line(row.label, 60), row.consecutive_failures)
            for row in reading.rows
            if row.status is Status.UNAVAILABLE and row.label not in ignored
            and not row.extra.get("ignored")]
    down.sort(key=lambda p: -p.checks)
    return tuple(down[:MAX_PROVIDERS])


def _redis_text(reading: Reading | None) -> str:
    if reading is None:
        return ""
    if reading.status is Status.SKIPPED:
        return "not configured"
    return one_line(reading.summary, 120)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: object) -> str:
    return one_line(value, 400) if isinstance(value, str) else ""


def log_tail_errors(buffer: LogBuffer, limit: int = MAX_ERRORS,
                    scan: int = LOG_SCAN) -> Callable[[], list[str]]:
    """`recent_errors` for the evidence, from the log tail's buffer: its newest error lines
    (of the last `scan` lines), oldest first, as `time provider: message`."""
    def newest() -> list[str]:
        lines = buffer.since(max(0, buffer.next_seq - 1 - scan))
        found = []
        for line in reversed(lines):
            if line.level == "error" and not line.marker:
                who = f"{line.provider}: " if line.provider else ""
                found.append(" ".join(part for part in (line.time, f"{who}"
                                                        f"{line.message or line.raw}") if part))
                if len(found) >= limit:
                    break
        return found[::-1]

    return newest
