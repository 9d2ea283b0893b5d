"""Turning one Redis INFO reply into the Redis probe's numbers, status and summary.

Pure functions, no I/O: the reply is parsed tolerantly (fields may be missing, be strings or
be nonsense) and a reply without `used_memory` is reported as unexpected, never raised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from ppcockpit.model import Status
from ppcockpit.text import one_line
from ppcockpit.units import MEMORY_DECIMALS, percent, reaches, size, threshold_percent

# Server counters that only grow while the server lives; reported as increases.
COUNTER_FIELDS = ("rejected_connections", "evicted_keys")
# Redis counts in 64-bit integers: anything larger did not come from a real server.
_MAX_COUNT = 2**64
# The share of the limit in use, kept to 0.01%: this one value is judged, shown and reported.
RATIO_DIGITS = 4
UNEXPECTED = "unexpected INFO reply"


class Counters(msgspec.Struct, frozen=True):
    """Monotonic server counters: the last raw value seen and the increase since the start."""

    last: Mapping[str, int] = msgspec.field(default_factory=dict)
    increase: Mapping[str, int] = msgspec.field(default_factory=dict)

    def advance(self, observed: Mapping[str, int | None]) -> Counters:
        """Fold in the values of one reading.

        A value lower than the last one means the server restarted (or its stats were
        reset): the increase so far is kept and the new value becomes the baseline.
        """
        last = dict(self.last)
        increase = dict(self.increase)
        for name, value in observed.items():
            if value is None:
                continue
            if name in last and value >= last[name]:
                increase[name] = increase.get(name, 0) + value - last[name]
            else:
                increase.setdefault(name, 0)
            last[name] = value
        return Counters(last=last, increase=increase)

    def delta(self, name: str) -> int | None:
        return self.increase.get(name)


class InfoSummary(msgspec.Struct, frozen=True):
    """What one INFO reply says, in the Reading's vocabulary."""

    status: Status
    summary: str
    metrics: dict[str, float | int | None]
    details: dict[str, Any]
    counters: Counters
    label: str | None = None  # the threshold reached ("memory ≥ 90%"), or None


class UnexpectedInfo(msgspec.Struct, frozen=True):
    """The reply cannot be read as Redis INFO; `reason` is one safe line."""

    reason: str


def summarize_info(info: Mapping[str, object], warn: float, crit: float,
                   baseline: Counters | None) -> InfoSummary | UnexpectedInfo:
    """Numbers, status and one-line summary from an INFO reply (never raises).

    `warn`/`crit` are shares of the memory limit (maxmemory, or the machine's memory when
    maxmemory is 0). `baseline` carries the counters of earlier readings (None at first).
    """
    if not isinstance(info, Mapping):
        return UnexpectedInfo(f"{UNEXPECTED}: not a list of fields")
    used = count(info.get("used_memory"))
    if used is None:
        return UnexpectedInfo(f"{UNEXPECTED}: no used_memory")
    maxmemory = count(info.get("maxmemory"))
    system_memory = count(info.get("total_system_memory"))
    limit, measured_against = _memory_limit(maxmemory, system_memory)
    ratio = round(used / limit, RATIO_DIGITS) if limit else None
    status = _memory_status(ratio, warn, crit)

    clients = count(info.get("connected_clients"))
    others = max(0, clients - 1) if clients is not None else None  # minus our own connection
    ops = count(info.get("instantaneous_ops_per_sec"))
    counters = (baseline or Counters()).advance(
        {name: count(info.get(name)) for name in COUNTER_FIELDS}
    )
    metrics: dict[str, float | int | None] = {
        "used_memory": used,
        "maxmemory": maxmemory,
        "memory_ratio": ratio,
        "connected_clients": others,
        "blocked_clients": count(info.get("blocked_clients")),
        "ops_per_sec": ops,
        "used_memory_rss": count(info.get("used_memory_rss")),
        "mem_fragmentation_ratio": real(info.get("mem_fragmentation_ratio")),
        "total_system_memory": system_memory,
        "rejected_connections_delta": counters.delta("rejected_connections"),
        "evicted_keys_delta": counters.delta("evicted_keys"),
    }
    details: dict[str, Any] = {
        "redis_version": word(info.get("redis_version")),
        "maxmemory_policy": word(info.get("maxmemory_policy")),
        "measured_against": measured_against,
        "used_memory_human": size(used),
        "maxmemory_human": size(maxmemory) if maxmemory else "no limit",
        "role": word(info.get("role")),
    }
    memory = _memory_phrase(used, ratio, limit, measured_against, status, warn, crit)
    parts = [memory]
    if others is not None:
        parts.append(f"{others:,} client" + ("" if others == 1 else "s"))
    if ops is not None:
        parts.append(f"{ops:,} ops/s")
    return InfoSummary(status=status, summary=" · ".join(parts), metrics=metrics,
                       details=details, counters=counters,
                       label=_memory_label(status, warn, crit))


