"""Keeping a DataTable in step with fresh rows without losing the operator's cursor."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Cells = Sequence[str | Text]


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Cells]]) -> None:
    """Make `table` show exactly `rows` (key, cells), updating in place where it can."""
    wanted = [key for key, _ in rows]
    current = [str(row_key.value) for row_key in table.rows]
    columns = list(table.columns)
    if wanted == current:
        for key, cells in rows:
            for column_key, value in zip(columns, cells, strict=False):
                if table.get_cell(key, column_key) != value:
                    table.update_cell(key, column_key, value)
        return
    cursor = table.cursor_row
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if rows:
        table.move_cursor(row=min(cursor, len(rows) - 1))
