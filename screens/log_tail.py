"""The log tail panel: the app's log lines as they arrive, filterable, searchable, savable.

It reads a `ppcockpit.logs.LogBuffer` that something else fills (the App's LogTail). It is
told when the buffer changed and applies new lines at most every `batch_seconds`, so a
flood costs one redraw per batch, never one per line. It does no I/O: saving posts
`SaveRequested` with the lines, and the App writes the file."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from ppcockpit.logs import (
    ALL_LEVELS,
    Counters,
    LogBuffer,
    LogFilter,
    LogLine,
    SearchError,
    compile_search,
    filter_lines,
    find_match,
)
from screens.log_format import detail_text, subtitle_text, title_text
from screens.log_lines import LogLinesView

BATCH_SECONDS = 0.1
FLOOD_LINES = 1000  # new lines in one batch from which the next batch waits longer
FLOOD_SLOWDOWN = 2.5


class _BufferChanged(Message, bubble=False):
    """New lines (or a new state) in the buffer; posted at most once per batch."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, _BufferChanged)


class LogTailPanel(Vertical):
    """The fifth panel: why the health grid turned red."""

    DEFAULT_CSS = """
    LogTailPanel { height: 1fr; min-height: 6; }
    LogTailPanel > #log-state { height: auto; max-height: 2; color: $quiet; }
    LogTailPanel > #log-state.-down { color: $error; text-style: bold; }
    LogTailPanel > #log-state.-none { color: $quiet; text-style: italic; }
    LogTailPanel > #log-detail { height: auto; max-height: 3; color: $quiet; }
    LogTailPanel > #log-search { height: 1; border: none; padding: 0 1; display: none; }
    LogTailPanel > #log-search.-open { display: block; }
    LogTailPanel > #log-search.-invalid { color: $error; }
    LogLinesView { height: 1fr; overflow-y: scroll; background: $surface; }
    LogLinesView.-wrap { overflow-x: hidden; }
    LogLinesView > .log--time { color: $quiet; }
    LogLinesView > .log--error { color: $error; text-style: bold; }
    LogLinesView > .log--warn { color: $warning; }
    LogLinesView > .log--info { color: $success; }
    LogLinesView > .log--debug { color: $quiet; }
    LogLinesView > .log--route { color: $secondary; }
    LogLinesView > .log--provider { color: $accent; }
    LogLinesView > .log--request-id { color: $quiet; }
    LogLinesView > .log--raw { color: $foreground; }
    LogLinesView > .log--error-message { color: $error; }
    LogLinesView > .log--cut { color: $warning; text-style: reverse; }
    LogLinesView > .log--marker { color: $accent; text-style: bold; }
    LogLinesView > .log--match { background: $warning 50%; text-style: bold; }
    LogLinesView > .log--cursor { background: $primary 40%; }
    """

    BINDINGS = [
        Binding("p", "toggle_follow", "Follow/pause"),
        Binding("1", "level(1)", "Errors", show=False),
        Binding("2", "level(2)", "Warn+", show=False),
        Binding("3", "level(3)", "Info+", show=False),
        Binding("4", "level(4)", "All levels", show=False),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False, key_display="N"),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("s", "save", "Save logs"),
        Binding("enter", "filter_selected_request", "Only this request", show=False),
        Binding("f", "filter_selected_provider", "Only this provider", show=False),
        Binding("escape", "clear_filters", "Clear filters", show=False),
    ]

    class SaveRequested(Message):
        """The operator asked to save the buffer: write `lines` to a file (mode 0600)."""

        def __init__(self, lines: tuple[str, ...]) -> None:
            super().__init__()
            self.lines = lines

    def __init__(self, buffer: LogBuffer, *, batch_seconds: float = BATCH_SECONDS,
                 clock: Callable[[], float] = time.time, title: str = "Logs",
                 **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.buffer = buffer
        self.batch_seconds = batch_seconds
        self.clock = clock
        self.heading = title
        self.filter = LogFilter()
        self._search_text = ""
        self._notified = False
        self._flooding = False
        self._pull_timer = None
        self._last_seq = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._hint = ""
        self._detail_shown: str | None = None
        self._borders: dict[bool, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="log-state")
        yield LogLinesView(id="log-lines")
        yield Static(id="log-detail")
        # The search field is mounted at the first `/`: not needed for the first frame.

    def _search_field(self) -> Input | None:
        found = self.query("#log-search")
        return found.first(Input) if found else None

    @property
    def view(self) -> LogLinesView:
        return self.query_one(LogLinesView)

    @property
    def following(self) -> bool:
        return not self.buffer.paused

    def on_mount(self) -> None:
        self._unsubscribe = self.buffer.subscribe(self._buffer_changed)
        self._rebuild()
        self._show_state()
        self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    # --- lines in ---------------------------------------------------------------------------

    def _buffer_changed(self) -> None:
        """Called by the buffer (on this loop) after every change: one message per batch."""
        if not self._notified:
            self._notified = True
            self.post_message(_BufferChanged())

    @on(_BufferChanged)
    def _schedule_pull(self) -> None:
        if self._pull_timer is not None:
            return
        if self.batch_seconds > 0:
            # A flood is redrawn less often: nobody reads 5,000 lines a tenth of a second,
            # and the time goes to the keys instead.
            delay = self.batch_seconds * (FLOOD_SLOWDOWN if self._flooding else 1)
            self._pull_timer = self.set_timer(delay, self._pull)
        else:  # tests: apply at once
            self._pull_timer = True
            self.call_later(self._pull)

    def _pull(self) -> None:
        self._pull_timer = None
        self._notified = False
        buffer = self.buffer
        if not buffer.paused:
            view = self.view
            new = buffer.since(self._last_seq)
            self._flooding = len(new) >= FLOOD_LINES
            self._last_seq = buffer.next_seq - 1
            view.extend(filter_lines(new, self.filter), keep_from=buffer.first_seq)
        self._show_title()
        self._show_state()

    def _rebuild(self) -> None:
        """The view from scratch: after a filter change, on resume, at mount."""
        buffer = self.buffer
        lines = list(buffer)
        if buffer.paused and buffer.paused_at_seq is not None:
            lines = [line for line in lines if line.seq <= buffer.paused_at_seq]
        else:
            self._last_seq = buffer.next_seq - 1
        view = self.view
        view.stick_to_end = self.following
        view.replace(filter_lines(lines, self.filter))
        if not self.following:  # paused: keep the selected line in sight, or the newest
            view.scroll_to_cursor()
        self._show_title()
        self._show_detail(view.cursor_line)

    def _tick(self) -> None:
        self._show_title()
        if self.buffer.state.phase != "streaming":
            self._show_state()

    # --- what the panel says --------------------------------------------------------------

    def _show_title(self) -> None:
        counters = Counters.of(self.buffer, self.clock())
        self._set_border(title_text(self.heading, counters), subtitle=False)
        view = self.view
        self._set_border(subtitle_text(self.filter, len(view.lines), len(self.buffer),
                                       self._search_text if view.pattern else None, view.wrap),
                         subtitle=True)

    def _set_border(self, text: str, *, subtitle: bool) -> None:
        """Border titles given as str are parsed as markup: these hold request ids, provider
        ids and the search pattern, so they go in as Text (and only when they change)."""
        if self._borders.get(subtitle) == text:
            return
        self._borders[subtitle] = text
        if subtitle:
            self.border_subtitle = Text(text)
        else:
            self.border_title = Text(text)

    def _show_state(self) -> None:
        state = self.buffer.state
        widget = self.query_one("#log-state", Static)
        shown = state.phase != "streaming"
        if widget.display != shown:
            widget.display = shown
        if shown:
            text = state.describe(self.clock())
            if state.phase == "none":
                text += ('  (add [environments.NAME.logs] with source = "command", "ssh" '
                         'or "file" to cockpit.toml)')
            widget.update(Text(text))
        widget.set_class(state.phase == "down", "-down")
        widget.set_class(state.phase == "none", "-none")

    def _show_detail(self, line: LogLine | None) -> None:
        """The hint, or the selected line's other fields, under the lines. The widget is
        touched only when its text changes: a new text lays the screen out again."""
        if self._hint:
            text: str | None = self._hint
        elif line is None or line.marker:
            text = None
        else:
            width = self.query_one("#log-detail", Static).content_region.width
            text = detail_text(line, max(20, width or self.size.width - 4))
        if text == self._detail_shown:
            return
        self._detail_shown = text
        detail = self.query_one("#log-detail", Static)
        if text is not None:
            detail.update(Text(text, no_wrap=True, overflow="ellipsis"))
        if detail.display != (text is not None):
            detail.display = text is not None

    def _say(self, hint: str) -> None:
        """A one-line answer to the last key (no match, no request id …)."""
        self._hint = hint
        self._show_detail(self.view.cursor_line)

    def on_log_lines_view_cursor_moved(self, message: LogLinesView.CursorMoved) -> None:
        message.stop()
        self._hint = ""
        if message.line is not None:
            self.pause()
        self._show_detail(message.line)

    def on_log_lines_view_scrolled_away(self, message: LogLinesView.ScrolledAway) -> None:
        message.stop()
        self.pause()

    # --- public API (the App calls these) -------------------------------------------------

    def pause(self) -> None:
        self.view.stick_to_end = False
        if not self.buffer.paused:
            self.buffer.pause()
            self._show_title()

    def follow(self) -> None:
        """Follow again: every line that arrived while paused is shown, the view at the end."""
        self.buffer.resume()
        self.view.stick_to_end = True
        self.view.select(None)
        self._rebuild()

    def set_level(self, level: int) -> None:
        self._set_filter(LogFilter(max(1, min(ALL_LEVELS, level)), self.filter.provider,
                                   self.filter.request_id))  # the subtitle names the level

    def filter_request_id(self, request_id: str | None) -> None:
        """Only the lines of this request (None: every request). The App calls this with a
        failed health reading's request id."""
        self._set_filter(LogFilter(self.filter.level, self.filter.provider,
                                   request_id or None))
        if request_id and not self.view.lines:
            self._say(f"no line of request {request_id} in the last {len(self.buffer):,} "
                      "lines")

    def filter_provider(self, provider: str | None) -> None:
        self._set_filter(LogFilter(self.filter.level, provider or None,
                                   self.filter.request_id))

    def mark_deploy(self, at: datetime) -> None:
        """A marker line where the deploy was marked (it lands in the shared buffer)."""
        self.buffer.mark_deploy(at)

    def _set_filter(self, new: LogFilter) -> None:
        if new != self.filter:
            self.filter = new
            self._hint = ""
            self._rebuild()

    # --- actions (keys) ----------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        if self.buffer.paused:
            self.follow()
        else:
            self.pause()

    def action_level(self, level: int) -> None:
        self.set_level(level)

    def action_toggle_wrap(self) -> None:
        view = self.view
        view.wrap = not view.wrap
        if self.following:
            view.scroll_to_end()
        self._show_title()

    def action_save(self) -> None:
        self.post_message(self.SaveRequested(self.buffer.texts()))

    def action_filter_selected_request(self) -> None:
        line = self.view.cursor_line
        if line is None:
            self._say("select a line first (↑/↓), then Enter shows only its request")
        elif not line.request_id:
            self._say("this line has no request id")
        else:
            self.filter_request_id(line.request_id)

    def action_filter_selected_provider(self) -> None:
        line = self.view.cursor_line
        if line is None or not line.provider:
            self._say("select a line with a provider first")
        else:
            self.filter_provider(line.provider)

    def action_clear_filters(self) -> None:
        search = self._search_field()
        if search is not None and search.has_class("-open"):
            self._close_search(keep=False)
            return
        self._search_text = ""
        self.view.pattern = None
        self._hint = ""
        self._set_filter(LogFilter())
        self._show_title()
        self._show_detail(self.view.cursor_line)

    # --- search ------------------------------------------------------------------------------

    async def action_search(self) -> None:
        search = self._search_field()
        if search is None:
            search = Input(placeholder="regex (lower case matches any case) · Enter: find · "
                                       "Esc: close", id="log-search", classes="-open")
            await self.mount(search)
        search.add_class("-open")
        search.value = self._search_text
        search.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "log-search":
            return
        event.stop()
        self._apply_search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "log-search":
            return
        event.stop()
        if self._apply_search(event.value):
            self._close_search(keep=True)
            if self.view.pattern is not None:
                self._jump(None, -1)

    def _apply_search(self, value: str) -> bool:
        search = self.query_one("#log-search", Input)  # it sent the value
        if not value:
            search.remove_class("-invalid")
            self._search_text = ""
            self.view.pattern = None
            self._say("")
            return True
        try:
            pattern = compile_search(value)
        except SearchError as exc:
            search.add_class("-invalid")
            self._say(f"✖ {exc}")
            return False
        search.remove_class("-invalid")
        self._search_text = value
        self.view.pattern = pattern
        self._say("")
        self._show_title()
        return True

    def _close_search(self, *, keep: bool) -> None:
        search = self.query_one("#log-search", Input)  # open, so mounted
        search.remove_class("-open", "-invalid")
        if not keep:
            self._search_text = ""
            self.view.pattern = None
            self._say("")
        self._show_title()
        self.view.focus()

    def action_next_match(self) -> None:
        self._jump(self.view.cursor_index, 1)

    def action_previous_match(self) -> None:
        self._jump(self.view.cursor_index, -1)

    def _jump(self, index: int | None, direction: int) -> None:
        view = self.view
        if view.pattern is None:
            self._say("no search: press / first")
            return
        if index is None:  # nothing selected: the newest match
            index, direction = len(view.lines), -1
        start = index + direction
        found = find_match(view.lines, view.pattern, start, direction)
        if found is None:
            self.app.bell()
            self._say(f"no {'newer' if direction > 0 else 'older'} match for "
                      f"/{self._search_text}/")
            return
        view.select(found)
