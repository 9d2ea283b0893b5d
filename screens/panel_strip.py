"""The strip of panels a narrow screen shows one at a time: every panel by name, with its
state in a glyph and a word or a number, so what is out of sight is never out of mind.

` Checklist 3/26 │ Health ✖ │ Redis ✔ 41% │ Ratio ✖ 22.7% │ Probes ▲2 ✖1 │ Logs 12/s `
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ppcockpit.logs import LogBuffer
from ppcockpit.model import Snapshot, Status
from ppcockpit.units import RATIO_DECIMALS, percent
from screens.checklist import ChecklistContent
from screens.format import STATUS_COMPONENT_CLASSES, status_styles

PANELS = (("checklist", "Steps"), ("health-grid", "Health"), ("redis-panel", "Redis"),
          ("failure-ratio", "Ratio"), ("probes-table", "Probes"), ("log-tail", "Logs"))


class PanelStrip(Widget):
    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES | {"strip--current", "strip--muted"}

    current: reactive[str] = reactive(PANELS[0][0])

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._parts: dict[str, list[tuple[str, Status | None]]] = {}

    def show(self, snapshot: Snapshot, checklist: ChecklistContent | None,
             logs: LogBuffer) -> None:
        parts = {
            "checklist": _checklist(checklist),
            "health-grid": _status(snapshot, "health"),
            "redis-panel": _metric(snapshot, "redis", "memory_ratio", 0),
            "failure-ratio": _metric(snapshot, "posthog", "ratio", RATIO_DECIMALS),
            "probes-table": _probes(snapshot),
            "log-tail": [(f"{logs.lines_per_second():.0f}/s", None)]
            + ([(f"{logs.errors_per_minute()} err/min", Status.UNAVAILABLE)]
               if logs.errors_per_minute() else []),
        }
        if parts != self._parts:
            self._parts = parts
            self.refresh()

    def render(self) -> Text:
        styles = status_styles(self)
        current = self.get_component_rich_style("strip--current", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, (panel_id, name) in enumerate(PANELS):
            if index:
                text.append("│", style=self.get_component_rich_style("strip--muted",
                                                                     partial=True))
            piece = Text(f" {name}")
            for word, status in self._parts.get(panel_id, []):
                piece.append(" ")
                piece.append(word, style=styles.get(status) if status else "")
            piece.append(" ")
            if panel_id == self.current:
                piece.stylize(current)
            text.append_text(piece)
        return text


def _checklist(content: ChecklistContent | None) -> list[tuple[str, Status | None]]:
    if content is None or content.view is None:
        return []
    steps = content.view.steps
    done = sum(step.state.complete for step in steps)
    failing = sum(step.state.value in ("failing", "interrupted") for step in steps)
    parts: list[tuple[str, Status | None]] = [(f"{done}/{len(steps)}", None)]
    if failing:
        parts.append((f"✖{failing}", Status.UNAVAILABLE))
    return parts


def _status(snapshot: Snapshot, probe: str) -> list[tuple[str, Status | None]]:
    reading = snapshot.readings.get(probe)
    if reading is None:
        return [("…", Status.UNKNOWN)]
    return [(reading.status.glyph, reading.status)]


def _metric(snapshot: Snapshot, probe: str, metric: str,
            decimals: int) -> list[tuple[str, Status | None]]:
    reading = snapshot.readings.get(probe)
    if reading is None:
        return [("…", Status.UNKNOWN)]
    value = reading.metrics.get(metric)
    shown = f"{reading.status.glyph} {percent(value, decimals)}" \
        if isinstance(value, int | float) else reading.status.glyph
    return [(shown, reading.status)]


def _probes(snapshot: Snapshot) -> list[tuple[str, Status | None]]:
    counts: dict[Status, int] = {}
    for reading in snapshot.readings.values():
        counts[reading.status] = counts.get(reading.status, 0) + 1
    parts = [(f"{status.glyph}{counts[status]}", status)
             for status in (Status.UNAVAILABLE, Status.UNKNOWN, Status.DEGRADED)
             if counts.get(status)]
    return parts or [(f"{Status.HEALTHY.glyph}{counts.get(Status.HEALTHY, 0)}",
                      Status.HEALTHY)]
