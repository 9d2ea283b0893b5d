"""Small text helpers shared by the widgets: statuses, ages, sizes."""

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


def size(num_bytes: float | None) -> str:
    if num_bytes is None:
        return "-"
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.0f}%"


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
