"""`?` — every key, and what each status glyph means."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ppcockpit.model import Status

LEGEND = "\n".join(f"  {status.glyph}  {status.label}" for status in Status)


class HelpScreen(ModalScreen[None]):
    """A modal listing the active key bindings and the status legend."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", show=True),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 70; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _ in self.keys), default=4)
        lines = [f"  {key:<{width}}  {description}" for key, description in self.keys]
        body = (
            "[b]Keys[/b]\n" + "\n".join(lines)
            + "\n\n[b]Status[/b] (a glyph and a word, never colour alone)\n" + LEGEND
            + "\n\n[b]Verdict[/b]\n  GO when nothing is unavailable or unknown; degraded is "
            "shown but does not stop a deploy.\n  A provider ALERTs after more than "
            "unavailable_after consecutive unavailable checks."
        )
        with VerticalScroll():
            yield Static(body, markup=True)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
