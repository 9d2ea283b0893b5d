"""The log tail's plain data: one parsed line, the bounded buffer and its counters, the
source's state, and the pure filter and search helpers the panel uses. No I/O, no Textual."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from types import MappingProxyType
from typing import Literal

import msgspec

from ppcockpit.durations import format_duration

Level = Literal["debug", "info", "warn", "error"]
# The level filter's thresholds: 1 errors only, 2 warnings and up, 3 info and up, 4 all.
LEVEL_RANK: Mapping[str, int] = MappingProxyType({"error": 1, "warn": 2, "info": 3, "debug": 4})
UNLEVELLED_RANK = 3  # a plain line (banner, stack frame) counts as info for the filter
ALL_LEVELS = 4
LEVEL_NAMES = {1: "errors", 2: "warn and up", 3: "info and up", 4: "all levels"}

DEFAULT_MAX_LINES = 10_000
RATE_WINDOW = 5.0  # seconds behind lines/s
ERROR_WINDOW = 60  # seconds behind errors/min
MAX_SEARCH_PATTERN = 500
MAX_SPANS = 64  # highlighted matches per line
MAX_EXTRA_DEPTH = 6  # nested fields deeper than this show as {…}

NO_EXTRAS: Mapping[str, object] = MappingProxyType({})
CUT_MARKER = re.compile(r" …\[cut at [\d,]+ bytes\]$")


def cut_marker(max_line_bytes: int) -> str:
    """What ends a line that was longer than the cap (and was cut there)."""
    return f" …[cut at {max_line_bytes:,} bytes]"


class LogLine(msgspec.Struct, frozen=True):
    """One line as the panel shows it. Every text is already safe: control sequences
    stripped, secrets redacted, at most the configured cap long (`cut` says it was cut)."""

    seq: int
    received_at: float
    raw: str
    time: str = ""
    level: Level | None = None
    route: str = ""
    method: str = ""
    provider: str = ""
    message: str = ""
    request_id: str = ""
    extras: Mapping[str, object] = msgspec.field(default_factory=lambda: NO_EXTRAS)
    is_json: bool = False  # the app's JSON format, shown in columns
    cut: bool = False
    marker: bool = False  # the cockpit's own deploy marker, not a line from the source

    @property
    def level_rank(self) -> int:
        return LEVEL_RANK[self.level] if self.level else UNLEVELLED_RANK


COLUMN_FIELDS = frozenset({"level", "message", "route", "method", "requestId"})


def extra_items(line: LogLine, limit: int = 40, width: int = 200) -> list[tuple[str, str]]:
    """The fields not shown in columns, flattened with dotted keys: `metadata.latencyMs`
    (the full `timestamp` included: the column shows only the time of day)."""
    items: list[tuple[str, str]] = []

    def walk(prefix: str, value: object, depth: int) -> None:
        if len(items) >= limit:
            return
        if isinstance(value, Mapping) and value and depth < MAX_EXTRA_DEPTH:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner, depth + 1)
            return
        items.append((prefix, _short(value, width)))

    for key, value in line.extras.items():
        if not (line.is_json and key in COLUMN_FIELDS):
            walk(str(key), value, 1)
    return items


def _short(value: object, width: int, depth: int = 0) -> str:
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list | tuple):
        inner = [_short(v, width, depth + 1) for v in value[:20]] if depth < MAX_EXTRA_DEPTH \
            else ["…"]
        text = "[" + ", ".join(inner) + "]"
    elif isinstance(value, Mapping):
        text = "{…}" if value else "{}"
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- the source's state -----------------------------------------------------------------

Phase = Literal["none", "connecting", "streaming", "down"]


class SourceState(msgspec.Struct, frozen=True):
    """Where the lines come from and whether they are coming."""

    phase: Phase = "none"
    source: str = ""  # "command: kubectl logs -f …", "ssh deploy@web1:22: …", "file: /var/…"
    since: float | None = None  # streaming since / down since (unix seconds)
    reason: str = ""  # why it is down, one safe line
    retry_at: float | None = None  # when the next attempt starts

    def describe(self, now: float) -> str:
        """One line for the panel: what is happening, since when, what comes next."""
        if self.phase == "none":
            return "no log source configured"
        if self.phase == "connecting":
            return f"… connecting: {self.source}"
        if self.phase == "streaming":
            return f"● streaming: {self.source}"
        parts = [f"✖ down: {self.source}"]
        if self.since is not None:
            clock = datetime.fromtimestamp(self.since).strftime("%H:%M:%S")
            parts.append(f"since {clock} ({format_duration(now - self.since)})")
        if self.reason:
            parts.append(self.reason)
        if self.retry_at is not None:
            left = self.retry_at - now
            parts.append(f"restarting in {left:.0f}s" if left >= 0.5 else "restarting now")
        return " · ".join(parts)


NO_SOURCE = SourceState()


# --- the buffer ---------------------------------------------------------------------------


class _Buckets:
    """Counts per whole second for the last `keep` seconds: a sliding-window rate."""

    __slots__ = ("_counts", "_keep")

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._counts: deque[list[int]] = deque()  # [second, count], oldest first

    def add(self, now: float, count: int) -> None:
        if count <= 0:
            return
        second = int(now)
        if self._counts and self._counts[-1][0] == second:
            self._counts[-1][1] += count
        else:
            self._counts.append([second, count])
        while self._counts and self._counts[0][0] <= second - self._keep:
            self._counts.popleft()

    def total(self, now: float, window: float) -> int:
        start = now - window
        return sum(count for second, count in self._counts if second + 1 > start)


class _Pause(msgspec.Struct):
    last_seq: int  # the newest line shown when the operator paused
    received: int  # the received counter then


class LogBuffer:
    """The last `max_lines` lines, with counters that account for every line ever received:
    `received + markers == len(self) + dropped` always holds."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, *,
                 clock: Callable[[], float] = time.time) -> None:
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self.max_lines = max_lines
        self.clock = clock
        self._lines: deque[LogLine] = deque(maxlen=max_lines)  # the oldest fall off
        self.next_seq = 1
        self.received = 0  # lines from the source, ever
        self.dropped = 0  # lines pushed out of the buffer by newer ones
        self.markers = 0
        self.errors = 0
        self.version = 0  # changes whenever anything the panel shows changes
        self.state: SourceState = NO_SOURCE
        self._rate = _Buckets(ERROR_WINDOW)
        self._error_rate = _Buckets(ERROR_WINDOW)
        self._pause: _Pause | None = None
        self._listeners: list[Callable[[], None]] = []

    # reading
    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[LogLine]:
        return iter(self._lines)

    @property
    def first_seq(self) -> int:
        return self._lines[0].seq if self._lines else self.next_seq

    def since(self, seq: int) -> list[LogLine]:
        """Lines newer than `seq`, oldest first."""
        lines = self._lines
        if not lines or seq >= lines[-1].seq:
            return []
        count = min(len(lines), lines[-1].seq - seq)
        newest = list(islice(reversed(lines), count))
        newest.reverse()
        return newest

    def lines_per_second(self, now: float | None = None) -> float:
        return self._rate.total(self.clock() if now is None else now, RATE_WINDOW) / RATE_WINDOW

    def errors_per_minute(self, now: float | None = None) -> int:
        return self._error_rate.total(self.clock() if now is None else now, ERROR_WINDOW)

    # writing
    def extend(self, lines: Sequence[LogLine], now: float | None = None) -> None:
        """Add lines from the source (their seq numbers come from `allocate`)."""
        if not lines:
            return
        now = self.clock() if now is None else now
        before = len(self._lines)
        self._lines.extend(lines)
        self.dropped += before + len(lines) - len(self._lines)
        errors = sum(1 for line in lines if line.level == "error")
        self.received += len(lines)
        self.errors += errors
        self._rate.add(now, len(lines))
        self._error_rate.add(now, errors)
        self.next_seq = max(self.next_seq, lines[-1].seq + 1)
        self._changed()

    def allocate(self, count: int) -> int:
        """The first of `count` consecutive seq numbers for lines about to be added."""
        first = self.next_seq
        self.next_seq += count
        return first

    def mark_deploy(self, at: datetime) -> LogLine:
        """A marker line where the operator marked the deploy; it passes every filter."""
        stamp = at.astimezone(UTC)
        text = f"──── deploy marked {stamp:%H:%M:%S} UTC ────"
        line = LogLine(seq=self.allocate(1), received_at=self.clock(), raw=text, message=text,
                       time=f"{stamp:%H:%M:%S}", marker=True)
        if len(self._lines) == self.max_lines:
            self.dropped += 1
        self._lines.append(line)
        self.markers += 1
        self._changed()
        return line

    def set_state(self, state: SourceState) -> None:
        if state != self.state:
            self.state = state
            self._changed()

    # pausing: new lines keep arriving and are counted; the view stays where it is
    @property
    def paused(self) -> bool:
        return self._pause is not None

    @property
    def paused_at_seq(self) -> int | None:
        return None if self._pause is None else self._pause.last_seq

    def pause(self) -> None:
        if self._pause is None:
            self._pause = _Pause(self.next_seq - 1, self.received)
            self._changed()

    def resume(self) -> None:
        if self._pause is not None:
            self._pause = None
            self._changed()

    @property
    def new_while_paused(self) -> int:
        return 0 if self._pause is None else self.received - self._pause.received

    @property
    def lost_while_paused(self) -> int:
        """Lines that arrived while paused and were pushed out before anyone saw them."""
        if self._pause is None:
            return 0
        return max(0, self.first_seq - self._pause.last_seq - 1)

    # listeners: called (on the caller's loop) after every change; they must be cheap
    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _changed(self) -> None:
        self.version += 1
        for listener in tuple(self._listeners):
            listener()

    def texts(self) -> tuple[str, ...]:
        """Every line in the buffer as text, for saving: exactly what the panel holds."""
        return tuple(line.raw for line in self._lines)


