"""Keeping a DataTable in step with fresh rows without losing the operator's cursor."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Cells = Sequence[str | Text]
Column = tuple[str, int | None]  # label (also the key), fixed width or None for "the rest"


def literal(cell: str | Text) -> Text:
    """Outside text is shown as it is: a `[tag]` in a log line or an error is not markup."""
    return cell if isinstance(cell, Text) else Text(cell, no_wrap=True, overflow="ellipsis")


def fit_columns(table: DataTable, columns: Sequence[Column], width: int) -> None:
    """(Re)build the columns so that the one without a width takes the room that is left."""
    padding = 2 * table.cell_padding * len(columns)
    fixed = sum(w for _, w in columns if w is not None)
    rest = max(12, width - fixed - padding - 1)
    table.clear(columns=True)
    for label, column_width in columns:
        table.add_column(label, key=label, width=column_width or rest)


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Cells]]) -> None:
    """Make `table` show exactly `rows` (key, cells), updating in place where it can."""
    wanted = [key for key, _ in rows]
    current = [str(row_key.value) for row_key in table.rows]
    columns = list(table.columns)
    if wanted == current:
        for key, cells in rows:
            for column_key, value in zip(columns, cells, strict=False):
                shown = literal(value)
                if table.get_cell(key, column_key) != shown:
                    table.update_cell(key, column_key, shown)
        return
    cursor = table.cursor_row
    table.clear()
    for key, cells in rows:
        table.add_row(*(literal(cell) for cell in cells), key=key)
    if rows:
        table.move_cursor(row=min(cursor, len(rows) - 1))


class FittedTable(DataTable):
    """A DataTable whose last free column always takes the width that is left."""

    def __init__(self, columns: Sequence[Column], **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cursor_type="row", **kwargs)
        self.layout_columns = tuple(columns)
        self._fitted_width = -1

    def on_mount(self) -> None:
        fit_columns(self, self.layout_columns, max(40, self.size.width))

    def on_resize(self) -> None:
        width = self.size.width
        if width and width != self._fitted_width:
            self._fitted_width = width
            rows = [(str(key.value), list(self.get_row(key))) for key in self.rows]
            fit_columns(self, self.layout_columns, width)
            sync_rows(self, rows)

    def show_rows(self, rows: Sequence[tuple[str, Cells]]) -> None:
        sync_rows(self, rows)
