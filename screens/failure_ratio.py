"""The failure-ratio panel: PostHog's per-minute failure ratio against the team's threshold.

Draws only from the `posthog` Reading it is given. Bars above the critical threshold are
red *and* drawn with another glyph (▓), minutes without requests show `·` (no data is not
0%), the threshold has a label, and the deploy minute is marked `▼ deploy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from ppcockpit.durations import format_duration
from ppcockpit.model import Reading, Status
from ppcockpit.units import RATIO_DECIMALS, percent, threshold_percent
from screens.format import STATUS_COMPONENT_CLASSES, status_styles, status_text

BLOCKS = " ▁▂▃▄▅▆▇█"
CRIT_GLYPH = "▓"
NO_DATA_GLYPH = "·"
THRESHOLD_GLYPH = "┈"
NATURAL_CHART_ROWS = 3  # when the panel sizes itself (height: auto)
MAX_CHART_ROWS = 16
MAX_COLUMN_WIDTH = 3
SEPARATOR = " · "


@dataclass(frozen=True, slots=True)
class Minute:
    requests: int
    failed: int

    @property
    def ratio(self) -> float | None:
        return self.failed / self.requests if self.requests else None


def pct(ratio: float) -> str:
    """0.074 → "7.4%", 0.05 → "5%": the failure ratio as the probe's summary shows it."""
    return percent(ratio, RATIO_DECIMALS)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _minute_of(value: object) -> datetime | None:
    """An ISO-8601 time as an aware datetime floored to the minute (UTC when no zone)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Series:
    minutes: list[Minute]
    deploy: int | None  # the index of the deploy's minute, when the series holds it


def _series(details: dict[str, Any]) -> Series:
    """The reading's series, tolerantly: an unreadable minute counts as no data."""
    raw = details.get("series")
    deploy_minute = _minute_of(details.get("deploy_at"))
    minutes: list[Minute] = []
    deploy: int | None = None
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        item = item if isinstance(item, dict) else {}
        completed = max(0.0, _number(item.get("completed")) or 0)
        failed = max(0.0, _number(item.get("failed")) or 0)
        minutes.append(Minute(int(completed + failed), int(failed)))
        if deploy_minute is not None and _minute_of(item.get("minute")) == deploy_minute:
            deploy = index
    return Series(minutes, deploy)


