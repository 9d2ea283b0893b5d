"""The framed, scrollable box in the middle of the screen that the describe and verdict
screens show their report in."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class ReportScreen(ModalScreen[ResultType]):
    """A modal holding one Vertical: its report in a VerticalScroll, then a line of keys."""

    DEFAULT_CSS = """
    ReportScreen { align: center middle; }
    ReportScreen > Vertical {
        width: 110; max-width: 96%; height: auto; max-height: 92%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    ReportScreen VerticalScroll { height: auto; max-height: 40; }
    """
