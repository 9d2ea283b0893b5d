"""The cockpit's main screen: header, the checklist, and the evidence beside it (health
grid, Redis, failure ratio, every probe)."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer

from ppcockpit.model import Snapshot
from screens.checklist import ChecklistContent, ChecklistPanel
from screens.failure_ratio import FailureRatioPanel
from screens.header import CockpitHeader
from screens.health_grid import HealthGrid
from screens.probes_table import ProbesTable
from screens.redis_panel import RedisPanel

WIDE_AT = 140  # columns from which the panels sit side by side


class DashboardScreen(Screen[None]):
    """Live evidence; every panel draws from the same Snapshot, so none can disagree."""

    BINDINGS = [
        Binding("tab", "app.focus_next", "Next panel", show=False),
        Binding("shift+tab", "app.focus_previous", "Previous panel", show=False),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
    ]

    # Vars, not repainting reactives: the panels redraw what changed, the screen does not.
    snapshot: var[Snapshot | None] = var(None, always_update=True)
    checklist: var[ChecklistContent | None] = var(None)

    def __init__(self, *, rehearsal: str | None = None, memory_warn: float = 0.75,
                 memory_crit: float = 0.90, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.rehearsal = rehearsal
        self.memory_warn = memory_warn
        self.memory_crit = memory_crit
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield CockpitHeader(rehearsal=self.rehearsal, clock=self.clock)
        # The layout class is right from the start: set after mount, it would restyle and
        # lay out every widget a second time before the first frame.
        wide = "wide" if self.app.size.width >= WIDE_AT else ""
        with VerticalScroll(id="panels", classes=wide, can_focus=False):
            yield ChecklistPanel(id="checklist", classes="panel")
            yield HealthGrid(id="health-grid", classes="panel")
            with Horizontal(id="evidence"):
                yield RedisPanel(id="redis-panel", classes="panel",
                                 memory_warn=self.memory_warn, memory_crit=self.memory_crit)
                yield FailureRatioPanel(id="failure-ratio", classes="panel")
            yield ProbesTable(id="probes-table", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        self._apply_width(self.size.width)
        self.query_one(ChecklistPanel).table.focus()  # the runbook is where work starts
        # What the App gave before the panels existed is drawn now, in the first frame.
        self._draw_snapshot(self.snapshot)
        self._draw_checklist(self.checklist)

    @on(Resize)
    def _resized(self, event: Resize) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.query_one("#panels").set_class(width >= WIDE_AT, "wide")

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if self.is_mounted:  # else on_mount draws it
            self._draw_snapshot(snapshot)

    def watch_checklist(self, content: ChecklistContent | None) -> None:
        if self.is_mounted:
            self._draw_checklist(content)

    def _draw_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None or not self.query(CockpitHeader):
            return  # being torn down on exit
        self.query_one(CockpitHeader).snapshot = snapshot
        self.query_one(HealthGrid).show(snapshot)
        self.query_one(RedisPanel).show(snapshot)
        self.query_one(FailureRatioPanel).reading = snapshot.readings.get("posthog")
        self.query_one(ProbesTable).show(snapshot)

    def _draw_checklist(self, content: ChecklistContent | None) -> None:
        if content is not None and self.query(ChecklistPanel):
            self.query_one(ChecklistPanel).show(content)

    def action_cursor(self, direction: str) -> None:
        focused = self.focused
        if focused is not None and hasattr(focused, f"action_cursor_{direction}"):
            getattr(focused, f"action_cursor_{direction}")()
