"""A block of text that repaints in place.

`Static.update` always asks for a new layout of the whole screen (~100 ms at 160x48);
numbers that change every few seconds only need a repaint, and a layout only when the
number of lines changes.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class TextBlock(Widget):
    DEFAULT_CSS = "TextBlock { height: auto; }"

    def __init__(self, text: Text | str = "", **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._text = Text(text) if isinstance(text, str) else text

    def show(self, text: Text | str) -> None:
        """Show `text` (a str is taken literally, never as markup)."""
        fresh = Text(text) if isinstance(text, str) else text
        if fresh == self._text:
            return
        relayout = fresh.plain.count("\n") != self._text.plain.count("\n")
        self._text = fresh
        self.refresh(layout=relayout)

    def render(self) -> Text:
        return self._text
