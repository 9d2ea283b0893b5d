"""The failure-ratio chart: one column per minute of PostHog's series, newest on the right.

Bars above the critical threshold are red *and* drawn with another glyph (▓), minutes
without requests show `·` (no data is not 0%), the threshold has a label. The minute still
filling is not counted by the probe and not drawn as a ratio: `…` until it holds
`min_requests` requests, then a dim hollow bar (░); it never sets the axis scale and never
takes a threshold's colour, and the axis says `filling` under it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from rich.style import Style
from rich.text import Text

from ppcockpit.units import RATIO_DECIMALS, percent, threshold_percent

BLOCKS = " ▁▂▃▄▅▆▇█"
CRIT_GLYPH = "▓"
NO_DATA_GLYPH = "·"
FILLING_GLYPH = "░"  # the minute still filling, once it holds min_requests requests
FILLING_FEW_GLYPH = "…"  # the minute still filling, with too few requests to draw a ratio
THRESHOLD_GLYPH = "┈"
DEFAULT_MIN_REQUESTS = 20  # the probe's default, when a reading does not say
NATURAL_CHART_ROWS = 3  # when the panel sizes itself (height: auto)
MAX_CHART_ROWS = 16
MAX_COLUMN_WIDTH = 3


class Minute(msgspec.Struct, frozen=True):
    requests: int
    failed: int
    filling: bool = False  # not over yet: the probe does not count it

    @property
    def ratio(self) -> float | None:
        return self.failed / self.requests if self.requests else None


def pct(ratio: float) -> str:
    """0.074 → "7.4%", 0.05 → "5%": the failure ratio as the probe's summary shows it."""
    return percent(ratio, RATIO_DECIMALS)


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def minute_of(value: object) -> datetime | None:
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


class Series(msgspec.Struct, frozen=True):
    minutes: list[Minute]
    deploy: int | None  # the index of the deploy's minute, when the series holds it


def series_of(details: dict[str, Any]) -> Series:
    """The reading's series, tolerantly: an unreadable minute counts as no data."""
    raw = details.get("series")
    deploy_minute = minute_of(details.get("deploy_at"))
    minutes: list[Minute] = []
    deploy: int | None = None
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        item = item if isinstance(item, dict) else {}
        completed = max(0.0, number(item.get("completed")) or 0)
        failed = max(0.0, number(item.get("failed")) or 0)
        minutes.append(Minute(int(completed + failed), int(failed),
                              filling=item.get("filling") is True))
        if deploy_minute is not None and minute_of(item.get("minute")) == deploy_minute:
            deploy = index
    return Series(minutes, deploy)


class Chart:
    """One column per minute (newest on the right), the critical threshold labelled."""

    def __init__(self, style: Callable[[str], Style], series: Series,
                 details: dict[str, Any], width: int) -> None:
        """`style` gives the rich Style of a `failure-ratio--<name>` component class."""
        minutes = series.minutes
        self.style = style
        self.warn = number(details.get("ratio_warn")) or 0.02
        self.crit = number(details.get("ratio_crit")) or 0.05
        least = number(details.get("min_requests"))
        self.min_requests = DEFAULT_MIN_REQUESTS if least is None else max(1.0, least)
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
        # The minute still filling never sets the scale: a handful of requests is no spike.
        ratios = [m.ratio for m in self.minutes if m.ratio is not None and not m.filling]
        self.top = max([self.crit * 1.6, 0.01, *ratios])
        self.filling = bool(self.minutes) and self.minutes[-1].filling

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
        if minute.filling:
            if ratio is None or minute.requests < self.min_requests:
                return FILLING_FEW_GLYPH if row == 0 else line
            return FILLING_GLYPH if row < max(1, math.ceil(ratio / self.top * rows)) else line
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
        if minute.filling:
            return self.style("filling")
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
        if self.filling:  # the arrow points at the newest column: that minute is not over
            room = self.columns - len(left) - 1
            right = next((label for label in ("filling ↑", "↑") if len(label) <= room), "↑")
        gap = max(1, self.columns - len(left) - len(right))
        return Text(f"{left}{' ' * gap}{right}", style=self.style("muted"), no_wrap=True)
