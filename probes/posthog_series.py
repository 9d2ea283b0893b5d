"""Per-minute success/failure counts, the failure ratio over them and its verdict.

Pure: no I/O, no clock of its own. The probe (probes/posthog.py) feeds it what PostHog
answered and the environment's time.

The window is whole minutes: the newest minute is still filling (a minute that began five
seconds ago holds a handful of requests, and one failure among six is 16.7%), so it is
shown, marked `filling`, but never counted, neither in the ratio nor in the before/after
comparison. The window's trailing edge is so at most a minute behind; what it says is
exactly the team's rule (the failure ratio of the last 15 whole minutes), and the counts
on screen are the bars drawn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ppcockpit.config_model import PosthogProbeConfig
from ppcockpit.durations import format_duration
from ppcockpit.model import Status
from ppcockpit.units import RATIO_DECIMALS, exceeds, percent, reaches, threshold_percent

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class MinuteCount:
    """The two event counts of one minute (`minute` is UTC, floored to the minute)."""

    minute: datetime
    completed: int
    failed: int

    @property
    def requests(self) -> int:
        return self.completed + self.failed

    def as_detail(self, filling: bool = False) -> dict[str, object]:
        detail: dict[str, object] = {"minute": self.minute.isoformat(),
                                     "completed": self.completed, "failed": self.failed}
        if filling:
            detail["filling"] = True  # not over yet: shown, never counted
        return detail


@dataclass(frozen=True, slots=True)
class Totals:
    completed: int = 0
    failed: int = 0

    @property
    def requests(self) -> int:
        return self.completed + self.failed

    @property
    def ratio(self) -> float | None:
        """failed / (completed + failed); None when there were no requests at all."""
        return self.failed / self.requests if self.requests else None


@dataclass(frozen=True, slots=True)
class BeforeAfter:
    """The ratio since the deploy against the same number of minutes just before it."""

    minutes: int
    before: Totals
    after: Totals

    @property
    def delta(self) -> float | None:
        before, after = self.before.ratio, self.after.ratio
        return None if before is None or after is None else after - before


def parse_timestamp(value: object) -> datetime:
    """An aware UTC datetime from ISO-8601 (zone optional: UTC when none), "YYYY-MM-DD
    HH:MM:SS", or epoch seconds. ValueError with a short reason otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"not a timestamp: {value!r}")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"timestamp out of range: {value!r}") from exc
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def parse_count(value: object) -> int:
    """A non-negative event count (int, integral float or digit string)."""
    if isinstance(value, bool):
        raise ValueError(f"not a count: {value!r}")
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and value.is_integer():
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    else:
        raise ValueError(f"not a count: {str(value)[:20]!r}")
    if count < 0:
        raise ValueError(f"negative count: {count}")
    return count


def dense_series(counts: Iterable[MinuteCount], end: datetime, minutes: int) -> list[MinuteCount]:
    """Exactly `minutes` buckets ending at `end`'s minute, oldest first.

    Minutes with no row get zero counts, duplicate minutes are added up, minutes outside
    the span are dropped, so the result is bounded whatever the server sent.
    """
    last = floor_minute(end)
    first = last - (minutes - 1) * MINUTE
    merged: dict[datetime, tuple[int, int]] = {}
    for count in counts:
        minute = floor_minute(count.minute)
        if first <= minute <= last:
            completed, failed = merged.get(minute, (0, 0))
            merged[minute] = (completed + count.completed, failed + count.failed)
    series = []
    for index in range(minutes):
        minute = first + index * MINUTE
        completed, failed = merged.get(minute, (0, 0))
        series.append(MinuteCount(minute, completed, failed))
    return series


def split_future(counts: Iterable[MinuteCount],
                 latest: datetime) -> tuple[list[MinuteCount], int]:
    """The rows dated at or before `latest` (now plus the clock-skew allowance), and how
    many were dated after it: rows from the future, never trusted to move the window."""
    kept: list[MinuteCount] = []
    future = 0
    for count in counts:
        if count.minute > latest:
            future += 1
        else:
            kept.append(count)
    return kept, future


def totals(series: Iterable[MinuteCount]) -> Totals:
    completed = failed = 0
    for count in series:
        completed += count.completed
        failed += count.failed
    return Totals(completed, failed)


