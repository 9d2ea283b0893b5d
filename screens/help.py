"""`?` — every key, and what each status glyph means."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ppcockpit.model import Status

KEY_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Checklist", (
        ("j / k, ↑ / ↓", "move"),
        ("Space", "confirm (or unconfirm) a manual step"),
        ("Enter", "run a command step · record a value · create the tag · show a probe "
                  "step's evidence"),
        ("o", "override the step, or the selected phase's gate, with a typed reason"),
        ("Ctrl+C", "stop the running command"),
        ("Ctrl+E", "end the session: write the release log, show the table to paste"),
    )),
    ("Evidence", (
        ("Enter", "on a Health or Probes row: all about it (c copies the reason, Enter shows "
                  "its request in the logs)"),
        ("v", "the verdict in full: every reason, warning and status change"),
        ("r", "check every probe now"),
        ("d", "mark the deploy as live now (asks before writing to PostHog)"),
    )),
    ("Logs, from any panel", (
        ("p", "follow / pause (new lines are counted, not lost)"),
        ("1 2 3 4", "errors · warnings and up · info and up · everything"),
        ("/", "search (a regular expression); n / N next / previous match"),
        ("Enter · f · Esc", "only this line's request · only its provider · every line"),
        ("w", "wrap long lines"),
        ("s", "save the buffer to a file (mode 0600)"),
        ("l", "the logs on the whole screen"),
    )),
    ("Rollback", (
        ("R", "the guarded rollback: the evidence, the plan, armed by typing the "
              "environment's name; r / s / a on a failed action"),
    )),
    ("Screen", (
        ("Tab / Shift+Tab", "next / previous panel (narrow: the strip names them all)"),
        ("t", "next theme: dark, light, high-contrast"),
        ("Ctrl+P", "the command palette: every action"),
        ("F", "fault drill (rehearsal only)"),
        ("?", "this help"),
        ("q", "quit (asks while a deployment session is open)"),
    )),
)


class HelpScreen(ModalScreen[None]):
    """Every key of the cockpit, the status legend and the verdict's rules."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", show=True),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96; max-width: 96%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._body())

    def _body(self) -> Group:
        """Two-column grids: a wrapped description stays under its own text, never back at
        the left margin under the keys."""
        parts: list[object] = []
        for title, keys in KEY_GROUPS:
            parts += [Text(title, style="bold"), _grid(keys), Text("")]
        parts += [Text("Status (a glyph and a word, never colour alone)", style="bold"),
                  _grid(tuple((status.glyph, status.label) for status in Status)), Text(""),
                  Text("Verdict", style="bold"), _grid((
                      ("GO", "nothing unavailable or unknown; degraded is shown (the header "
                             "counts the warnings) but does not stop a deploy"),
                      ("NO-GO", "anything unavailable or unknown, or nothing checked at all; "
                                "the header shows the first reason, v every reason"),
                      ("ALERT", "a provider unavailable for more than unavailable_after "
                                "consecutive checks (the team's rule)")))]
        return Group(*parts)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


def _grid(rows: tuple[tuple[str, str], ...]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, min_width=16)
    table.add_column(ratio=1)
    for key, description in rows:
        table.add_row(Text(key), Text(description))
    return table
