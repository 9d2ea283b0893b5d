"""Small modal questions: a typed value (a reason, a URL, a name), or a yes/no.

`AskText` dismisses with the text, or None on Esc; Enter does nothing until the text is
acceptable, and says why not. `AskConfirm` dismisses with True on Enter, False on Esc.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

Check = Callable[[str], str | None]  # the text -> None when acceptable, else why not


class AskText(ModalScreen[str | None]):
    """A question with a typed answer."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, question: str, *, check: Check | None = None,
                 value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.check = check or _not_empty
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Static(Text(self.title_text, style="bold"), classes="prompt--title")
            yield Static(Text(self.question), classes="prompt--question")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-why", classes="prompt--why")
            yield Static(Text("Enter accept · Esc cancel"), classes="prompt--keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        why = self.check(event.value)
        if why is not None:
            self.query_one("#prompt-why", Static).update(Text(why))
            return
        self.dismiss(event.value.strip())

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#prompt-why", Static).update("")

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskConfirm(ModalScreen[bool]):
    """A yes/no question: Enter says yes, Esc says no."""

    BINDINGS = [Binding("enter", "yes", "Yes"), Binding("escape", "no", "No")]

    def __init__(self, title: str, question: str | Text, yes: str = "Enter confirm") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Static(Text(self.title_text, style="bold"), classes="prompt--title")
            question = self.question if isinstance(self.question, Text) else Text(self.question)
            yield Static(question, classes="prompt--question")
            yield Static(Text(f"{self.yes} · Esc cancel"), classes="prompt--keys")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


def _not_empty(text: str) -> str | None:
    return None if text.strip() else "Type something first (Esc cancels)."
