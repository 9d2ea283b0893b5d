"""Durations as people write them in cockpit.toml: "500ms", "5s", "15m", "24h"."""

from __future__ import annotations

import re

from ppcockpit.text import escape_controls

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,9})?)\s*(ms|s|m|h|d)\s*$")
MAX_DURATION = 365 * 86400.0  # a year: anything longer is a typo, not a setting


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError with the accepted forms when it is not a duration."""
    match = _PATTERN.match(text) if len(text) <= 40 else None
    if not match:
        shown = repr(text) if len(text) <= 40 else repr(text[:39] + "…")
        raise ValueError(
            f"{escape_controls(shown)} is not a duration: write a number and a unit, e.g. "
            '"500ms", "5s", "15m", "24h"'
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION:
        raise ValueError(f"{text.strip()!r} is too long a duration: at most 365d")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: 850ms, 12s, 3m, 2h 5m, 3d 4h."""
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        minutes = rest // 60
        return f"{hours:.0f}h {minutes:.0f}m" if minutes else f"{hours:.0f}h"
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    return f"{days:.0f}d {hours:.0f}h" if hours else f"{days:.0f}d"
