"""Every probe on one table: the live twin of `ppcockpit check`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

from ppcockpit.model import Reading, Snapshot, Status
from screens.format import STATUS_COMPONENT_CLASSES, age, status_styles, status_text
from screens.health_grid import HealthGrid
from screens.table_sync import FittedTable

COLUMNS = (("probe", 19), ("status", 16), ("reading", 9), ("summary", None))


class ProbesTable(Vertical, can_focus=False):
    """One row per probe: status, how old the reading is, and what it saw. Enter on a row
    asks for the probe's whole story."""

    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(HealthGrid.DescribeRequested(str(event.row_key.value), None))

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, id="probes-data")

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
            rows.append((name, (name, status_text(reading.status, styles),
                                _freshness(reading, name in snapshot.stale, snapshot.taken_at),
                                reading.summary)))
        self.query_one(FittedTable).show_rows(rows)


def _freshness(reading: Reading, stale: bool, now: float) -> str:
    """"live" while the reading is current; how old it is once it is not. (A ticking age on
    every row would redraw the table every second for nothing.)"""
    if reading.status is Status.SKIPPED or not reading.finished_at:
        return ""
    return f"stale {age(now - reading.finished_at)}" if stale else "live"
