"""How long a rate-limited target asked us to wait: one reader for every probe.

Reads `Retry-After` (delay-seconds or an HTTP-date, RFC 9110) and the `X-RateLimit-Reset`
style (seconds, or a unix time when the number is that large). Whatever the header says, the
answer is None (nothing usable) or a wait between MIN_WAIT and MAX_WAIT seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC

MIN_WAIT = 1.0
MAX_WAIT = 3600.0
_EPOCH_FROM = 1_000_000_000.0  # a number this large is a unix time (2001 on), not a delay
_MAX_TEXT = 100  # no real header value is longer; parsing long garbage is wasted work


def parse_wait(value: str | None, now: float) -> float | None:
    """Seconds to wait from one header value; `now` is the unix time (for dates)."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _from_http_date(text, now)
        if seconds is None:
            return None
    else:
        if math.isnan(seconds) or seconds < 0:
            return None
        if _EPOCH_FROM <= seconds < math.inf:
            seconds -= now
    return min(max(seconds, MIN_WAIT), MAX_WAIT)


def _from_http_date(text: str, now: float) -> float | None:
    import email.utils  # only for a dated Retry-After: ~2 ms off the cockpit's start

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": the zone is unknown; HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp() - now
    except (OverflowError, OSError, ValueError):
        return None


def wait_from_headers(headers: Mapping[str, str], now: float,
                      names: Iterable[str] = ("retry-after",)) -> float | None:
    """The first usable wait among the `names` headers (looked up as given)."""
    for name in names:
        wait = parse_wait(headers.get(name), now)
        if wait is not None:
            return wait
    return None