def before_after(series: Sequence[MinuteCount], deploy_at: datetime | None,
                 max_minutes: int) -> BeforeAfter | None:
    """Compare the minutes from the deploy's minute to the newest one against as many
    minutes before it. None when there is no deploy, it is in the future, or it is more
    than `max_minutes` old or too old for the series to hold the minutes before it."""
    if deploy_at is None or not series:
        return None
    deploy_minute = floor_minute(deploy_at)
    newest = series[-1].minute
    span = int((newest - deploy_minute) / MINUTE) + 1
    if span < 1 or span > max_minutes:
        return None
    if deploy_minute - span * MINUTE < series[0].minute:
        return None
    before = [c for c in series if deploy_minute - span * MINUTE <= c.minute < deploy_minute]
    after = [c for c in series if c.minute >= deploy_minute]
    return BeforeAfter(minutes=span, before=totals(before), after=totals(after))


@dataclass(frozen=True, slots=True)
class ParsedRows:
    counts: list[MinuteCount]
    skipped: int  # rows that could not be read (bad time, bad count, wrong length)


_COLUMNS = ("minute", "completed", "failed")


def parse_query_rows(payload: object, max_rows: int) -> ParsedRows:
    """The per-minute rows of a HogQL answer, tolerantly.

    Columns are found by name when `columns` names them, else by position. Unreadable rows
    are skipped and counted; ValueError (one line) when the answer has no `results` list or
    none of its rows can be read.
    """
    if not isinstance(payload, dict):
        raise ValueError(f"PostHog answered a JSON {type(payload).__name__}, not an object")
    results = payload.get("results")
    if not isinstance(results, list):
        raise ValueError("PostHog answer has no 'results' list")
    columns = payload.get("columns")
    if isinstance(columns, list) and all(name in columns for name in _COLUMNS):
        positions = [columns.index(name) for name in _COLUMNS]
    else:
        positions = [0, 1, 2]
    counts: list[MinuteCount] = []
    skipped = 0
    first_problem = ""
    for row in results[:max_rows]:
        try:
            if not isinstance(row, list | tuple) or len(row) <= max(positions):
                raise ValueError("row is not a list of three values")
            minute = floor_minute(parse_timestamp(row[positions[0]]))
            counts.append(MinuteCount(minute, parse_count(row[positions[1]]),
                                      parse_count(row[positions[2]])))
        except ValueError as exc:
            skipped += 1
            first_problem = first_problem or str(exc)
    if results and not counts:
        raise ValueError(f"none of the {len(results)} rows PostHog sent could be read "
                         f"({first_problem})")
    return ParsedRows(counts, skipped)


def whole_minutes(series: Sequence[MinuteCount], now: datetime) -> int:
    """How many of the oldest minutes of `series` (oldest first) are over at `now`; the
    rest are still filling (or, from a clock a little ahead, not begun)."""
    whole = 0
    for count in series:
        if count.minute + MINUTE > now:
            break
        whole += 1
    return whole


def window_minutes(window_s: float) -> int:
    """The window in whole minutes (at least one)."""
    return max(1, math.ceil(window_s / 60 - 1e-9))


