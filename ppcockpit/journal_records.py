"""One line of a session journal: how an event becomes a redacted, bounded JSON line, and how
lines are read back, every bad one reported and skipped. Pure: no I/O.

A line is `{"v": 1, "seq": n, "at": ISO-8601 UTC, "event": name, "session": id,
"operator": ..., "environment": ..., **fields}` followed by a newline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import msgspec

VERSION = 1
MAX_EVENT_BYTES = 64 * 1024  # a line longer than this has its largest strings cut
MAX_READ_LINE_BYTES = 4 * MAX_EVENT_BYTES  # longer lines are skipped unread (not ours)
MAX_OPERATOR_CHARS = 200
MAX_ENVIRONMENT_CHARS = 200
MAX_DEPTH = 32  # deeper values are replaced by a mark
HEADER = ("v", "seq", "at", "event", "session", "operator", "environment")
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SESSION_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9-]{1,40}-[0-9a-f]{4,16}$")
_MIN_KEPT = 64  # a cut string keeps at least this many characters
_MAX_CUTS = 64


class NewEvent(msgspec.Struct, frozen=True):
    """What a caller asks the journal to record: the store adds seq, time and session."""

    event: str
    operator: str
    fields: Mapping[str, Any] = msgspec.field(default_factory=dict)


class JournalEvent(msgspec.Struct, frozen=True):
    """One recorded event, as read back or as just written."""

    seq: int
    at: str
    event: str
    session: str
    operator: str
    environment: str
    fields: dict[str, Any] = msgspec.field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def record(self) -> dict[str, Any]:
        """The event as written: header first, then its own fields."""
        return {"v": VERSION, "seq": self.seq, "at": self.at, "event": self.event,
                "session": self.session, "operator": self.operator,
                "environment": self.environment, **self.fields}


class JournalProblem(msgspec.Struct, frozen=True):
    """A line that could not be read: where, and why (never its content)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class SessionInfo(msgspec.Struct, frozen=True):
    """One deployment session, summarised from its events."""

    id: str
    environment: str
    operators: tuple[str, ...]  # in the order they first acted
    opened_at: str
    closed: bool
    last_event_at: str
    event_count: int
    problems: int = 0  # lines that could not be read
    meta: dict[str, Any] = msgspec.field(default_factory=dict)  # the session_opened event's fields


class JournalRead(msgspec.Struct, frozen=True):
    """A session's events in order, and every line that had to be skipped."""

    session_id: str
    events: list[JournalEvent]
    problems: list[JournalProblem]
    info: SessionInfo | None  # None when not one event of the session could be read


def timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds: `2026-12-01T17:09:00.123456Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- writing --------------------------------------------------------------------------------

def plain(value: Any, depth: int = 0) -> Any:
    """`value` as JSON data: strings, numbers, booleans, None, lists and string-keyed dicts.
    Paths, datetimes, enums and the rest become strings; NaN and infinities too (JSON has
    none); lone surrogates (undecodable bytes) become visible escapes."""
    if value is None or type(value) in (bool, int):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # IntEnum and friends
        return int(value)
    if isinstance(value, str):
        return _valid_text(str(value))
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        return "[too deeply nested]"
    if isinstance(value, Mapping):
        return {_valid_text(str(k)): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return _valid_text(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, datetime):
        return timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, PurePath):
        return _valid_text(str(value))
    return _valid_text(str(value))


def _valid_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"


def build_line(new: NewEvent, *, session: str, seq: int, at: str, environment: str,
               redact: Callable[[Any], Any], cap: int = MAX_EVENT_BYTES,
               ) -> tuple[bytes, JournalEvent]:
    """The line to append for `new`, and the event it records. Fields are made plain, then
    redacted (structured: before serialising), then cut until the line fits in `cap`."""
    if not EVENT_NAME.match(new.event):
        raise ValueError(f"not an event name: {new.event!r}")
    clashes = sorted(set(map(str, new.fields)) & set(HEADER))
    if clashes:
        raise ValueError(f"event fields may not be named {', '.join(clashes)}")
    fields = redact(plain(dict(new.fields)))
    operator = redact(plain(new.operator if isinstance(new.operator, str) else str(new.operator)))
    operator = _cut(operator, MAX_OPERATOR_CHARS)
    event = JournalEvent(seq=seq, at=at, event=new.event, session=session, operator=operator,
                         environment=environment, fields=fields)
    line = encode(event.record())
    if len(line) <= cap:
        return line, event
    fields = _shrink(event, cap)
    event = JournalEvent(seq=seq, at=at, event=new.event, session=session, operator=operator,
                         environment=environment, fields=fields)
    return encode(event.record()), event


def _cut(text: str, keep: int) -> str:
    """`text` with its middle cut, when longer than `keep`: the start and the (more useful)
    end remain, with a mark saying how much went."""
    if len(text) <= keep:
        return text
    head = keep // 4
    tail = keep - head
    return f"{text[:head]}…[{len(text) - keep} characters cut]…{text[len(text) - tail:]}"


def _shrink(event: JournalEvent, cap: int) -> dict[str, Any]:
    """The event's fields with their longest strings cut until the line fits in `cap`; when
    cutting strings is not enough (a huge list of small values), the fields are replaced by
    a note naming them."""
    fields = json.loads(json.dumps(event.fields))  # a private copy to cut in place
    for _ in range(_MAX_CUTS):
        size = len(encode({**_header(event), **fields}))
        excess = size - cap
        if excess <= 0:
            return fields
        holder, key, text = _longest_string(fields)
        if holder is None or len(text) <= _MIN_KEPT:
            break
        encoded = len(json.dumps(text, ensure_ascii=False).encode("utf-8"))
        room = max(0, encoded - excess - 64)  # 64: the mark, with room to spare
        holder[key] = _cut(text, max(_MIN_KEPT, len(text) * room // encoded))
    names = [_cut(str(name), 60) for name in list(event.fields)[:32]]
    return {"cut": f"the event's fields did not fit in {cap // 1024} KiB and were dropped",
            "fields_dropped": names}


def _header(event: JournalEvent) -> dict[str, Any]:
    return {key: value for key, value in event.record().items() if key in HEADER}


def _longest_string(data: Any) -> tuple[Any, Any, str]:
    """The container, key and text of the longest string value in `data`."""
    best: tuple[Any, Any, str] = (None, None, "")
    stack = [data]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, str):
                if len(value) > len(best[2]):
                    best = (node, key, value)
            elif isinstance(value, dict | list):
                stack.append(value)
    return best


# --- reading --------------------------------------------------------------------------------

def parse_line(raw: bytes, session_id: str) -> JournalEvent | str:
    """The event on one line (without its newline), or why it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text (corrupt), skipped"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return "not a JSON event (torn or corrupt), skipped"
    if not isinstance(data, dict):
        return "not a JSON object, skipped"
    version = data.get("v")
    if version != VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            return f"written in a newer journal format (v{version}), skipped"
        return "not a journal event (no format version), skipped"
    seq, at, name = data.get("seq"), data.get("at"), data.get("event")
    operator, environment = data.get("operator"), data.get("environment")
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1):
        return "an event without a valid seq, skipped"
    if not all(isinstance(v, str) for v in (at, name, operator, environment)):
        return "an event without its time, name, operator or environment, skipped"
    if data.get("session") != session_id:
        return "an event of another session, skipped"
    fields = {key: value for key, value in data.items() if key not in HEADER}
    return JournalEvent(seq=seq, at=at, event=name, session=session_id, operator=operator,
                        environment=environment, fields=fields)


class SessionFold:
    """Reads a session's lines one by one: events in order, every bad line a problem."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.events: list[JournalEvent] = []
        self.problems: list[JournalProblem] = []
        self.ends_with_newline = True

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0

    def too_long(self, number: int, terminated: bool) -> None:
        self.ends_with_newline = terminated
        self.problems.append(JournalProblem(
            number, f"longer than {MAX_READ_LINE_BYTES // 1024} KiB (not an event), skipped"))

    def add(self, number: int, raw: bytes, terminated: bool) -> None:
        """Line `number` (1-based, without its newline); `terminated`: a newline followed."""
        self.ends_with_newline = terminated
        if not raw.strip():
            return
        parsed = parse_line(raw, self.session_id)
        if isinstance(parsed, str):
            if not terminated:
                parsed = (f"the last line is incomplete ({len(raw)} bytes; a write cut short "
                          "by a crash?), skipped")
            self.problems.append(JournalProblem(number, parsed))
            return
        if parsed.seq <= self.last_seq:
            self.problems.append(JournalProblem(
                number, f"seq {parsed.seq} repeats or goes back (after {self.last_seq}), "
                        "skipped"))
            return
        if parsed.seq > self.last_seq + 1:
            self.problems.append(JournalProblem(
                number, f"seq jumps from {self.last_seq} to {parsed.seq}: "
                        f"{parsed.seq - self.last_seq - 1} event(s) missing before this line"))
        self.events.append(parsed)

    def result(self) -> JournalRead:
        return JournalRead(self.session_id, self.events, self.problems,
                           summarise(self.session_id, self.events, len(self.problems)))


def summarise(session_id: str, events: list[JournalEvent], problems: int = 0,
              ) -> SessionInfo | None:
    if not events:
        return None
    opened = next((e for e in events if e.event == "session_opened"), events[0])
    operators = tuple(dict.fromkeys(e.operator for e in events))
    return SessionInfo(
        id=session_id, environment=opened.environment, operators=operators,
        opened_at=opened.at, closed=any(e.event == "session_closed" for e in events),
        last_event_at=events[-1].at, event_count=len(events), problems=problems,
        meta=dict(opened.fields) if opened.event == "session_opened" else {})
