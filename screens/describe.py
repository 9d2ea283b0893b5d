"""Enter on a Health or Probes row: everything the cockpit knows about it, in full (k9s'
describe). The summary and the error uncut, every metric and detail, the last status
changes with their times, the request id — `c` copies the reason, Enter on a request id
shows that request in the log tail."""

from __future__ import annotations

import json
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ppcockpit.durations import format_duration
from ppcockpit.model import Reading, Row, Snapshot, Transition
from ppcockpit.text import one_line
from screens.report_box import ReportScreen

MAX_DETAIL_CHARS = 200
MAX_TRANSITIONS = 12


class DescribeScreen(ReportScreen[str | None]):
    """Dismisses with a request id to show in the logs (Enter), else None."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("c", "copy", "Copy reason"),
        Binding("enter", "request_logs", "This request's logs"),
    ]
    DEFAULT_CSS = """
    DescribeScreen .describe--keys { color: $quiet; }
    """

    def __init__(self, snapshot: Snapshot, probe: str, row_key: str | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.probe = probe
        self.row_key = row_key
        self.reading = snapshot.readings.get(probe)
        self.row = next((r for r in self.reading.rows if r.key == row_key), None) \
            if self.reading and row_key else None

    @property
    def request_id(self) -> str | None:
        return self.reading.request_id if self.reading is not None else None

    def reason(self) -> str:
        if self.row is not None:
            return f"{self.probe} · {self.row.label}: {self.row.status.label}" + \
                (f": {self.row.message}" if self.row.message else "")
        if self.reading is None:
            return f"{self.probe}: no reading yet"
        parts = [f"{self.probe}: {self.reading.status.label}: {self.reading.summary}"]
        if self.reading.error and self.reading.error != self.reading.summary:
            parts.append(f"error: {self.reading.error}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return " · ".join(parts)

    def compose(self) -> ComposeResult:
        keys = "Esc close · c copy the reason"
        if self.request_id:
            keys += " · Enter this request in the logs"
        with Vertical():
            with VerticalScroll():
                yield Static(self._body(), id="describe-body")
            yield Static(Text(keys), classes="describe--keys")

    def _body(self) -> Text:
        text = Text()
        reading = self.reading
        if reading is None:
            text.append(f"{self.probe}\n", style="bold")
            text.append("No reading yet.")
            return text
        if self.row is not None:
            _row(text, self.probe, self.row)
        _reading(text, reading, self.snapshot)
        key = f"{self.probe}/{self.row.key}" if self.row is not None else self.probe
        signal = self.snapshot.signals.get(key)
        transitions = list(signal.transitions)[-MAX_TRANSITIONS:] if signal else []
        text.append("\nStatus changes", style="bold")
        if not transitions:
            text.append("\n  none since the cockpit started")
        for transition in reversed(transitions):
            text.append("\n  " + describe_transition(transition))
        return text

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.reason())
        self.app.notify("Reason copied to the clipboard.", timeout=3)

    def action_request_logs(self) -> None:
        if self.request_id:
            self.dismiss(self.request_id)

    def action_close(self) -> None:
        self.dismiss(None)


def _row(text: Text, probe: str, row: Row) -> None:
    text.append(f"{probe} · {row.label}\n", style="bold")
    text.append(f"{row.status.glyph} {row.status.label}")
    if row.latency_ms is not None:
        text.append(f" · {row.latency_ms:.0f} ms")
    if row.consecutive_failures:
        text.append(f" · unavailable {row.consecutive_failures} checks in a row")
    if row.alerting:
        text.append(" · ⚠ ALERT (the team's rule)")
    if row.message:
        text.append(f"\n{row.message}")
    for name, value in sorted(row.extra.items()):
        text.append(f"\n  {name}: {_value(value)}")
    text.append("\n\n")


def _reading(text: Text, reading: Reading, snapshot: Snapshot) -> None:
    text.append(f"{reading.probe}", style="bold")
    text.append(f" · {reading.status.glyph} {reading.status.label}")
    freshness = snapshot.freshness_of(reading.probe)
    if freshness is not None and freshness.stale:
        text.append(f" ({freshness.words})")
    text.append(f"\ntarget: {reading.target}")
    if reading.finished_at:
        when = datetime.fromtimestamp(reading.finished_at).strftime("%H:%M:%S")
        age = format_duration(max(0.0, snapshot.taken_at - reading.finished_at))
        text.append(f"\nread at {when} ({age} ago)")
        if reading.latency_ms is not None:
            text.append(f" in {reading.latency_ms:.0f} ms")
    text.append(f"\n\n{reading.summary}")
    if reading.error and reading.error != reading.summary:
        text.append(f"\nerror: {reading.error}")
    if reading.request_id:
        text.append(f"\nrequest id: {reading.request_id}", style="bold")
    if reading.metrics:
        text.append("\n\nMetrics", style="bold")
        for name, value in sorted(reading.metrics.items()):
            text.append(f"\n  {name}: {_value(value)}")
    details = {k: v for k, v in reading.details.items() if k != "series"}
    if details:
        text.append("\n\nDetails", style="bold")
        for name, value in sorted(details.items()):
            text.append(f"\n  {name}: {_value(value)}")


def describe_transition(transition: Transition) -> str:
    """`17:02:13  health · anthropic  ✔ healthy → ✖ unavailable  upstream 529`."""
    when = datetime.fromtimestamp(transition.at).strftime("%H:%M:%S")
    name = transition.key.replace("/", " · ")
    said = f"  {one_line(transition.summary, 100)}" if transition.summary else ""
    return (f"{when}  {name}  {transition.before.glyph} {transition.before.label} → "
            f"{transition.after.glyph} {transition.after.label}{said}")


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return one_line(json.dumps(value, default=str), MAX_DETAIL_CHARS)
    return one_line(value, MAX_DETAIL_CHARS)
