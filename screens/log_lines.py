"""The log tail's lines: a Line-API ScrollView that renders only the rows on screen, each
row built once (cached) by screens.log_format."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ppcockpit.logs import LogLine
from screens.log_format import Columns, row_length, row_text

MIN_WRAP_WIDTH = 10


class LogLinesView(ScrollView, can_focus=True):
    """The rows of the lines the panel chose to show. Wrap on: long lines continue on the
    next rows, indented under their message; off: one row per line, scroll sideways."""

    COMPONENT_CLASSES = {
        "log--time", "log--error", "log--warn", "log--info", "log--debug", "log--route",
        "log--provider", "log--request-id", "log--raw", "log--cut", "log--marker",
        "log--match", "log--cursor", "log--error-message",
    }
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_cursor(-1)", "Page up", show=False),
        Binding("pagedown", "page_cursor(1)", "Page down", show=False),
        Binding("home", "cursor_home", "Oldest", show=False),
        Binding("end", "cursor_end", "Newest", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    class CursorMoved(Message):
        """The operator selected a line (None: no line selected)."""

        def __init__(self, line: LogLine | None) -> None:
            super().__init__()
            self.line = line

    class ScrolledAway(Message):
        """The operator scrolled back: following would pull the view away from them."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._lines: list[LogLine] = []
        self._starts: list[int] = []  # wrap: the absolute first row of each line
        self._rows = 0  # wrap: absolute row after the last line
        self._wrap = False
        self._pattern: re.Pattern[str] | None = None
        self._columns = Columns.for_width(80)
        self._width = 0
        self._cache: LRUCache[tuple[int, bool], Strip] = LRUCache(1024)
        self._styles: dict[str, Style] | None = None
        self._max_width = 0
        self.cursor_seq: int | None = None
        self.stick_to_end = True  # following: stay on the newest line as the size changes

    # --- what is shown ---------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[LogLine]:
        return self._lines

    @property
    def wrap(self) -> bool:
        return self._wrap

    @wrap.setter
    def wrap(self, value: bool) -> None:
        self._wrap = value
        self.set_class(value, "-wrap")
        self._relayout()

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern

    @pattern.setter
    def pattern(self, value: re.Pattern[str] | None) -> None:
        self._pattern = value
        self._cache.clear()
        self.refresh()

    def replace(self, lines: Sequence[LogLine]) -> None:
        self._lines = list(lines)
        if self.cursor_index is None:
            self.cursor_seq = None
        self._relayout()

    def extend(self, lines: Sequence[LogLine], *, keep_from: int | None = None) -> None:
        """Add newer lines, and forget those older than seq `keep_from` (they left the
        buffer), with one change of size: a flood must not lay the screen out twice."""
        if lines:
            self._lines.extend(lines)
            if self._wrap:
                self._add_rows(lines)
        if keep_from is not None:
            self._forget_before(keep_from)
        self._update_virtual_size()

    def _forget_before(self, seq: int) -> None:
        lines = self._lines
        if not lines or lines[0].seq >= seq:
            return
        count = bisect_left(lines, seq, key=_seq)
        del lines[:count]
        if self._wrap:
            del self._starts[:count]
        if self.cursor_seq is not None and self.cursor_seq < seq:
            self.cursor_seq = None

    def scroll_to_end(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, force=True, immediate=True)

    # --- the cursor ------------------------------------------------------------------------

    @property
    def cursor_index(self) -> int | None:
        if self.cursor_seq is None:
            return None
        index = bisect_left(self._lines, self.cursor_seq, key=_seq)
        if index < len(self._lines) and self._lines[index].seq == self.cursor_seq:
            return index
        return None

    @property
    def cursor_line(self) -> LogLine | None:
        index = self.cursor_index
        return None if index is None else self._lines[index]

    def select(self, index: int | None) -> None:
        if index is not None and self._lines:
            index = max(0, min(len(self._lines) - 1, index))
            seq: int | None = self._lines[index].seq
        else:
            seq = None
        if seq == self.cursor_seq:
            return
        self._cache.clear()  # the old and the new cursor row change
        self.cursor_seq = seq
        self.refresh()
        if index is not None and seq is not None:
            self._scroll_to_line(index)
        self.post_message(self.CursorMoved(self.cursor_line))

    def scroll_to_cursor(self) -> None:
        """The selected line in sight (the newest when none is selected)."""
        index = self.cursor_index
        if index is None:
            self.scroll_to_end()
        else:
            self._scroll_to_line(index)

    def _scroll_to_line(self, index: int) -> None:
        top = self._row_of(index)
        height = self.scrollable_content_region.height or 1
        bottom = top + (self._height(self._lines[index]) if self._wrap else 1)
        if top < self.scroll_offset.y:
            self.scroll_to(y=top, animate=False, immediate=True)
        elif bottom > self.scroll_offset.y + height:
            self.scroll_to(y=bottom - height, animate=False, immediate=True)

    def _visible_bottom_index(self) -> int | None:
        if not self._lines:
            return None
        height = self.scrollable_content_region.height or 1
        return self._line_at(self.scroll_offset.y + height - 1)[0]

    def action_cursor_up(self) -> None:
        index = self.cursor_index
        self.select(self._visible_bottom_index() if index is None else index - 1)

    def action_cursor_down(self) -> None:
        index = self.cursor_index
        self.select(self._visible_bottom_index() if index is None else index + 1)

    def action_page_cursor(self, pages: int) -> None:
        height = self.scrollable_content_region.height or 1
        index = self.cursor_index
        start = self._visible_bottom_index() if index is None else index
        self.select(None if start is None else start + pages * height)

    def action_cursor_home(self) -> None:
        self.select(0)

    def action_cursor_end(self) -> None:
        self.select(len(self._lines) - 1)

    def _on_click(self, event: events.Click) -> None:
        row = event.y + self.scroll_offset.y
        if row < self.virtual_size.height:
            self.select(self._line_at(row)[0])

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.post_message(self.ScrolledAway())

    # --- rows ------------------------------------------------------------------------------

    def _relayout(self) -> None:
        self._cache.clear()
        self._max_width = 0
        if self._wrap:
            self._starts, self._rows = [], 0
            self._add_rows(self._lines)
        self._update_virtual_size()
        self.refresh()

    def _content_width(self) -> int:
        return max(MIN_WRAP_WIDTH, self.scrollable_content_region.width or self.size.width)

    def _height(self, line: LogLine) -> int:
        width = self._content_width()
        length = row_length(line, self._columns)
        if length <= width:
            return 1
        room = max(MIN_WRAP_WIDTH, width - self._columns.indent(line))
        return 1 + -(-(length - width) // room)

    def _add_rows(self, lines: Sequence[LogLine]) -> None:
        starts, rows, height = self._starts, self._rows, self._height
        for line in lines:
            starts.append(rows)
            rows += height(line)
        self._rows = rows

    def _row_of(self, index: int) -> int:
        if not self._wrap:
            return index
        return self._starts[index] - self._starts[0]

    def _line_at(self, row: int) -> tuple[int, int]:
        """(line index, row within the line) of a row counted from the top."""
        if not self._wrap:
            return min(row, len(self._lines) - 1), 0
        absolute = row + self._starts[0]
        index = max(0, bisect_right(self._starts, absolute) - 1)
        return index, absolute - self._starts[index]

    def _update_virtual_size(self) -> None:
        width = self.scrollable_content_region.width or self.size.width
        if self._wrap:
            height = self._rows - self._starts[0] if self._starts else 0
            size = Size(width, height)
        else:
            # Only rows wider than the view give it a width (to scroll sideways): the view's
            # own width is not part of it, or its first size (0, then the real one) would lay
            # the whole screen out a second time before the first frame.
            size = Size(self._max_width if self._max_width > width else 0, len(self._lines))
        if size != self.virtual_size:  # a new size lays the whole screen out again
            self.virtual_size = size
        if self.stick_to_end:
            self.scroll_to_end()

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        # The scrollbar takes the bottom row: the newest line must not hide under it.
        if self.stick_to_end:
            self.call_after_refresh(self.scroll_to_end)

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width or event.size.width
        columns = Columns.for_width(width)
        if width != self._width or columns != self._columns:
            self._width, self._columns = width, columns
            self._relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._cache.clear()

    def _style_map(self) -> dict[str, Style]:
        if self._styles is None:
            self._styles = {name: self.get_component_rich_style(name, partial=True)
                            for name in self.COMPONENT_CLASSES}
        return self._styles

    def _strip(self, line: LogLine, is_cursor: bool) -> Strip:
        key = (line.seq, is_cursor)
        strip = self._cache.get(key)
        if strip is None:
            styles = self._style_map()
            text = row_text(line, self._columns, styles, self._pattern)
            if is_cursor:
                text.stylize_before(styles["log--cursor"])
            # The panel's colours under every cell: a row is drawn on the theme's background,
            # not the terminal's (a light theme would show dark rows).
            strip = Strip(text.render(self.app.console), text.cell_len).apply_style(
                self.rich_style)
            self._cache[key] = strip
            if not self._wrap and strip.cell_length > self._max_width:
                self._max_width = strip.cell_length
                view = self.scrollable_content_region.width or self.size.width
                if self._max_width > max(view, self.virtual_size.width):
                    self.call_later(self._update_virtual_size)
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width or self.size.width
        row = y + scroll_y
        if not self._lines or row >= self.virtual_size.height:
            return Strip.blank(width, self.rich_style)
        index, part = self._line_at(row)
        line = self._lines[index]
        is_cursor = line.seq == self.cursor_seq
        strip = self._strip(line, is_cursor)
        fill = self.rich_style + self._style_map()["log--cursor"] if is_cursor \
            else self.rich_style
        if not self._wrap:
            return strip.crop_extend(scroll_x, scroll_x + width, fill)
        if part == 0:
            return strip.crop_extend(0, width, fill)
        indent = self._columns.indent(line)
        room = max(MIN_WRAP_WIDTH, width - indent)
        start = width + (part - 1) * room
        indent = min(indent, width - room) if width > room else 0
        return Strip.join([Strip.blank(indent, fill),
                           strip.crop_extend(start, start + room, fill)])

    def refresh_rows(self) -> None:
        self._cache.clear()
        self.refresh(Region(0, 0, self.size.width, self.size.height))


def _seq(line: LogLine) -> int:
    return line.seq
