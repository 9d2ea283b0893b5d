"""Small text helpers shared by the widgets: statuses, ages, latencies.

Shares and sizes are `ppcockpit.units`' (one formatter for screens, summaries and `check`).
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content

from ppcockpit.durations import format_duration
from ppcockpit.model import Status


def status_text(status: Status, styles: dict[Status, object], label: str | None = None) -> Text:
    """Glyph and word, coloured: the glyph and word carry the meaning, the colour helps."""
    return Text(f"{status.glyph} {label or status.label}", style=styles.get(status) or "")


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return format_duration(seconds)


def latency(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms >= 10_000:
        return f"{ms / 1000:.0f}s"
    if ms >= 1000:
        return f"{ms / 1000:.1f}s"
    return f"{ms:.0f}ms"


STATUS_COMPONENT_CLASSES = frozenset(f"status--{status.value}" for status in Status)


def status_styles(widget) -> dict[Status, object]:  # type: ignore[no-untyped-def]
    """The theme's style for each status, from the widget's `status--*` component classes."""
    return {s: widget.get_component_rich_style(f"status--{s.value}", partial=True)
            for s in Status}


def retitle(widget, title: str) -> None:  # type: ignore[no-untyped-def]
    """Set a panel's border title from text that may come from outside (a target, a host):
    taken literally, never as markup. Assigning repaints the panel even when unchanged."""
    literal = Content(title)
    if widget.border_title != literal.markup:
        widget.border_title = literal
