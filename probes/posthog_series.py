"""Per-minute success/failure counts, the failure ratio over them and its verdict.

Pure: no I/O, no clock. The probe (probes/posthog.py) feeds it what PostHog answered.
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
from ppcockpit.units import RATIO_DECIMALS, exceeds, percent, threshold_percent

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class MinuteCount:
    """The two event counts of one minute (`minute` is UTC, floored to the minute)."""

    minute: datetime
    completed: int
    failed: int

    def as_detail(self) -> dict[str, object]:
        return {"minute": self.minute.isoformat(), "completed": self.completed,
                "failed": self.failed}


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


def evaluate(series: Sequence[MinuteCount], settings: PosthogProbeConfig,
             deploy_at: datetime | None) -> Verdict:
    """The window is the newest `settings.window` of the series (which holds twice that).

    Too few requests is inconclusive (unknown), never a reassuring 0%.
    """
    minutes = window_minutes(settings.window)
    window = totals(series[-minutes:])
    span = format_duration(minutes * 60)
    compare = before_after(series, deploy_at, max_minutes=minutes)
    ratio = window.ratio
    if ratio is None or window.requests < settings.min_requests:
        ratio = None
        status = Status.UNKNOWN
        summary = (f"inconclusive: {window.requests} requests in {span} "
                   f"(fewer than {max(1, settings.min_requests)})")
    else:
        counts = f"{window.failed}/{window.requests}"
        shown = format_ratio(ratio)
        if exceeds(ratio, settings.ratio_crit, RATIO_DECIMALS):
            status = Status.UNAVAILABLE
            summary = (f"failure ratio {shown} > {threshold_percent(settings.ratio_crit)} · "
                       f"{counts} requests failed ({span})")
        elif exceeds(ratio, settings.ratio_warn, RATIO_DECIMALS):
            status = Status.DEGRADED
            summary = (f"failure ratio {shown} > {threshold_percent(settings.ratio_warn)} · "
                       f"{counts} requests failed ({span})")
        else:
            status = Status.HEALTHY
            summary = f"failure ratio {shown} · {counts} failed ({span})"
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
        "series": [count.as_detail() for count in series],
        "deploy_at": deploy_at.isoformat() if deploy_at else None,
        "compare_minutes": compare.minutes if compare else None,
        "window_s": settings.window,
        "ratio_warn": settings.ratio_warn,
        "ratio_crit": settings.ratio_crit,
        "min_requests": settings.min_requests,
    }
    return Verdict(status, summary, metrics, details)
