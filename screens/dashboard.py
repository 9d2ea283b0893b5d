"""The cockpit's main screen: header, the checklist, the evidence beside it (health grid,
Redis, failure ratio, every probe) and the log tail.

Wide terminals show every panel at once. Narrow ones (80x24 over SSH) show one panel at a
time under a strip that names every panel with its state: `Tab`/`Shift+Tab` go from panel to
panel in both layouts, so every panel is always one key away and the focused one is framed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.events import DescendantFocus, Resize
from textual.reactive import var
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from ppcockpit.logs import LogBuffer
from ppcockpit.model import Snapshot
from screens.checklist import ChecklistContent, ChecklistPanel
from screens.failure_ratio import FailureRatioPanel
from screens.header import CockpitHeader
from screens.health_grid import HealthGrid
from screens.log_tail import LogTailPanel
from screens.panel_strip import PANELS, PanelStrip
from screens.probes_table import ProbesTable
from screens.redis_panel import RedisPanel

WIDE_AT = (140, 36)  # columns and rows from which every panel shows at once


class DashboardScreen(Screen[None]):
    """Every panel draws from the same Snapshot, so none can disagree."""

    BINDINGS = [
        Binding("tab", "panel(1)", "Next panel", show=False, priority=True),
        Binding("shift+tab", "panel(-1)", "Previous panel", show=False, priority=True),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
        Binding("v", "verdict", "Verdict & history"),
    ]

    # Vars, not repainting reactives: the panels redraw what changed, the screen does not.
    snapshot: var[Snapshot | None] = var(None, always_update=True)
    checklist: var[ChecklistContent | None] = var(None)

    def __init__(self, *, rehearsal: str | None = None, memory_warn: float = 0.75,
                 memory_crit: float = 0.90, clock: Callable[[], float] = time.time,
                 log_buffer: LogBuffer | None = None, read_only: bool = False) -> None:
        super().__init__()
        self.read_only = read_only
        self.rehearsal = rehearsal
        self.memory_warn = memory_warn
        self.memory_crit = memory_crit
        self.clock = clock
        self.log_buffer = log_buffer if log_buffer is not None else LogBuffer(1000)
        self.current = PANELS[0][0]

    def compose(self) -> ComposeResult:
        yield CockpitHeader(rehearsal=self.rehearsal, clock=self.clock, read_only=self.read_only)
        # The layout class is right from the start: set after mount, it would restyle and
        # lay out every widget a second time before the first frame.
        layout = "wide" if self._wide(self.app.size.width, self.app.size.height) else "narrow"
        yield PanelStrip(id="panel-strip", classes=layout)
        with Container(id="panels", classes=layout):
            yield ChecklistPanel(id="checklist", classes="panel current")
            yield HealthGrid(id="health-grid", classes="panel")
            yield RedisPanel(id="redis-panel", classes="panel", memory_warn=self.memory_warn,
                             memory_crit=self.memory_crit)
            yield ProbesTable(id="probes-table", classes="panel")  # the grid's middle column
            yield FailureRatioPanel(id="failure-ratio", classes="panel")
            yield LogTailPanel(self.log_buffer, id="log-tail", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChecklistPanel).table.focus()  # the runbook is where work starts
        # What the App gave before the panels existed is drawn now, in the first frame.
        self._draw_snapshot(self.snapshot)
        self._draw_checklist(self.checklist)

    @staticmethod
    def _wide(width: int, height: int) -> bool:
        return width >= WIDE_AT[0] and height >= WIDE_AT[1]

    @on(Resize)
    def _resized(self, event: Resize) -> None:
        layout = "wide" if self._wide(event.size.width, event.size.height) else "narrow"
        for widget in (self.query_one("#panels"), self.query_one(PanelStrip)):
            widget.set_class(layout == "wide", "wide")
            widget.set_class(layout == "narrow", "narrow")

    # --- panels ---------------------------------------------------------------------------

    def panel(self, panel_id: str) -> Widget:
        return self.query_one(f"#{panel_id}")

    def action_panel(self, step: int) -> None:
        """Tab / Shift+Tab: the next or previous panel, shown (narrow) and focused."""
        ids = [panel_id for panel_id, _ in PANELS]
        self.show_panel(ids[(ids.index(self.current) + step) % len(ids)])

    def show_panel(self, panel_id: str) -> None:
        self._make_current(panel_id)
        target = _focus_target(self.panel(panel_id))
        if target is not None:
            target.focus()

    @on(DescendantFocus)
    def _focused(self, event: DescendantFocus) -> None:
        for panel_id, _ in PANELS:
            if event.widget is self.panel(panel_id) or self.panel(panel_id) in \
                    event.widget.ancestors:
                self._make_current(panel_id)
                return

    def _make_current(self, panel_id: str) -> None:
        if panel_id == self.current:
            return
        self.panel(self.current).remove_class("current")
        self.panel(panel_id).add_class("current")
        self.current = panel_id
        self.query_one(PanelStrip).current = panel_id

    # --- in full ---------------------------------------------------------------------------

    @on(HealthGrid.DescribeRequested)
    def _describe(self, event: HealthGrid.DescribeRequested) -> None:
        if self.snapshot is None:
            return

        def shown(request_id: str | None) -> None:
            if request_id:  # Enter on the request id: that request's lines in the log tail
                self.log_panel.filter_request_id(request_id)
                self.show_panel("log-tail")

        from screens.describe import DescribeScreen  # not needed for the first frame

        self.app.push_screen(DescribeScreen(self.snapshot, event.probe, event.row_key), shown)

    def action_verdict(self) -> None:
        from screens.verdict import VerdictScreen  # not needed for the first frame

        if self.snapshot is not None:
            self.app.push_screen(VerdictScreen(self.snapshot))

    # --- drawing --------------------------------------------------------------------------

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
        self.query_one(FailureRatioPanel).show(snapshot)
        self.query_one(ProbesTable).show(snapshot)
        self.query_one(PanelStrip).show(snapshot, self.checklist, self.log_buffer)

    def _draw_checklist(self, content: ChecklistContent | None) -> None:
        if content is not None and self.query(ChecklistPanel):
            self.query_one(ChecklistPanel).show(content)
            if self.snapshot is not None:
                self.query_one(PanelStrip).show(self.snapshot, content, self.log_buffer)

    def action_cursor(self, direction: str) -> None:
        focused = self.focused
        if focused is not None and hasattr(focused, f"action_cursor_{direction}"):
            getattr(focused, f"action_cursor_{direction}")()

    @property
    def log_panel(self) -> LogTailPanel:
        return self.query_one(LogTailPanel)


def _focus_target(panel: Widget) -> Widget | None:
    """What takes the keys in a panel: the panel itself, or its first focusable widget."""
    if panel.can_focus:
        return panel
    return next((w for w in panel.query("*") if w.can_focus and w.display), None)



