"""Just enough HogQL to answer the cockpit's per-minute count query (contracts.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
_MINUTE = re.compile(r"toStartOfMinute\(\s*timestamp\s*\)\s+AS\s+(\w+)", re.I)
_COUNT = re.compile(r"countIf\(\s*event\s*=\s*'((?:[^'\\]|\\.)*)'\s*\)\s+AS\s+(\w+)", re.I)
_INTERVAL = re.compile(r"INTERVAL\s+(\d+)\s+(MINUTE|HOUR|DAY)\b", re.I)
_ORDER = re.compile(r"ORDER\s+BY\s+(\w+)(?:\s+(ASC|DESC))?", re.I)
_LIMIT = re.compile(r"\bLIMIT\s+(\d+)", re.I)
_FROM_EVENTS = re.compile(r"\bFROM\s+events\b", re.I)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class HogQLError(ValueError):
    """The query is not one this stand-in can answer; the message says why."""


@dataclass(frozen=True, slots=True)
class CountQuery:
    minute_alias: str
    counts: tuple[tuple[str, str], ...]  # (column alias, event name)
    window_seconds: int
    descending: bool
    limit: int


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal)


def parse_count_query(text: object) -> CountQuery:
    if not isinstance(text, str) or not text.strip():
        raise HogQLError("Query is empty")
    minute = _MINUTE.search(text)
    counts = [(alias, _unescape(event)) for event, alias in _COUNT.findall(text)]
    interval = _INTERVAL.search(text)
    if not _FROM_EVENTS.search(text):
        raise HogQLError("Unknown table: this stand-in only has `events`")
    if minute is None or not counts:
        raise HogQLError(
            "Syntax error: expected toStartOfMinute(timestamp) AS ... and "
            "countIf(event = '...') AS ... columns")
    if interval is None:
        raise HogQLError("Expected WHERE timestamp > now() - INTERVAL N MINUTE")
    order = _ORDER.search(text)
    limit_match = _LIMIT.search(text)
    limit = int(limit_match.group(1)) if limit_match else DEFAULT_LIMIT
    if not 0 < limit <= MAX_LIMIT:
        raise HogQLError(f"LIMIT must be between 1 and {MAX_LIMIT}")
    window = int(interval.group(1)) * _UNIT_SECONDS[interval.group(2).lower()]
    return CountQuery(
        minute_alias=minute.group(1),
        counts=tuple(counts),
        window_seconds=window,
        descending=bool(order and (order.group(2) or "").upper() == "DESC"),
        limit=limit,
    )
