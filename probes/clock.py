"""Times a target reports are checked against the environment's clock, never trusted.

A row, a backup or a migration dated further ahead than a small clock-skew allowance is
"from the future": it is ignored (it must not make a stale set fresh or move a window past
the minutes that failed), counted, and reported, and the reading is degraded at least.
"""

from __future__ import annotations

from datetime import timedelta

CLOCK_SKEW_S = 120.0  # two clocks that disagree by this much are still both believable
CLOCK_SKEW = timedelta(seconds=CLOCK_SKEW_S)


def from_the_future(at: float, now: float) -> bool:
    """`at` (unix seconds, from the target) is later than `now` plus the allowance."""
    return at > now + CLOCK_SKEW_S


def future_note(count: int, what: str) -> str:
    """"1 backup from the future ignored", "3 rows from the future ignored"."""
    return f"{count} {what if count == 1 else what + 's'} from the future ignored"
