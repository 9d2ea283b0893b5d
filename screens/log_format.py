"""The log tail's text: one line as a row of columns (rich Text, built from strings that are
already safe, never from markup), and the panel's title and detail lines. No widgets."""

from __future__ import annotations

import re

import msgspec
from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text

from ppcockpit.logs import (
    CUT_MARKER,
    Counters,
    LogFilter,
    LogLine,
    extra_items,
    match_spans,
    rate_text,
)

LEVEL_CELLS = {"error": "✖ error", "warn": "▲ warn", "info": "● info", "debug": "· debug"}
LEVEL_WIDTH = 7
HIGHLIGHT_LIMIT = 4096


class Columns(msgspec.Struct, frozen=True):
    """Column widths for a panel this wide: narrow terminals drop the request id column
    (the selected line's details show it in full)."""

    time: int
    route: int
    provider: int
    request_id: int

    @classmethod
    def for_width(cls, width: int) -> Columns:
        if width >= 140:
            return cls(12, 18, 10, 12)
        if width >= 100:
            return cls(12, 14, 10, 8)
        return cls(8, 10, 9, 0)

    @property
    def raw_indent(self) -> int:
        return self.time + 1 + LEVEL_WIDTH + 1

    @property
    def json_indent(self) -> int:
        rid = self.request_id + 1 if self.request_id else 0
        return self.raw_indent + self.route + 1 + self.provider + 1 + rid

    def indent(self, line: LogLine) -> int:
        if line.marker:
            return 0
        return self.json_indent if line.is_json else self.raw_indent


def fit(text: str, width: int) -> str:
    """Exactly `width` cells: padded, or cut with an ellipsis."""
    size = len(text) if text.isascii() else cell_len(text)
    if size <= width:
        return text + " " * (width - size)
    return set_cell_size(text, width - 1) + "…"


def body_of(line: LogLine) -> str:
    """What follows the columns: the message (and the error's own message), or the raw
    text of a line that is not the app's JSON."""
    if not line.is_json or line.marker:
        return line.raw
    error = line.extras.get("error")
    if isinstance(error, dict):
        detail = error.get("message")
        if isinstance(detail, str) and detail and detail != line.message:
            return f"{line.message} — {detail}"
    return line.message


def row_length(line: LogLine, columns: Columns) -> int:
    body = body_of(line)
    return columns.indent(line) + (len(body) if body.isascii() else cell_len(body))


def row_text(line: LogLine, columns: Columns, styles: dict[str, Style],
             pattern: re.Pattern[str] | None) -> Text:
    """One row as Text. Every string in it is outside text, appended as plain text."""
    text = Text(no_wrap=True, end="")
    if line.marker:
        text.append(line.raw, styles["log--marker"])
    else:
        # a narrow time column keeps HH:MM:SS and drops the milliseconds, no ellipsis
        text.append(fit(line.time[: columns.time], columns.time), styles["log--time"])
        text.append(" ")
        if line.level:
            text.append(fit(LEVEL_CELLS[line.level], LEVEL_WIDTH), styles[f"log--{line.level}"])
        else:
            text.append(" " * LEVEL_WIDTH)
        text.append(" ")
        if line.is_json:
            text.append(fit(line.route, columns.route), styles["log--route"])
            text.append(" ")
            text.append(fit(line.provider, columns.provider), styles["log--provider"])
            text.append(" ")
            if columns.request_id:
                text.append(fit(line.request_id, columns.request_id), styles["log--request-id"])
                text.append(" ")
            message_style = styles["log--error-message"] if line.level == "error" else None
            text.append(body_of(line), message_style)
        else:
            marker = CUT_MARKER.search(line.raw) if line.cut else None
            end = marker.start() if marker else len(line.raw)
            text.append(line.raw[:end], styles["log--raw"])
            if marker:
                text.append(line.raw[end:], styles["log--cut"])
    if pattern is not None:  # a row shows a few hundred cells: no need to search 16 KiB
        for start, end in match_spans(pattern, text.plain[:HIGHLIGHT_LIMIT]):
            text.stylize(styles["log--match"], start, end)
    return text


def title_text(heading: str, counters: Counters) -> str:
    """`Logs · 52k lines/s · 12 errors/min · ▶ following` (or paused, with what came since)."""
    parts = [heading, f"{rate_text(counters.lines_per_second)} lines/s",
             f"{counters.errors_per_minute} errors/min"]
    if counters.paused:
        paused = f"⏸ paused · {counters.new_while_paused:,} new"
        if counters.lost_while_paused:
            paused += f" ({counters.lost_while_paused:,} past the buffer)"
        parts.append(paused)
    else:
        parts.append("▶ following")
    return " · ".join(parts)


def subtitle_text(flt: LogFilter, shown: int, held: int, search: str | None,
                  wrap: bool) -> str:
    """What narrows the view: `errors · provider openai · 12 of 10,000 lines · /rate/`."""
    parts = []
    if flt.active:
        parts += [flt.describe(), f"{shown:,} of {held:,} lines"]
    if search is not None:
        parts.append(f"/{search}/")
    if wrap:
        parts.append("wrap")
    return " · ".join(parts)


DETAIL_KEYS = "Enter: only this request · f: only this provider · Esc: clear filters"


def detail_text(line: LogLine, width: int) -> str:
    """The selected line's other fields in at most two rows of `width`, then the keys."""
    parts = []
    if line.request_id:
        parts.append(f"request {line.request_id}")
    if line.method or line.route:
        parts.append(f"{line.method} {line.route}".strip())
    parts += [f"{key}={value}" for key, value in extra_items(line)]
    if not line.is_json:
        parts.append(f"#{line.seq}")
    fields = " · ".join(parts)
    if len(fields) > 2 * width:
        fields = fields[: 2 * width - 1] + "…"
    rows = [fields[:width], fields[width:].lstrip()] if fields else []
    return "\n".join([*filter(None, rows), DETAIL_KEYS])