# --- filters and search ---------------------------------------------------------------------


class LogFilter(msgspec.Struct, frozen=True):
    """Which lines the panel shows. Deploy markers pass every filter."""

    level: int = ALL_LEVELS
    provider: str | None = None
    request_id: str | None = None

    def passes(self, line: LogLine) -> bool:
        if line.marker:
            return True
        if self.level < ALL_LEVELS and line.level_rank > self.level:
            return False
        if self.provider is not None and line.provider != self.provider:
            return False
        return self.request_id is None or line.request_id == self.request_id

    @property
    def active(self) -> bool:
        return self != LogFilter()

    def describe(self) -> str:
        parts = []
        if self.level < ALL_LEVELS:
            parts.append(LEVEL_NAMES[self.level])
        if self.provider is not None:
            parts.append(f"provider {self.provider}")
        if self.request_id is not None:
            parts.append(f"request {self.request_id}")
        return " · ".join(parts)


def filter_lines(lines: Iterable[LogLine], flt: LogFilter) -> list[LogLine]:
    if not flt.active:
        return list(lines)
    passes = flt.passes
    return [line for line in lines if passes(line)]


class SearchError(ValueError):
    """The operator's search pattern is not a regular expression Python accepts."""


def compile_search(pattern: str) -> re.Pattern[str]:
    """The operator's regex. Lower case only: case-insensitive ("smart case", as in less)."""
    if len(pattern) > MAX_SEARCH_PATTERN:
        raise SearchError(f"pattern longer than {MAX_SEARCH_PATTERN} characters")
    flags = 0 if any(ch.isupper() for ch in pattern) else re.IGNORECASE
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise SearchError(f"invalid regex: {exc.msg}{where}") from None
    except (RecursionError, OverflowError, ValueError) as exc:
        raise SearchError(f"invalid regex: {exc}") from None


