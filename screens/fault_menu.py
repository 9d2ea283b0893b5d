"""`F` in a rehearsal: pick a scenario's fault to inject live (a fire drill)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ppcockpit.text import one_line


class FaultMenu(ModalScreen[str | None]):
    """Lists (name, description) pairs; Enter dismisses with the name, Escape with None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
    ]
    DEFAULT_CSS = """
    FaultMenu { align: center middle; }
    FaultMenu > Vertical {
        width: 90; max-width: 96%; height: auto; max-height: 100%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    FaultMenu #fault-menu-title { color: $warning; text-style: bold; }
    FaultMenu #fault-menu-hint { color: $quiet; }
    FaultMenu OptionList { height: auto; max-height: 18; border: none;
                           scrollbar-size-vertical: 1; }
    """

    def __init__(self, faults: list[tuple[str, str]]) -> None:
        super().__init__()
        self.faults = list(faults)

    def compose(self) -> ComposeResult:
        options = []
        for name, description in self.faults:
            # A grid: a description that wraps stays under itself, not under the name.
            label = Table.grid(padding=(0, 2))
            label.add_column(width=max(len(n) for n, _ in self.faults), no_wrap=True)
            label.add_column(ratio=1)
            label.add_row(Text(name, style="bold"), Text(one_line(description)))
            options.append(Option(label, id=name))
        with Vertical():
            yield Static("REHEARSAL DRILL · inject a fault", id="fault-menu-title")
            yield OptionList(*options, id="fault-menu-options")
            yield Static("↑/↓ or j/k move · Enter inject · Esc cancel · calm clears every "
                         "fault", id="fault-menu-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.faults:
            options.highlighted = 0
        options.focus()

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