class FailureRatioPanel(Widget, can_focus=True):
    """Current ratio, counts, before/after the deploy and a per-minute ratio chart."""

    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES | {
        "failure-ratio--ok", "failure-ratio--warn", "failure-ratio--crit",
        "failure-ratio--nodata", "failure-ratio--threshold", "failure-ratio--deploy",
        "failure-ratio--muted", "failure-ratio--value",
    }
    DEFAULT_CSS = """
    FailureRatioPanel {
        height: auto;
        border: round $secondary 50%;
        padding: 0 1;
    }
    FailureRatioPanel > .status--healthy { color: $success; }
    FailureRatioPanel > .status--degraded { color: $warning; }
    FailureRatioPanel > .status--unavailable { color: $error; text-style: bold; }
    FailureRatioPanel > .status--unknown { color: $quiet; text-style: italic; }
    FailureRatioPanel > .status--skipped { color: $quiet; }
    FailureRatioPanel > .failure-ratio--ok { color: $success; }
    FailureRatioPanel > .failure-ratio--warn { color: $warning; }
    FailureRatioPanel > .failure-ratio--crit { color: $error; text-style: bold; }
    FailureRatioPanel > .failure-ratio--nodata { color: $quiet; }
    FailureRatioPanel > .failure-ratio--threshold { color: $error 70%; }
    FailureRatioPanel > .failure-ratio--deploy { color: $accent; text-style: bold; }
    FailureRatioPanel > .failure-ratio--muted { color: $quiet; }
    FailureRatioPanel > .failure-ratio--value { text-style: bold; }
    """

    reading: reactive[Reading | None] = reactive(None, layout=True)

    def on_mount(self) -> None:
        self.border_title = "Failure ratio (PostHog)"

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._lines(width, None)))

    def render(self) -> Text:
        size = self.content_size
        return Text("\n").join(self._lines(size.width, size.height))

    # -- layout -------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"failure-ratio--{name}", partial=True)

    def _lines(self, width: int, height: int | None) -> list[Text]:
        """The panel's lines for `width` columns; `height` None means "as tall as it likes"."""
        width = max(10, width)
        reading = self.reading
        if reading is None:
            return [Text("… waiting for first reading", style=self._style("muted"))]
        if reading.status is Status.SKIPPED:
            why = Text(reading.summary, style=self._style("muted"))
            return _pack([status_text(Status.SKIPPED, status_styles(self)), why], width)
        details = reading.details
        series = _series(details)
        info = _pack(self._info_parts(reading, details, series), width)
        if not series.minutes:
            return info[:height] if height else info
        if height and len(info) >= height:  # keep one row for the bars
            info = info[:max(1, height - 1)]
        chart = _Chart(self, series, details, width)
        marker = chart.deploy_row()
        room = (height or len(info) + NATURAL_CHART_ROWS + 2) - len(info)
        # Too short for everything: the axis goes first, then the deploy marker.
        with_axis = room - (marker is not None) >= 2
        if not with_axis and room < 2:
            marker = None
        bar_rows = max(1, room - (marker is not None) - with_axis)
        lines = info + ([marker] if marker is not None else [])
        lines += chart.bars(min(bar_rows, MAX_CHART_ROWS))
        if with_axis:
            lines.append(chart.axis_row())
        spare = bar_rows - MAX_CHART_ROWS - 1  # a tall panel: the facts behind the numbers
        if spare > 0:
            lines += [Text(""), *self._facts(reading, details, width)[:spare]]
        return lines[:height] if height else lines

    def _facts(self, reading: Reading, details: dict[str, Any], width: int) -> list[Text]:
        metrics, muted = reading.metrics, self._style("muted")
        warn, crit = _number(details.get("ratio_warn")), _number(details.get("ratio_crit"))
        least = _number(details.get("min_requests"))
        limits = [f"warn {threshold_percent(warn)}" if warn is not None else "",
                  f"crit {threshold_percent(crit)}" if crit is not None else "",
                  f"at least {least:.0f} requests" if least is not None else ""]
        facts = ["thresholds: " + " · ".join(limit for limit in limits if limit)]
        completed, failed = _number(metrics.get("completed")), _number(metrics.get("failed"))
        if completed is not None and failed is not None:
            facts.append(f"window: {completed:.0f} completed, {failed:.0f} failed")
        compared = _number(details.get("compare_minutes"))
        if compared:
            facts.append(f"before/after: {compared:.0f}m since the deploy against the "
                         f"{compared:.0f}m before it")
        deploy = _minute_of(details.get("deploy_at"))
        if deploy is not None:
            facts.append(f"deploy at {deploy.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        age = _number(metrics.get("data_age_s"))
        facts.append("data: " + (f"{format_duration(age)} old, from the cache"
                                 if details.get("stale") is True and age is not None
                                 else "fresh"))
        facts.append(f"source: {reading.target}")
        return [_pack([Text(fact, style=muted)], width)[0] for fact in facts]

    def _info_parts(self, reading: Reading, details: dict[str, Any],
                    series: Series) -> list[Text]:
        metrics = reading.metrics
        has_series = bool(series.minutes)
        head = status_text(reading.status, status_styles(self))
        ratio = _number(metrics.get("ratio"))
        requests = _number(metrics.get("requests"))
        failed = _number(metrics.get("failed"))
        window = _number(details.get("window_s"))
        span = f" ({format_duration(window)})" if window else ""
        parts: list[Text] = []
        if ratio is not None:
            head.append("  ")
            head.append(pct(ratio), style=self._style("value"))
            parts.append(head)
            if requests is not None and failed is not None:
                parts.append(Text(f"{failed:.0f}/{requests:.0f} failed{span}"))
        elif has_series and requests is not None:
            parts.append(status_text(reading.status, status_styles(self),
                                      label=f"inconclusive: {requests:.0f} requests"))
            need = _number(details.get("min_requests"))
            if need:
                parts.append(Text(f"need {need:.0f}{span}", style=self._style("muted")))
        else:
            parts.append(head)
        parts.extend(self._compare_parts(metrics))
        stale = details.get("stale") is True
        if stale:
            age = _number(metrics.get("data_age_s")) or 0.0
            parts.append(Text(f"stale {format_duration(age)}", style=self._style("warn")))
            retry = _number(details.get("retry_after_s"))
            if retry is not None:
                parts.append(Text(f"rate limited, retry in {format_duration(retry)}",
                                  style=self._style("muted")))
        if reading.error or (not has_series and ratio is None):
            parts.append(Text(reading.error or reading.summary, style=self._style("muted")))
        if has_series and details.get("deploy_at") and series.deploy is None:
            parts.append(Text(_deploy_time(details.get("deploy_at")), style=self._style("deploy")))
        return parts

    def _compare_parts(self, metrics: dict[str, Any]) -> list[Text]:
        before = _number(metrics.get("ratio_before"))
        after = _number(metrics.get("ratio_after"))
        if before is None or after is None:
            return []
        delta = after - before
        style = self._style("crit" if delta > 0.005 else "muted")
        return [Text(f"after deploy {pct(after)} vs {pct(before)} before"),
                Text(f"Δ {delta * 100:+.1f} pts", style=style)]


def _deploy_time(value: object) -> str:
    at = _minute_of(value)
    if at is None:
        return "deploy marked (off the chart)"
    return f"deploy {at.astimezone(UTC):%H:%M} UTC (off the chart)"


def _pack(parts: list[Text], width: int) -> list[Text]:
    """Parts joined by " · " on as few lines as fit; an overlong part is cut with an ellipsis."""
    lines: list[Text] = []
    current: Text | None = None
    for part in parts:
        if current is not None and current.cell_len + len(SEPARATOR) + part.cell_len <= width:
            current.append(SEPARATOR)
            current.append_text(part)
            continue
        if current is not None:
            lines.append(current)
        current = part.copy()
        current.truncate(width, overflow="ellipsis")
    if current is not None:
        lines.append(current)
    return lines


class _Chart:
    """One column per minute (newest on the right), the critical threshold labelled."""

    def __init__(self, panel: FailureRatioPanel, series: Series,
                 details: dict[str, Any], width: int) -> None:
        minutes = series.minutes
        self.style = panel._style
        self.warn = _number(details.get("ratio_warn")) or 0.02
        self.crit = _number(details.get("ratio_crit")) or 0.05
        self.crit_label = f" crit {threshold_percent(self.crit)}"
        self.gutter = len(self.crit_label)
        room = max(1, width - self.gutter)
        self.offset = max(0, len(minutes) - room)
        self.minutes = minutes[self.offset:]
        self.columns = min(room, len(self.minutes) * MAX_COLUMN_WIDTH)
        count = len(self.minutes)
        # Spread the columns over the room: each minute gets one to MAX_COLUMN_WIDTH cells.
        self.starts = [index * self.columns // count for index in range(count + 1)]
        self.deploy = None if series.deploy is None else series.deploy - self.offset
        ratios = [m.ratio for m in self.minutes if m.ratio is not None]
        self.top = max([self.crit * 1.6, 0.01, *ratios])

    def _bar_style(self, ratio: float) -> Style:
        if ratio > self.crit:
            return self.style("crit")
        return self.style("warn" if ratio > self.warn else "ok")

    def bars(self, rows: int) -> list[Text]:
        crit_row = min(rows - 1, int(self.crit / self.top * rows))
        lines: list[Text] = []
        for row in range(rows - 1, -1, -1):
            line = Text(no_wrap=True)
            for index, minute in enumerate(self.minutes):
                cells = self.starts[index + 1] - self.starts[index]
                line.append(self._cell(minute, row, rows, crit_row) * cells,
                            style=self._cell_style(minute, row, rows, crit_row))
            if row == rows - 1 and row != crit_row:
                line.append(f" {pct(self.top)}", style=self.style("muted"))
            elif row == crit_row:
                line.append(self.crit_label, style=self.style("threshold"))
            lines.append(line)
        return lines

    def _cell(self, minute: Minute, row: int, rows: int, crit_row: int) -> str:
        ratio = minute.ratio
        line = THRESHOLD_GLYPH if row == crit_row and rows > 1 else " "
        if ratio is None:
            return NO_DATA_GLYPH if row == 0 else line
        if ratio > self.crit:  # whole cells, another glyph: not colour alone
            return CRIT_GLYPH if row < math.ceil(ratio / self.top * rows) else line
        eighths = max(1, round(ratio / self.top * rows * 8))
        filled = min(8, max(0, eighths - row * 8))
        return BLOCKS[filled] if filled else line

    def _cell_style(self, minute: Minute, row: int, rows: int, crit_row: int) -> Style:
        ratio = minute.ratio
        glyph = self._cell(minute, row, rows, crit_row)
        if glyph == THRESHOLD_GLYPH:
            return self.style("threshold")
        if ratio is None:
            return self.style("nodata")
        return self._bar_style(ratio)

    def deploy_row(self) -> Text | None:
        if self.deploy is None or not 0 <= self.deploy < len(self.minutes):
            return None
        at = self.starts[self.deploy]
        label = "▼ deploy"
        if at + len(label) <= self.columns + self.gutter:
            text = " " * at + label
        else:  # no room on the right: end the label at the column
            text = " " * max(0, at - len(label) + 1) + "deploy ▼"
        return Text(text, style=self.style("deploy"), no_wrap=True)

    def axis_row(self) -> Text:
        left = f"-{len(self.minutes)}m"
        right = "now"
        gap = max(1, self.columns - len(left) - len(right))
        return Text(f"{left}{' ' * gap}{right}", style=self.style("muted"), no_wrap=True)
