"""Every probe on one table: the live twin of `ppcockpit check`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from ppcockpit.model import Snapshot
from screens.format import STATUS_COMPONENT_CLASSES, age, status_styles, status_text
from screens.table_sync import FittedTable

COLUMNS = (("probe", 19), ("status", 16), ("age", 5), ("summary", None))


class ProbesTable(Vertical, can_focus=False):
    """One row per probe: status, how old the reading is, and what it saw."""

    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES

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
            stale = name in snapshot.stale
            label = f"{reading.status.label} (stale)" if stale else None
            when = "" if not reading.finished_at else age(snapshot.taken_at - reading.finished_at)
            rows.append((name, (name, status_text(reading.status, styles, label), when,
                                reading.summary)))
        self.query_one(FittedTable).show_rows(rows)
