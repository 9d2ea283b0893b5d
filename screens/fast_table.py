"""A table of keyed rows drawn with the Line API: a header, fixed-width columns and one that
takes the room left, and a cursor row the operator moves.

Textual's DataTable re-measures and re-renders every cell whenever its columns change, and
the cockpit's columns change with every width: at start-up its four tables cost more than
the rest of the first frame. Here a row is rendered once into a Strip and kept until its
cells, the width or the theme change; only the rows on screen are ever rendered.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cells = Sequence[str | Text]
Column = tuple[str, int | None]  # label (also the key), fixed width or None for "the rest"
Rows = Sequence[tuple[str, Cells]]

PADDING = 1  # blank cells either side of every column
MIN_REST = 12  # the free column never shrinks below this: the table scrolls sideways instead
COLUMN_META = tuple(Style.from_meta({"column": column}) for column in range(16))
HEADER = "fast-table--header"
CURSOR = "fast-table--cursor"


def literal(cell: str | Text) -> Text:
    """Outside text is shown as it is: a `[tag]` in a log line or an error is not markup.
    A cell is one line: a line break inside it is shown as a space."""
    text = cell if isinstance(cell, Text) else Text(cell)
    if "\n" in text.plain:
        text = Text(" ").join(text.split("\n", allow_blank=True))
    return text


def _same(a: Text, b: Text) -> bool:
    """Equal as drawn: rich's `==` ignores the base style (a status that only changes
    colour would not be redrawn)."""
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


class RowMessage(Message):
    """A row of a FastTable, by its index and its key."""

    def __init__(self, table: FastTable, cursor_row: int, row_key: str) -> None:
        super().__init__()
        self.table = table
        self.cursor_row = cursor_row
        self.row_key = row_key

    @property
    def control(self) -> FastTable:
        return self.table


class FastTable(ScrollView, can_focus=True):
    """Rows of cells under a header, one of them under the cursor. Enter (or a click on the
    cursor row) posts RowSelected; every move of the cursor to another row posts
    RowHighlighted."""

    DEFAULT_CSS = """
    FastTable {
        height: auto;
        overflow-x: auto;
        overflow-y: auto;
        background: $surface;
        color: $foreground;
    }
    FastTable > .fast-table--header { background: $panel; color: $foreground; text-style: bold; }
    FastTable > .fast-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    FastTable:focus > .fast-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """
    COMPONENT_CLASSES = {HEADER, CURSOR}
    BINDINGS = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("home", "cursor_home", "First", show=False),
        Binding("end", "cursor_end", "Last", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    class RowHighlighted(RowMessage):
        """The cursor moved to another row."""

    class RowSelected(RowMessage):
        """Enter on the cursor row (or a click on it)."""

    def __init__(self, columns: Sequence[Column], **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.columns: tuple[Column, ...] = tuple(columns)
        self._keys: list[str] = []
        self._rows: list[tuple[Text, ...]] = []
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._strips: dict[tuple[str, bool], Strip] = {}  # (key, under the cursor)
        self._header: Strip | None = None
        self._fitted_width = -1
        self._widths: tuple[int, ...] = ()
        self._styles: tuple[Style, Style, Style] | None = None  # base, header, cursor
        self._drawn_with: tuple[Style, Style, Style] | None = None  # what the strips used
        fixed = sum(width or 0 for _, width in self.columns)
        free = sum(1 for _, width in self.columns if width is None)
        self._min_width = fixed + free * MIN_REST + 2 * PADDING * len(self.columns)
        self._scroll_pending = False

    # --- what is shown ---------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None: no rows)."""
        return self._keys[self._cursor] if self._keys else None

    def row(self, key: str) -> tuple[Text, ...]:
        return self._rows[self._index[key]]

    def get_cell(self, key: str, column: str) -> Text:
        labels = [label for label, _ in self.columns]
        cells = self.row(key)
        index = labels.index(column)
        return cells[index] if index < len(cells) else Text()

    def show_rows(self, rows: Rows) -> None:
        """Show exactly `rows` (key, cells). Rows that did not change are not drawn again;
        the cursor stays on the same key (else at the same place)."""
        keys = [key for key, _ in rows]
        cells = [tuple(literal(cell) for cell in row) for _, row in rows]
        if keys == self._keys:
            for index, (new, old) in enumerate(zip(cells, self._rows, strict=True)):
                if len(new) != len(old) or not all(map(_same, new, old)):
                    self._rows[index] = new
                    self._forget(keys[index])
                    self._refresh_row(index)
            return
        before = self.cursor_key
        self._keys, self._rows = keys, cells
        self._index = {key: index for index, key in enumerate(keys)}
        self._strips.clear()
        cursor = self._index.get(before) if before is not None else None
        self._cursor = cursor if cursor is not None else max(0, min(self._cursor, len(keys) - 1))
        size = Size(self._min_width, len(keys) + 1)
        if size != self.virtual_size:  # a new size lays the screen out again
            self.virtual_size = size
        self.refresh()
        if self.cursor_key != before and self._keys:
            self._highlighted()

    def _refresh_row(self, index: int) -> None:
        """Repaint one row, if it is on screen (the header is line 0)."""
        if 1 <= index + 1 - self.scroll_offset.y < self.size.height:
            self.refresh_line(index + 1)

    def _forget(self, key: str) -> None:
        self._strips.pop((key, False), None)
        self._strips.pop((key, True), None)

    # --- the cursor ------------------------------------------------------------------------

    def move_cursor(self, *, row: int) -> None:
        if not self._keys:
            return
        row = max(0, min(len(self._keys) - 1, row))
        if row == self._cursor:
            self._scroll_to_cursor()
            return
        before, self._cursor = self._cursor, row
        self._refresh_row(before)
        self._refresh_row(row)
        self._scroll_to_cursor()
        self._highlighted()

    def _highlighted(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowHighlighted(self, self._cursor, key))

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height - 1  # under the header
        if height <= 0:  # not laid out yet: done when it has its size
            self._scroll_pending = True
            return
        self._scroll_pending = False
        top = self.scroll_offset.y
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_cursor_home(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_end(self) -> None:
        self.move_cursor(row=len(self._keys) - 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self._cursor - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(row=self._cursor + self._page())

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, self._cursor, key))

    def _on_click(self, event: events.Click) -> None:
        """A click moves the cursor to a row; a click on the cursor row selects it."""
        index = event.y - 1 + self.scroll_offset.y
        if event.y < 1 or not 0 <= index < len(self._keys):
            return
        event.stop()
        if index == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row=index)

    def on_resize(self, event: events.Resize) -> None:
        if self._scroll_pending:
            self._scroll_to_cursor()

    # --- drawing ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None  # looked at again at the next render: a theme, focus

    def _style_set(self) -> tuple[Style, Style, Style]:
        if self._styles is None:
            styles = (self.rich_style, self.get_component_rich_style(HEADER),
                      self.get_component_rich_style(CURSOR))
            if styles != self._drawn_with:
                self._drawn_with = styles
                self._strips.clear()
                self._header = None
            self._styles = styles
        return self._styles

    def _fit(self, width: int) -> None:
        """Column widths for this width: the free column takes what the others leave."""
        if width == self._fitted_width:
            return
        self._fitted_width = width
        fixed = sum(w for _, w in self.columns if w is not None)
        rest = max(MIN_REST, width - fixed - 2 * PADDING * len(self.columns))
        self._widths = tuple(rest if w is None else w for _, w in self.columns)
        self._strips.clear()
        self._header = None

    def _line(self, cells: Sequence[Text]) -> Text:
        line = Text(end="", no_wrap=True)
        pad = " " * PADDING
        for column, width in enumerate(self._widths):
            start = len(line)
            line.append(pad)
            if column < len(cells):
                piece = cells[column].copy()
                piece.truncate(width, overflow="ellipsis", pad=True)
                line.append_text(piece)
            else:
                line.append(" " * width)
            line.append(pad)
            # Each cell its own segments: a screenshot places every cell at its column even
            # where a renderer draws a glyph (…, ⚠) wider than one cell.
            line.stylize(COLUMN_META[column] if column < len(COLUMN_META)
                         else Style.from_meta({"column": column}), start, len(line))
        return line

    def _strip(self, line: Text, over: Style, base: Style) -> Strip:
        line.stylize(over)  # last: the header's and the cursor's colours win over the cells'
        return Strip(line.render(self.app.console), line.cell_len).apply_style(base)

    def _header_strip(self) -> Strip:
        if self._header is None:
            base, header, _ = self._style_set()
            self._header = self._strip(self._line([Text(label) for label, _ in self.columns]),
                                       header, base)
        return self._header

    def _row_strip(self, index: int) -> Strip:
        key = self._keys[index]
        under = index == self._cursor
        strip = self._strips.get((key, under))
        if strip is None:
            base, _, cursor = self._style_set()
            line = self._line(self._rows[index])
            if under:
                strip = self._strip(line, cursor, base)
            else:
                strip = Strip(line.render(self.app.console), line.cell_len).apply_style(base)
            self._strips[(key, under)] = strip
        return strip

    @property
    def allow_horizontal_scroll(self) -> bool:
        """Left/Right scroll to what does not fit, with or without a scrollbar drawn."""
        return not self._check_disabled() and self.max_scroll_x > 0

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        self._fit(width)
        base, header, cursor = self._style_set()
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            return self._header_strip().crop_extend(scroll_x, scroll_x + width, base + header)
        index = y - 1 + scroll_y
        if index >= len(self._keys):
            return Strip.blank(width, base)
        fill = base + cursor if index == self._cursor else base
        return self._row_strip(index).crop_extend(scroll_x, scroll_x + width, fill)