def format_ratio(ratio: float) -> str:
    """A failure ratio as every screen shows it: 0.074 → "7.4%", 0.05 → "5%"."""
    return percent(ratio, RATIO_DECIMALS)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the series says against the thresholds: status, one-line summary, numbers."""

    status: Status
    summary: str
    metrics: dict[str, float | int | None]
    details: dict[str, Any]
    label: str | None = None  # what is wrong, in a few words ("failures > 5%"), or None


RECOVERY_MINUTES = 3  # this many newest whole minutes back under the warn line: recovering


@dataclass(frozen=True, slots=True)
class Recovery:
    """The window is over a threshold, but its newest whole minutes are all back under the
    warn line: how they look, and when the window, at their pace, is no longer over it
    ("≤ 5%": the verdict's own "> 5%", no longer true)."""

    minutes: int
    recent: Totals
    threshold: float
    clears_in_s: float

    @property
    def wait_minutes(self) -> int:
        """The wait in whole minutes, rounded up: "~9m" is never sooner than it will be."""
        return max(1, math.ceil(self.clears_in_s / 60 - 1e-9))

    def phrase(self, span: str) -> str:
        """"recovering: last 3m at 0.8%; 15m window ≤ 5% in ~9m"."""
        return (f"recovering: last {self.minutes}m at "
                f"{format_ratio(self.recent.ratio or 0.0)}; {span} window ≤ "
                f"{threshold_percent(self.threshold)} in ~{self.wait_minutes}m")

    def as_detail(self) -> dict[str, Any]:
        return {"minutes": self.minutes, "ratio": self.recent.ratio,
                "requests": self.recent.requests, "threshold": self.threshold,
                "clears_in_s": round(self.clears_in_s, 1), "clears_in_m": self.wait_minutes}


def recovery(whole: Sequence[MinuteCount], settings: PosthogProbeConfig, threshold: float,
             now: datetime) -> Recovery | None:
    """`whole` is the whole minutes, oldest first; the window (their newest `settings.window`)
    is over `threshold`. Recovering when each of the newest RECOVERY_MINUTES had requests
    and was under the warn line (as shown), and together they hold at least `min_requests`
    (as much evidence as a verdict needs). The wait assumes the coming minutes look like
    them."""
    minutes = window_minutes(settings.window)
    take = min(RECOVERY_MINUTES, minutes)
    recent = list(whole[-take:])
    if len(recent) < take or any(
            m.requests == 0 or reaches(m.failed / m.requests, settings.ratio_warn,
                                       RATIO_DECIMALS) for m in recent):
        return None
    pace = totals(recent)
    if pace.requests < max(1, settings.min_requests):
        return None
    window = list(whole[-minutes:])
    steps = minutes
    for step in range(1, minutes + 1):
        kept = totals(window[step:])
        completed = kept.completed + step * pace.completed / take
        failed = kept.failed + step * pace.failed / take
        if not exceeds(failed / (completed + failed), threshold, RATIO_DECIMALS):
            steps = step
            break
    # The window moves on as each coming minute ends: the first at the end of the newest
    # whole minute plus one.
    next_end = whole[-1].minute + 2 * MINUTE
    clears_in = (next_end + (steps - 1) * MINUTE - now).total_seconds()
    return Recovery(take, pace, threshold, max(0.0, clears_in))


def evaluate(series: Sequence[MinuteCount], settings: PosthogProbeConfig,
             deploy_at: datetime | None, now: datetime) -> Verdict:
    """The window is the newest `settings.window` of the series' whole minutes (the series
    holds twice that); the minutes still filling at `now` are never counted.

    Too few requests is inconclusive (unknown), never a reassuring 0%. Over a threshold,
    `label` says which; "recovering" is said (the verdict kept) when the newest minutes are
    back under the warn line, with the wait for the window to follow them.
    """
    minutes = window_minutes(settings.window)
    done = whole_minutes(series, now)
    whole = series[:done]
    window = totals(whole[-minutes:])
    span = format_duration(minutes * 60)
    compare = before_after(whole, deploy_at, max_minutes=minutes)
    ratio = window.ratio
    label: str | None = None
    recovering: Recovery | None = None
    if ratio is None or window.requests < settings.min_requests:
        ratio = None
        status = Status.UNKNOWN
        label = "inconclusive"
        summary = (f"inconclusive: {window.requests} requests in {span} "
                   f"(fewer than {max(1, settings.min_requests)})")
    else:
        counts = f"{window.failed}/{window.requests}"
        shown = format_ratio(ratio)
        if exceeds(ratio, settings.ratio_crit, RATIO_DECIMALS):
            status, threshold = Status.UNAVAILABLE, settings.ratio_crit
        elif exceeds(ratio, settings.ratio_warn, RATIO_DECIMALS):
            status, threshold = Status.DEGRADED, settings.ratio_warn
        else:
            status, threshold = Status.HEALTHY, None
        if threshold is None:
            summary = f"failure ratio {shown} · {counts} failed ({span})"
        else:
            line = threshold_percent(threshold)
            label = f"failures > {line}"
            recovering = recovery(whole, settings, threshold, now)
            said = f" · {recovering.phrase(span)}" if recovering else ""
            summary = (f"failure ratio {shown} > {line}{said} · "
                       f"{counts} requests failed ({span})")
    ratio_before = compare.before.ratio if compare else None
    ratio_after = compare.after.ratio if compare else None
    if ratio_before is not None and ratio_after is not None:
        summary += (f" · after deploy {format_ratio(ratio_after)} vs "
                    f"{format_ratio(ratio_before)} before")
    metrics: dict[str, float | int | None] = {
        "ratio": ratio, "completed": window.completed, "failed": window.failed,
        "requests": window.requests, "ratio_before": ratio_before, "ratio_after": ratio_after,
        "delta": compare.delta if compare else None,
    }
    details: dict[str, Any] = {
        "series": [count.as_detail(filling=index >= done)
                   for index, count in enumerate(series)],
        "deploy_at": deploy_at.isoformat() if deploy_at else None,
        "compare_minutes": compare.minutes if compare else None,
        "window_s": settings.window,
        "ratio_warn": settings.ratio_warn,
        "ratio_crit": settings.ratio_crit,
        "min_requests": settings.min_requests,
        "recovering": recovering.as_detail() if recovering else None,
    }
    return Verdict(status, summary, metrics, details, label)
