"""The contract every probe implements. Plain asyncio: no Textual, no widgets."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol, runtime_checkable

from ppcockpit.model import Reading


@runtime_checkable
class Probe(Protocol):
    """One source of evidence, run by the ProbeRunner on its own interval.

    `check(deadline)` returns a Reading, or raises:
    - `TargetUnavailable(reason)` when the target is down or answered badly;
    - `ProbeMisconfigured(reason)` when the probe's own settings cannot work;
    - anything else is reported as the probe itself failing (a bug), never as an outage.
    `deadline` is the `time.monotonic()` instant by which the check must have answered (the
    runner sets it `timeout` seconds after the check starts): a probe that wants to say
    which step was slow bounds its steps by the time left (`time_left`), never by margins
    of its own. At the deadline the runner cancels the check and reports it timed out.
    The runner also fills in timing, redacts secrets and strips control characters, so a
    probe only has to say what it saw.
    """

    name: str  # stable id used by `check --only` and --json ("health", "redis", ...)
    target: str  # what is watched, fit to show (no secrets)
    interval: float  # seconds between runs
    timeout: float  # seconds one run may take

    async def check(self, deadline: float) -> Reading: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Preparable(Protocol):
    """A probe with one-time set-up (imports, a TLS context) that is not the target's time.

    The runner awaits `prepare()` once, before the first check, under PREPARE_TIMEOUT
    instead of the probe's own timeout, so a cold start never reads as a slow target. Its
    blocking work goes through `ppcockpit.offloop` (`once`/`run`), never `asyncio.to_thread`:
    the default thread pool is the checks', and a check must not wait there behind imports.
    """

    async def prepare(self) -> None: ...


@runtime_checkable
class DeployAware(Protocol):
    """A probe whose verdict depends on when the last deploy happened (before/after)."""

    def mark_deploy(self, at: datetime) -> None: ...


def time_left(deadline: float | None, timeout: float) -> float:
    """Seconds until `deadline` (a `time.monotonic()` instant), never below zero. Without a
    deadline (a check called directly, outside the runner) the probe's own `timeout`."""
    if deadline is None:
        return timeout
    return max(0.0, deadline - time.monotonic())