def _memory_limit(maxmemory: int | None,
                  system_memory: int | None) -> tuple[int | None, str | None]:
    if maxmemory:
        return maxmemory, "maxmemory"
    if system_memory:
        return system_memory, "total_system_memory"
    return None, None


def _memory_status(ratio: float | None, warn: float, crit: float) -> Status:
    if ratio is None:
        return Status.HEALTHY  # nothing to measure against: no threshold can be breached
    if reaches(ratio, crit, MEMORY_DECIMALS):
        return Status.UNAVAILABLE
    if reaches(ratio, warn, MEMORY_DECIMALS):
        return Status.DEGRADED
    return Status.HEALTHY


def _memory_label(status: Status, warn: float, crit: float) -> str | None:
    """Which threshold the memory has reached, in a status column's few words."""
    if status is Status.UNAVAILABLE:
        return f"memory ≥ {threshold_percent(crit)}"
    if status is Status.DEGRADED:
        return f"memory ≥ {threshold_percent(warn)}"
    return None


def _memory_phrase(used: int, ratio: float | None, limit: int | None,
                   measured_against: str | None, status: Status,
                   warn: float, crit: float) -> str:
    if ratio is None or limit is None:
        return f"memory {size(used)} used (no maxmemory set)"
    share = f"memory {percent(ratio, MEMORY_DECIMALS)}"
    notes = []
    if status is Status.UNAVAILABLE:
        notes.append(f"critical ≥ {threshold_percent(crit)}")
    elif status is Status.DEGRADED:
        notes.append(f"warning ≥ {threshold_percent(warn)}")
    breached = bool(notes)
    if measured_against == "maxmemory":
        of = "maxmemory" if breached else size(limit)
    else:
        of = "system memory" if breached else f"{size(limit)} system memory"
        notes.append("no maxmemory set")
    return f"{share} of {of} ({'; '.join(notes)})" if notes else f"{share} of {of}"


def count(value: object) -> int | None:
    """A non-negative 64-bit integer from an int, an integral float or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = _number_from_text(value)
    if isinstance(value, int):
        return value if 0 <= value < _MAX_COUNT else None
    if isinstance(value, float) and math.isfinite(value) and 0 <= value < _MAX_COUNT:
        return int(value)
    return None


def real(value: object) -> float | None:
    """A finite non-negative float from a number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = _number_from_text(value)
    if isinstance(value, int) and 0 <= value < _MAX_COUNT:
        return float(value)
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return value
    return None


def _number_from_text(text: str) -> int | float | None:
    cleaned = text.strip()
    if len(cleaned) > 40:  # no real INFO number is this long; int() of huge text is slow
        return None
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        return float(cleaned)
    except ValueError:
        return None


def word(value: object) -> str | None:
    """A short, control-free string for a details field (None when absent)."""
    if value is None:
        return None
    return one_line(value, limit=60) or None
