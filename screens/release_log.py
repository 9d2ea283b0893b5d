"""The release log entry, as the team pastes it into its channel: shown once the session
ends, `c` copies it to the clipboard."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ReleaseLogScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("c", "copy", "Copy"),
    ]
    DEFAULT_CSS = """
    ReleaseLogScreen { align: center middle; }
    ReleaseLogScreen > Vertical {
        width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: round $success; background: $surface; padding: 0 1;
    }
    ReleaseLogScreen VerticalScroll { height: auto; max-height: 30; }
    ReleaseLogScreen .release--title { color: $success; text-style: bold; }
    ReleaseLogScreen .release--keys { color: $quiet; }
    """

    def __init__(self, markdown: str, path: str | None) -> None:
        super().__init__()
        self.markdown = markdown
        self.path = path

    def compose(self) -> ComposeResult:
        where = f" · appended to {self.path}" if self.path else ""
        with Vertical():
            yield Static(Text(f"Release log{where}"), classes="release--title")
            with VerticalScroll():
                yield Static(Text(self.markdown), id="release-markdown")
            yield Static(Text("c copy the table · Esc close"), classes="release--keys")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.markdown)
        self.app.notify("Release log table copied to the clipboard.", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
