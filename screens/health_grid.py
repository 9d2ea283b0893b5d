"""The health grid: the endpoint itself, then a row per dependency and AI provider."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from ppcockpit.model import Reading, Row, Signal, Snapshot, Status
from screens.fast_table import FastTable
from screens.format import (
    STATUS_COMPONENT_CLASSES,
    age,
    latency,
    retitle,
    status_styles,
    status_text,
)

FAILS_WIDTH = 10
COLUMNS = (("dependency", 10), ("status", 18), ("latency", 7), ("fails", FAILS_WIDTH),
           ("since", 5), ("detail", None))


class HealthGrid(Vertical, can_focus=False):
    """Live rows from the health probe; what failed, for how long, and why. Enter on a row
    asks for its whole story (DescribeRequested)."""

    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES | {"grid--alert"}

    class DescribeRequested(Message):
        """Enter on a row: show its whole story (`row_key` None: the probe's own reading)."""

        def __init__(self, probe: str, row_key: str | None) -> None:
            super().__init__()
            self.probe = probe
            self.row_key = row_key

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        event.stop()
        key = event.row_key
        if key != "waiting":
            self.post_message(self.DescribeRequested("health",
                                                     None if key == "endpoint" else key))

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._last_rows: tuple[Row, ...] = ()  # the providers the app last listed

    def compose(self) -> ComposeResult:
        yield FastTable(COLUMNS, id="health-table")

    def on_mount(self) -> None:
        self.border_title = "Health · /api/health"

    def show(self, snapshot: Snapshot) -> None:
        reading = snapshot.readings.get("health")
        table = self.query_one(FastTable)
        if reading is None:
            table.show_rows([("waiting", ("/api/health", Text("… waiting"), "", "", "",
                                            "first check under way"))])
            return
        retitle(self, f"Health · {reading.target}")
        styles = status_styles(self)
        rows = [("endpoint", self._endpoint_cells(reading, snapshot, styles))]
        known = reading.rows
        if known:
            self._last_rows = known
        for row in known or self._last_rows:
            # An answer without providers (a 502 page, no service role) says nothing about
            # them: the last known rows stay, marked so, and the grid does not jump.
            signal = snapshot.signals.get(f"health/{row.key}")
            cells = self._row_cells(row, signal, snapshot.taken_at, styles)
            if not known:
                cells = self._last_known(cells, styles)
            rows.append((row.key, cells))
        table.show_rows(rows)

    def _last_known(self, cells: tuple[str | Text, ...], styles: dict,
                    ) -> tuple[str | Text, ...]:
        label, status, *rest = cells
        word = status.plain if isinstance(status, Text) else str(status)
        return (label, Text(f"was {word}", style=styles.get(Status.UNKNOWN) or ""),
                *rest[:-1], "(last known) not in the latest answer")

    def _endpoint_cells(self, reading: Reading, snapshot: Snapshot,
                        styles: dict) -> tuple[str | Text, ...]:
        signal = snapshot.signals.get("health")
        freshness = snapshot.freshness_of("health")
        stale = freshness is not None and freshness.stale
        label = f"{reading.status.label} ({freshness.words})" if freshness and stale else None
        detail = reading.summary
        if reading.request_id and reading.status is not Status.HEALTHY:
            detail = f"{detail} · request id {reading.request_id}"
        fails = str(signal.consecutive_failures) if signal and signal.consecutive_failures else ""
        status = reading.status
        if (reading.label or "").startswith("endpoint ok"):
            # The endpoint answered well; what is wrong is in the rows below (and the verdict
            # is unchanged): the endpoint is not shown as down.
            status, label = Status.HEALTHY, "ok" + (f" ({freshness.words})" if stale and
                                                    freshness else "")
            detail, fails = f"{reading.label} · {detail}", ""
        return ("endpoint", status_text(status, styles, label),
                latency(reading.latency_ms), fails, _since(signal, snapshot.taken_at), detail)

    def _row_cells(self, row: Row, signal: Signal | None, now: float,
                   styles: dict) -> tuple[str | Text, ...]:
        label = row.label
        if row.extra.get("ignored"):
            label = f"{label} (ignored)"
        fails: str | Text = str(row.consecutive_failures) if row.consecutive_failures else ""
        if row.alerting:
            fails = Text(alert_label(row.consecutive_failures),
                         style=self.get_component_rich_style("grid--alert", partial=True))
        return (label, status_text(row.status, styles), latency(row.latency_ms), fails,
                _since(signal, now), row.message)


def alert_label(consecutive: int) -> str:
    """`⚠ ALERT 24`, always whole in its column: a cropped `⚠ ALERT 2` would lie."""
    return f"⚠ ALERT {consecutive}" if consecutive < 100 else "⚠ ALERT>99"


def _since(signal: Signal | None, now: float) -> str:
    """How long the current status has held; under a minute in 10-second steps, so a row
    redraws every ten seconds after a change rather than every second."""
    if signal is None or not signal.since:
        return ""
    held = max(0.0, now - signal.since)
    if held < 10:
        return "<10s"
    if held < 60:
        return f"{int(held // 10) * 10}s"
    return age(held)
