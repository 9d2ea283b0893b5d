"""`v`: the verdict in full — every reason of a NO-GO, every warning of a GO, what was not
checked — and the history of status changes, newest first: on-call can answer "when did
anthropic go down" after the toast has gone."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ppcockpit.model import Decision, Snapshot, Transition
from screens.describe import describe_transition
from screens.header import VERDICT_GLYPHS
from screens.report_box import ReportScreen

HISTORY = 40


def history(snapshot: Snapshot, limit: int = HISTORY) -> list[Transition]:
    """Every signal's status changes, newest first."""
    changes = [t for signal in snapshot.signals.values() for t in signal.transitions]
    return sorted(changes, key=lambda t: t.at, reverse=True)[:limit]


class VerdictScreen(ReportScreen[None]):
    BINDINGS = [Binding("escape,v", "close", "Close")]
    DEFAULT_CSS = """
    VerdictScreen .verdict--keys { color: $quiet; }
    """

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll():
                yield Static(self._body(), id="verdict-body")
            yield Static(Text("Esc close"), classes="verdict--keys")

    def _body(self) -> Text:
        verdict = self.snapshot.verdict
        text = Text()
        text.append(f"{VERDICT_GLYPHS[verdict.decision]} · {self.snapshot.environment}",
                    style="bold")
        if verdict.reasons:
            title = "Why not" if verdict.decision is Decision.NO_GO else "Waiting for"
            text.append(f"\n\n{title}", style="bold")
            for reason in verdict.reasons:
                text.append(f"\n  ✖ {reason}")
        if verdict.warnings:
            text.append("\n\nWarnings (shown, not blocking)", style="bold")
            for warning in verdict.warnings:
                text.append(f"\n  ▲ {warning}")
        if verdict.not_configured:
            text.append("\n\nNot checked (not configured)", style="bold")
            text.append(f"\n  {', '.join(verdict.not_configured)}")
        text.append("\n\nStatus changes, newest first", style="bold")
        changes = history(self.snapshot)
        if not changes:
            text.append("\n  none since the cockpit started")
        for transition in changes:
            text.append("\n  " + describe_transition(transition))
        return text

    def action_close(self) -> None:
        self.dismiss(None)
