"""The Redis panel: memory against its thresholds, clients, throughput, a memory sparkline."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget

from ppcockpit.model import Reading, Snapshot, Status
from ppcockpit.units import MEMORY_DECIMALS, percent, reaches, size
from screens.format import (
    STATUS_COMPONENT_CLASSES,
    retitle,
    status_styles,
    status_text,
)
from screens.text_block import TextBlock


def memory_zone(ratio: float, warn: float, crit: float) -> str:
    """The component class for used memory at `ratio` of maxmemory, judged as the probe
    judges it (on the percent shown)."""
    if reaches(ratio, crit, MEMORY_DECIMALS):
        return "bar--crit"
    return "bar--warn" if reaches(ratio, warn, MEMORY_DECIMALS) else "bar--ok"


def memory_percent(ratio: float) -> str:
    """The share of maxmemory in use, exactly as the probe's summary and `check` show it."""
    return percent(ratio, MEMORY_DECIMALS)


class MemoryBar(Widget):
    """`████████░░░░│░░│░` — used memory, with ticks at the warn and crit thresholds."""

    COMPONENT_CLASSES = {"bar--ok", "bar--warn", "bar--crit", "bar--empty", "bar--tick"}
    DEFAULT_CSS = "MemoryBar { height: 1; }"

    ratio: reactive[float | None] = reactive(None)
    warn: reactive[float] = reactive(0.75)
    crit: reactive[float] = reactive(0.90)

    def render(self) -> Text:
        width = max(10, self.size.width - 6)
        ratio = self.ratio
        text = Text(no_wrap=True)
        filled = 0 if ratio is None else round(min(1.0, max(0.0, ratio)) * width)
        ticks = {min(width - 1, round(self.warn * width)), min(width - 1, round(self.crit * width))}
        zone = "bar--ok" if ratio is None else memory_zone(ratio, self.warn, self.crit)
        fill_style = self.get_component_rich_style(zone, partial=True)
        empty_style = self.get_component_rich_style("bar--empty", partial=True)
        tick_style = self.get_component_rich_style("bar--tick", partial=True)
        for cell in range(width):
            if cell < filled:
                text.append("█", style=fill_style)
            elif cell in ticks:
                text.append("│", style=tick_style)
            else:
                text.append("░", style=empty_style)
        text.append(f" {memory_percent(ratio):>4}" if ratio is not None else "   -")
        return text


class MemoryHistory(Widget):
    """Used memory over time, one column per reading, newest on the right, drawn against
    0–100% of maxmemory: a flat 41% stays a flat line at 41% (an auto-scaled sparkline turns
    a 0.1% wobble into cliffs, and a single sample into a full bar)."""

    BLOCKS = " ▁▂▃▄▅▆▇█"
    COMPONENT_CLASSES = {"bar--ok", "bar--warn", "bar--crit"}
    DEFAULT_CSS = "MemoryHistory { height: 1; }"

    samples: reactive[tuple[float, ...]] = reactive(())
    warn: reactive[float] = reactive(0.75)
    crit: reactive[float] = reactive(0.90)

    def render(self) -> Text:
        width, height = max(1, self.size.width), max(1, self.size.height)
        shown = self.samples[-width:]
        levels = [self._level(ratio, height) for ratio in shown]
        styles = [self.get_component_rich_style(memory_zone(ratio, self.warn, self.crit),
                                                partial=True) for ratio in shown]
        text = Text(no_wrap=True)
        for row in range(height):
            base = (height - 1 - row) * 8
            text.append(" " * (width - len(shown)))
            for level, style in zip(levels, styles, strict=True):
                text.append(self.BLOCKS[min(8, max(0, level - base))], style=style)
            if row < height - 1:
                text.append("\n")
        return text

    @staticmethod
    def _level(ratio: float, height: int) -> int:
        level = round(min(1.0, max(0.0, ratio)) * 8 * height)
        return max(level, 1) if ratio > 0 else 0  # any memory in use shows


class RedisPanel(Vertical, can_focus=True):
    """Everything the runbook's "inspect Redis monitoring" step asks for, in six lines."""

    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES

    def __init__(self, *, memory_warn: float = 0.75, memory_crit: float = 0.90,
                 **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.memory_warn = memory_warn
        self.memory_crit = memory_crit
        self._shown: tuple[Reading | None, str | None] | None = None

    def compose(self) -> ComposeResult:
        yield TextBlock(id="redis-status")
        yield MemoryBar(id="redis-memory")
        yield TextBlock(id="redis-numbers")
        yield MemoryHistory(id="redis-sparkline")

    def on_mount(self) -> None:
        self.border_title = "Redis"
        for widget in (self.query_one(MemoryBar), self.query_one(MemoryHistory)):
            widget.warn, widget.crit = self.memory_warn, self.memory_crit

    def show(self, snapshot: Snapshot) -> None:
        reading = snapshot.readings.get("redis")
        status_line = self.query_one("#redis-status", TextBlock)
        numbers = self.query_one("#redis-numbers", TextBlock)
        bar = self.query_one(MemoryBar)
        sparkline = self.query_one(MemoryHistory)
        freshness = snapshot.freshness_of("redis")
        stale = freshness.words if freshness is not None and freshness.stale else None
        if self._shown == (reading, stale):
            return  # nothing new since the last redraw
        self._shown = (reading, stale)
        if reading is None:
            status_line.show("… waiting for the first reading")
            return
        styles = status_styles(self)
        retitle(self, f"Redis · {reading.target}")
        head = status_text(reading.status, styles)
        if stale:
            head.append(f" ({stale})")
        ratio = reading.metrics.get("memory_ratio")
        if isinstance(ratio, int | float):
            head.append(f"  memory {memory_percent(ratio)}")
        elif reading.status is not Status.HEALTHY:
            head.append(f"  {reading.summary}")  # Text.append: outside text is never markup
        status_line.show(head)
        if reading.status is Status.SKIPPED:
            bar.display = sparkline.display = numbers.display = False
            return
        bar.display = sparkline.display = numbers.display = True
        bar.ratio = float(ratio) if isinstance(ratio, int | float) else None
        numbers.show(self._numbers(reading))
        signal = snapshot.signals.get("redis")
        if signal is not None:
            sparkline.samples = tuple(signal.samples.values())

    @staticmethod
    def _numbers(reading: Reading) -> str:
        """Short lines (≤ 34 columns) so the panel reads without wrapping at 80x24."""
        m = reading.metrics
        limit = m.get("maxmemory")
        limit_text = f"of {size(limit)}" if limit else "(no maxmemory set)"
        frag = m.get("mem_fragmentation_ratio")
        frag_text = f" · frag {frag:.2f}" if isinstance(frag, int | float) else ""
        lines = [
            f"used {size(m.get('used_memory'))} {limit_text}",
            f"rss {size(m.get('used_memory_rss'))}{frag_text}",
            f"clients {_count(m.get('connected_clients'))} · blocked "
            f"{_count(m.get('blocked_clients'))}",
            f"{_count(m.get('ops_per_sec'))} ops/s",
            f"evicted +{_count(m.get('evicted_keys_delta'))} since start",
            f"rejected +{_count(m.get('rejected_connections_delta'))} since start",
        ]
        if reading.error and reading.status is not Status.HEALTHY:
            lines.append(f"last error: {reading.error}")
        return "\n".join(lines)


def _count(value: object) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else "-"
