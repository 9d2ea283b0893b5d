"""`l`: the log tail on the whole screen (the same buffer as the dashboard's panel)."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from ppcockpit.logs import LogBuffer
from screens.log_tail import LogTailPanel


class LogsScreen(Screen[None]):
    BINDINGS = [Binding("l", "close", "Back", key_display="l"),
                Binding("escape", "close", "Back", show=False)]

    def __init__(self, buffer: LogBuffer, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.buffer = buffer
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield LogTailPanel(self.buffer, id="logs-full", classes="panel", clock=self.clock)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LogTailPanel).view.focus()

    def action_close(self) -> None:
        self.app.pop_screen()
