"""Every probe on one table: the live twin of `ppcockpit check`.

The reading column says "live", or "stale 1m" when the data shown is a minute old (a cached
answer is stale at once): the one rule of `Reading.freshness`, in the words every panel
uses. (A ticking age on every live row would redraw the table for nothing.)
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from ppcockpit.model import Snapshot
from screens.fast_table import FastTable
from screens.format import STATUS_COMPONENT_CLASSES, status_styles, status_text
from screens.health_grid import HealthGrid

STATUS_WIDTH = 16
COLUMNS = (("probe", 19), ("status", STATUS_WIDTH), ("reading", 9), ("summary", None))


class ProbesTable(Vertical, can_focus=False):
    """One row per probe: status, how old the reading is, and what it saw. Enter on a row
    asks for the probe's whole story."""

    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        event.stop()
        self.post_message(HealthGrid.DescribeRequested(event.row_key, None))

    def compose(self) -> ComposeResult:
        yield FastTable(COLUMNS, id="probes-data")

    def on_mount(self) -> None:
        self.border_title = "Probes"

    def show(self, snapshot: Snapshot) -> None:
        styles = status_styles(self)
        rows = []
        for name in snapshot.probe_names:
            reading = snapshot.readings.get(name)
            if reading is None:
                rows.append((name, (name, "… waiting", "", "")))
                continue
            freshness = snapshot.freshness_of(name)
            # Glyph and phrase: what is wrong ("✖ failures > 5%"), else the status word; a
            # phrase too long for the column leads the summary instead of being cut.
            label, summary = reading.label, reading.summary
            if label and len(label) > STATUS_WIDTH - 2:
                label, summary = None, f"{label} · {summary}"
            rows.append((name, (name, status_text(reading.status, styles, label),
                                freshness.words if freshness is not None else "", summary)))
        self.query_one(FastTable).show_rows(rows)
