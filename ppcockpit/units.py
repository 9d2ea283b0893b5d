"""One way to show a share and a size, and one way to judge a share against a threshold.

The rule, everywhere (probe summaries, screens, `check`): a share is shown cut down to its
precision, never rounded up (0.897 of maxmemory is "89%"), and a threshold is judged on the
value as shown. So a breach is never shown before it happens, and what the engineer reads is
what was judged: a memory shown as "90%" has reached a 90% threshold, one shown as "89%" has
not. Sizes follow the same rule (89.97 MiB is "89.9 MiB", never "90 MiB").
"""

from __future__ import annotations

import math

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
# Shares come from float division (29/100 * 100 == 28.999999999999996): this much is noise.
_EPSILON = 1e-9

MEMORY_DECIMALS = 0  # Redis memory against maxmemory: whole percents
RATIO_DECIMALS = 1  # PostHog's failure ratio: 7.4%
THRESHOLD_DECIMALS = 2  # thresholds are configured, shown as written: 75%, 2.5%, 0.25%


def shown_percent(share: float, decimals: int = 0) -> float:
    """`share` in percent, cut down (toward zero) to `decimals` decimals: the value shown."""
    scale = 10**decimals
    value = share * 100 * scale
    cut = math.floor(value + _EPSILON) if value >= 0 else math.ceil(value - _EPSILON)
    return cut / scale


def percent(share: float | None, decimals: int = 0) -> str:
    """0.897 → "89%"; 0.074 (one decimal) → "7.4%"; 0.05 → "5%"; None → "-"."""
    if share is None or not math.isfinite(share):
        return "-"
    value = shown_percent(share, decimals)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{'0' if text in ('-0', '') else text}%"


def threshold_percent(share: float) -> str:
    """A configured threshold as written: 0.9 → "90%", 0.755 → "75.5%"."""
    return percent(share, THRESHOLD_DECIMALS)


def _threshold_value(share: float) -> float:
    return round(share * 100, 9)


def reaches(share: float, threshold: float, decimals: int = 0) -> bool:
    """`share`, as shown at `decimals`, is at or above `threshold` (a "≥ 90%" rule)."""
    return shown_percent(share, decimals) >= _threshold_value(threshold)


def exceeds(share: float, threshold: float, decimals: int = 0) -> bool:
    """`share`, as shown at `decimals`, is above `threshold` (a "> 5%" rule)."""
    return shown_percent(share, decimals) > _threshold_value(threshold)


def size(num_bytes: float | None) -> str:
    """Binary units, one decimal where it matters, cut down: 512 B, 12.3 MiB, 64 MiB."""
    if num_bytes is None or not math.isfinite(num_bytes):
        return "-"
    if num_bytes < 0:
        return "-" + size(-num_bytes)
    whole = int(num_bytes)  # bytes are whole; integer arithmetic keeps 2**64 - 1 exact
    unit = 0
    while unit < len(_BYTE_UNITS) - 1 and whole >= 1024 ** (unit + 1):
        unit += 1
    if unit == 0:
        return f"{whole} B"
    tenths = whole * 10 // 1024**unit
    text = f"{tenths // 10}" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"
    return f"{text} {_BYTE_UNITS[unit]}"
