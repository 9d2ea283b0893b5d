"""Runs probes: each on its own interval, with a timeout, backoff after failures, in isolation.

One runner serves both the TUI (`start()`, readings pushed to a callback) and `check`
(`sweep()`, one run of everything), so the screen and the headless verdict never disagree.

The runner is supervised: a listener that raises is logged once and skipped, a check whose
cancellation is slow is reported at its timeout and left to end in the background (one per
probe at most), and a probe task that dies is restarted with backoff after a reading that
says so. Nothing a probe does can delay or break another probe, or the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from ppcockpit.durations import format_duration
from ppcockpit.model import Failure, ProbeMisconfigured, Reading, Status, TargetUnavailable
from ppcockpit.probe import Preparable, Probe
from ppcockpit.safe_reading import ReadingCleaner
from ppcockpit.task_stop import cancel_and_wait

log = logging.getLogger("ppcockpit.runner")

ReadingCallback = Callable[[Reading], None]
PREPARE_TIMEOUT = 30.0  # seconds for a probe's one-time set-up (imports, TLS context)
# After a timeout, how long a check may take to honour its cancellation before it is left
# to finish in the background: the reading is published at most this much after the timeout.
CANCEL_GRACE = 0.25
CLOSE_TIMEOUT = 2.0  # seconds for each probe's aclose() when the runner stops
STOP_GRACE = 2.0  # seconds for abandoned checks to end when the runner stops
FALLBACK_INTERVAL = 60.0  # paces restarts of a probe whose own interval cannot be read


class Backoff(msgspec.Struct, frozen=True):
    """Jittered exponential delays after consecutive failures.

    A failure is re-checked soon (to confirm it, or to notice recovery quickly), then ever
    less eagerly, never more often than `initial` and never less often than `cap`.
    """

    initial: float
    cap: float
    jitter: float = 0.5  # each delay is scaled by a random factor in [1 - jitter, 1]

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        base = min(self.cap, self.initial * 2 ** max(0, failures - 1))
        return base * (1 - self.jitter * rng())

    @classmethod
    def for_interval(cls, interval: float) -> Backoff:
        return cls(initial=min(1.0, interval / 4), cap=interval)


class _Listener(msgspec.Struct):
    callback: ReadingCallback
    failed: bool = False  # it raised once: said in the log, not again


class _NotChecked(Exception):
    """No verdict on the target from this run; the message says why (the probe's side)."""


class ProbeRunner:
    """Owns the probes' tasks. Nothing a probe does can delay or break another probe."""

    def __init__(
        self,
        probes: Iterable[Probe],
        *,
        sanitize: Callable[[str], str] = lambda text: text,
        rng: Callable[[], float] = random.random,
        fixed: Iterable[Reading] = (),
    ) -> None:
        self.probes: dict[str, Probe] = {}
        for probe in probes:
            if probe.name in self.probes:
                raise ValueError(f"two probes are named {probe.name!r}")
            self.probes[probe.name] = probe
        self._cleaner = ReadingCleaner(sanitize)
        # Readings that never change (probes that are not configured): shown, never run.
        self.fixed: dict[str, Reading] = {
            r.probe: self._cleaner.reading(r, probe=r.probe) for r in fixed}
        self.latest: dict[str, Reading] = dict(self.fixed)
        self._rng = rng
        self._listeners: list[_Listener] = []
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failures: dict[str, int] = {}
        self._crashes: dict[str, int] = {}  # consecutive deaths of a probe's loop
        self._not_before: dict[str, float] = {}  # a target's Retry-After, monotonic clock
        self._prepared: dict[str, asyncio.Task[None]] = {}
        # Checks that timed out and have not finished cancelling yet (with when they timed
        # out, monotonic): never more than one per probe, since none starts while one is here.
        self._abandoned: dict[str, tuple[asyncio.Future[Any], float]] = {}
        # Healthy probes run on one shared grid of their intervals, so probes with the same
        # interval report together and the screen redraws once for them, not once each.
        self._epoch = time.monotonic()

    @property
    def names(self) -> list[str]:
        return [*self.probes, *(n for n in self.fixed if n not in self.probes)]

    def interval(self, name: str) -> float | None:
        probe = self.probes.get(name)
        return probe.interval if probe else None

    def subscribe(self, callback: ReadingCallback) -> None:
        """Call `callback` with every reading. A callback that raises is logged (once) and
        never stops the probes or the other callbacks."""
        self._listeners.append(_Listener(callback))

    # --- one run ----------------------------------------------------------------------

    async def _prepare(self, probe: Probe) -> None:
        """Run `probe.prepare()` once (shared by concurrent callers); failures surface later
        as the check's own failure, so they are not reported here."""
        if not isinstance(probe, Preparable):
            return
        task = self._prepared.get(probe.name)
        if task is None:
            task = self._prepared[probe.name] = asyncio.ensure_future(
                self._bounded(probe.prepare(), PREPARE_TIMEOUT))
        with contextlib.suppress(Exception):
            await asyncio.shield(task)

    @staticmethod
    async def _bounded(awaitable: Any, seconds: float) -> None:
        """Await `awaitable` for at most `seconds`, its cancellation included."""
        task = asyncio.ensure_future(awaitable)
        try:
            done, _ = await asyncio.wait({task}, timeout=seconds)
        except asyncio.CancelledError:
            task.cancel()
            task.add_done_callback(_consume)
            raise
        if not done:
            task.cancel()
            task.add_done_callback(_consume)
            raise TimeoutError
        task.result()

    async def run_once(self, probe: Probe) -> Reading:
        """One isolated, time-limited run of `probe`, always ending in a Reading."""
        await self._prepare(probe)
        # The probe is timed from here, when its own work starts: its set-up is not its time.
        started = time.time()
        clock = time.perf_counter()
        timeout = 0.0
        try:
            timeout = _seconds(probe.timeout)
            reading = await self._check(probe, timeout)
        except TimeoutError:
            reading = self._failed(probe, Status.UNAVAILABLE, Failure.TARGET,
                                   f"timed out after {format_duration(timeout)}")
        except TargetUnavailable as exc:
            reading = msgspec.structs.replace(
                self._failed(probe, Status.UNAVAILABLE, Failure.TARGET, exc.reason),
                request_id=exc.request_id, retry_after=exc.retry_after,
            )
        except ProbeMisconfigured as exc:
            reading = self._failed(probe, Status.UNKNOWN, Failure.PROBE,
                                   f"probe misconfigured: {exc}")
        except _NotChecked as exc:
            reading = self._failed(probe, Status.UNKNOWN, Failure.PROBE, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe bug must not take the cockpit down
            reason = f"probe failed: {type(exc).__name__}: {exc}"
            reading = self._failed(probe, Status.UNKNOWN, Failure.PROBE, reason)
        elapsed_ms = (time.perf_counter() - clock) * 1000
        try:
            return self._finish(probe, reading, started, elapsed_ms)
        except Exception as exc:  # a Reading the cleaner cannot read is the probe's fault
            reason = f"probe failed: unreadable reading: {type(exc).__name__}: {exc}"
            failed = self._failed(probe, Status.UNKNOWN, Failure.PROBE, reason)
            return self._finish(probe, failed, started, elapsed_ms)

    async def _check(self, probe: Probe, budget: float) -> Reading:
        """`probe.check(deadline)` within `budget` seconds; TimeoutError at the deadline
        (plus at most CANCEL_GRACE), however long the check's own cancellation takes."""
        pending = self._abandoned.get(probe.name)
        if pending is not None:
            _, timed_out_at = pending
            ago = format_duration(time.monotonic() - timed_out_at)
            raise _NotChecked(f"not checked: the check that timed out {ago} ago is still "
                              "being cancelled")
        deadline = time.monotonic() + budget
        task = asyncio.ensure_future(probe.check(deadline))
        try:
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
            if not done:
                task.cancel()
                await asyncio.wait({task}, timeout=CANCEL_GRACE)
                if not task.done():
                    self._abandon(probe.name, task, deadline)
                else:
                    _consume(task)
                raise TimeoutError
        except asyncio.CancelledError:  # the runner is stopping: the check goes too
            if not task.done():
                task.cancel()
                self._abandon(probe.name, task, time.monotonic())
            raise
        if task.cancelled():  # not by us: a probe must not cancel itself silently
            raise _NotChecked("probe failed: its check was cancelled, not by the runner")
        reading = task.result()
        if not isinstance(reading, Reading):
            raise TypeError(f"check() returned {type(reading).__name__}, not a Reading")
        return reading

    def _abandon(self, name: str, task: asyncio.Future[Any], timed_out_at: float) -> None:
        """Leave a timed-out check to finish its cancellation in the background."""
        self._abandoned[name] = (task, timed_out_at)

        def ended(done: asyncio.Future[Any]) -> None:
            _consume(done)
            if self._abandoned.get(name, (None, 0.0))[0] is done:
                del self._abandoned[name]
            wake = self._wake.get(name)
            if wake is not None:
                wake.set()  # the probe may run again: no need to wait for its backoff

        task.add_done_callback(ended)

    def _failed(self, probe: Probe, status: Status, failure: Failure, reason: str) -> Reading:
        return Reading(probe=probe.name, target=_target_of(probe), status=status,
                       summary=reason, error=reason, failure=failure)

    def _finish(self, probe: Probe, reading: Reading, started: float,
                elapsed_ms: float | None) -> Reading:
        clean = self._cleaner.reading(reading, probe=probe.name)
        return msgspec.structs.replace(
            clean,
            started_at=clean.started_at or started,
            finished_at=clean.finished_at or time.time(),
            latency_ms=clean.latency_ms if clean.latency_ms is not None else elapsed_ms,
        )

    # --- all at once (`check`) --------------------------------------------------------

    async def sweep(self, names: Iterable[str] | None = None) -> list[Reading]:
        """Run the chosen probes (default: all) once, concurrently; readings in probe order.

        Every probe is prepared before any is checked, so each check is timed from when its
        own work starts, not while other probes' imports hold the CPU."""
        chosen = list(self.names if names is None else names)
        runnable = [self.probes[n] for n in chosen if n in self.probes]
        # The slowest targets last time go first: their wait then overlaps the others' CPU
        # instead of starting after it (a sweep of many is bound by the slowest, plus CPU).
        started = sorted(runnable, key=self._last_latency, reverse=True)
        # Every preparation (imports, TLS contexts) first: a check timed while other probes
        # import would count their CPU as its target's time.
        await asyncio.gather(*(self._prepare(p) for p in started))
        finished = await asyncio.gather(*(self.run_once(p) for p in started))
        by_name = {r.probe: r for r in finished} | {
            n: r for n, r in self.fixed.items() if n in chosen
        }
        results = [by_name[n] for n in chosen if n in by_name]
        for reading in results:  # what is not configured is said too, as start() does
            self._publish(reading)
        return results

    def _last_latency(self, probe: Probe) -> float:
        last = self.latest.get(probe.name)
        return (last.latency_ms or 0.0) if last is not None else 0.0

    def _publish(self, reading: Reading) -> None:
        self.latest[reading.probe] = reading
        for listener in tuple(self._listeners):
            try:
                listener.callback(reading)
            except Exception as exc:  # one broken listener must not silence the others
                if not listener.failed:
                    listener.failed = True
                    log.error("a reading listener (%s) raised %s at %s: %s; it is skipped "
                              "for this reading, the probes go on",
                              _name_of(listener.callback), type(exc).__name__,
                              _where(exc), self._cleaner.text(exc))

    # --- on their intervals (the TUI) ---------------------------------------------------

    def start(self) -> None:
        """Start one task per probe. Call from inside the running event loop."""
        for reading in self.fixed.values():
            self._publish(reading)
        for name, probe in self.probes.items():
            if name not in self._tasks:
                self._wake[name] = asyncio.Event()
                self._tasks[name] = asyncio.create_task(self._supervise(probe),
                                                        name=f"probe:{name}")

    def refresh(self, names: Iterable[str] | None = None) -> None:
        """Run the probes now instead of waiting for their next interval."""
        for name in self._wake if names is None else names:
            if name in self._wake:
                self._wake[name].set()

    def next_delay(self, probe: Probe, reading: Reading) -> float:
        if reading.failure is Failure.NONE:
            self._failures[probe.name] = 0
            delay = probe.interval - (time.monotonic() - self._epoch) % probe.interval
            if delay < probe.interval / 2:  # never half an interval early after a late run
                delay += probe.interval
        else:
            failures = self._failures.get(probe.name, 0) + 1
            self._failures[probe.name] = failures
            delay = Backoff.for_interval(probe.interval).delay(failures, self._rng)
        if reading.retry_after:
            delay = max(delay, reading.retry_after)
            self._not_before[probe.name] = time.monotonic() + reading.retry_after
        return delay

    async def _supervise(self, probe: Probe) -> None:
        """Run the probe's loop; when it dies, say so on screen and restart it with backoff."""
        name = probe.name
        while True:
            try:
                await self._loop(probe)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                crashes = self._crashes[name] = self._crashes.get(name, 0) + 1
                reason = f"probe crashed: {type(exc).__name__}: {exc}"
                crashed = self._finish(
                    probe, self._failed(probe, Status.UNKNOWN, Failure.PROBE, reason),
                    time.time(), None)
                if crashes == 1:  # said once per run of crashes, not at every restart
                    log.error("probe %s crashed at %s: %s; restarting it with backoff",
                              name, _where(exc), crashed.summary)
                self._publish(crashed)
                interval = _interval_of(probe)
                await self._pause(name, Backoff.for_interval(interval).delay(crashes, self._rng))

    async def _loop(self, probe: Probe) -> None:
        wake = self._wake[probe.name]
        while True:
            wake.clear()
            reading = await self.run_once(probe)
            self._publish(reading)
            delay = self.next_delay(probe, reading)
            self._crashes[probe.name] = 0  # a whole turn went through
            await self._pause(probe.name, delay)
            # A refresh never overrides the target's own Retry-After.
            held = self._not_before.pop(probe.name, 0.0) - time.monotonic()
            if held > 0:
                await asyncio.sleep(held)

    async def _pause(self, name: str, delay: float) -> None:
        """Sleep `delay` seconds, or less if the probe is woken (a refresh)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake[name].wait()

    async def stop(self) -> None:
        """Cancel every probe task and close every probe (each close time-limited); checks
        still cancelling get STOP_GRACE seconds, then are left behind."""
        await cancel_and_wait([*self._tasks.values(), *self._prepared.values()])
        self._tasks.clear()
        # Again: a slow clean-up is cut short now, or left behind after STOP_GRACE.
        await cancel_and_wait([task for task, _ in self._abandoned.values()], grace=STOP_GRACE)
        await asyncio.gather(*(self._close(p) for p in self.probes.values()))

    @classmethod
    async def _close(cls, probe: Probe) -> None:
        with contextlib.suppress(Exception):
            await cls._bounded(probe.aclose(), CLOSE_TIMEOUT)


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a finished task's outcome, so asyncio does not log it as never retrieved."""
    if task.done() and not task.cancelled():
        task.exception()
    elif not task.done():
        task.add_done_callback(_consume)


def _seconds(value: object) -> float:
    """A probe's timeout, which must be a positive number of seconds."""
    seconds = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ProbeMisconfigured(f"timeout {value!r} is not a positive number of seconds")
    return float(seconds)


def _target_of(probe: Probe) -> str:
    try:
        return str(probe.target)
    except Exception:  # a failure is still reported when the target cannot be named
        return "?"


def _interval_of(probe: Probe) -> float:
    try:
        interval = float(probe.interval)
    except Exception:
        return FALLBACK_INTERVAL
    return interval if math.isfinite(interval) and interval > 0 else FALLBACK_INTERVAL


def _name_of(callback: object) -> str:
    return getattr(callback, "__qualname__", None) or type(callback).__name__


def _where(exc: BaseException) -> str:
    """file:line where `exc` was raised (a location, never the exception's text)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"