def match_spans(pattern: re.Pattern[str], text: str,
                limit: int = MAX_SPANS) -> list[tuple[int, int]]:
    """Where `pattern` matches in `text` (empty matches skipped), at most `limit` spans."""
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if end > start:
            spans.append((start, end))
            if len(spans) >= limit:
                break
    return spans


def line_matches(pattern: re.Pattern[str], line: LogLine) -> bool:
    """A line matches when its full text does (extras included): `n` finds by user id."""
    return pattern.search(line.raw) is not None


def find_match(lines: Sequence[LogLine], pattern: re.Pattern[str], start: int,
               direction: int) -> int | None:
    """The index of the nearest matching line from `start` (inclusive) in `direction`
    (+1 newer, -1 older); None when there is none."""
    indices = range(start, len(lines)) if direction > 0 else range(start, -1, -1)
    for index in indices:
        if 0 <= index < len(lines) and line_matches(pattern, lines[index]):
            return index
    return None


class Counters(msgspec.Struct, frozen=True):
    """What the panel's title shows, read from the buffer in one go."""

    lines_per_second: float
    errors_per_minute: int
    received: int
    dropped: int
    in_buffer: int
    paused: bool
    new_while_paused: int
    lost_while_paused: int

    @classmethod
    def of(cls, buffer: LogBuffer, now: float) -> Counters:
        return cls(buffer.lines_per_second(now), buffer.errors_per_minute(now), buffer.received,
                   buffer.dropped, len(buffer), buffer.paused, buffer.new_while_paused,
                   buffer.lost_while_paused)


def rate_text(per_second: float) -> str:
    if per_second >= 10_000:
        return f"{per_second / 1000:.0f}k"
    if per_second >= 1000:
        return f"{per_second / 1000:.1f}k"
    if per_second >= 10 or per_second == 0:
        return f"{per_second:.0f}"
    return f"{per_second:.1f}"
