"""Runs probes: each on its own interval, with a timeout, backoff after failures, in isolation.

One runner serves both the TUI (`start()`, readings pushed to a callback) and `check`
(`sweep()`, one run of everything), so the screen and the headless verdict never disagree.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import Callable, Iterable

from ppcockpit.durations import format_duration
from ppcockpit.model import Failure, ProbeMisconfigured, Reading, Status, TargetUnavailable
from ppcockpit.probe import Preparable, Probe
from ppcockpit.text import one_line

ReadingCallback = Callable[[Reading], None]
PREPARE_TIMEOUT = 30.0  # seconds for a probe's one-time set-up (imports, TLS context)


@dataclasses.dataclass(frozen=True)
class Backoff:
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
        # Readings that never change (probes that are not configured): shown, never run.
        self.fixed: dict[str, Reading] = {r.probe: r for r in fixed}
        self.latest: dict[str, Reading] = dict(self.fixed)
        self._sanitize = sanitize
        self._rng = rng
        self._listeners: list[ReadingCallback] = []
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failures: dict[str, int] = {}
        self._not_before: dict[str, float] = {}  # a target's Retry-After, monotonic clock
        self._prepared: dict[str, asyncio.Task[None]] = {}
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
        self._listeners.append(callback)

    async def _prepare(self, probe: Probe) -> None:
        """Run `probe.prepare()` once (shared by concurrent callers); failures surface later
        as the check's own failure, so they are not reported here."""
        if not isinstance(probe, Preparable):
            return
        task = self._prepared.get(probe.name)
        if task is None:
            task = self._prepared[probe.name] = asyncio.ensure_future(
                asyncio.wait_for(probe.prepare(), timeout=PREPARE_TIMEOUT))
        with contextlib.suppress(Exception):
            await asyncio.shield(task)

    async def run_once(self, probe: Probe) -> Reading:
        """One isolated, time-limited run of `probe`, always ending in a Reading."""
        await self._prepare(probe)
        started = time.time()
        clock = time.perf_counter()
        try:
            reading = await asyncio.wait_for(probe.check(), timeout=probe.timeout)
        except TimeoutError:
            reading = self._failed(probe, Status.UNAVAILABLE, Failure.TARGET,
                                   f"timed out after {format_duration(probe.timeout)}")
        except TargetUnavailable as exc:
            reading = dataclasses.replace(
                self._failed(probe, Status.UNAVAILABLE, Failure.TARGET, exc.reason),
                request_id=exc.request_id, retry_after=exc.retry_after,
            )
        except ProbeMisconfigured as exc:
            reading = self._failed(probe, Status.UNKNOWN, Failure.PROBE,
                                   f"probe misconfigured: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe bug must not take the cockpit down
            reason = f"probe failed: {type(exc).__name__}: {exc}"
            reading = self._failed(probe, Status.UNKNOWN, Failure.PROBE, reason)
        elapsed_ms = (time.perf_counter() - clock) * 1000
        return self._finish(reading, started, elapsed_ms)

    def _failed(self, probe: Probe, status: Status, failure: Failure, reason: str) -> Reading:
        return Reading(probe=probe.name, target=probe.target, status=status, summary=reason,
                       error=reason, failure=failure)

    def _finish(self, reading: Reading, started: float, elapsed_ms: float) -> Reading:
        clean = self._clean
        rows = tuple(dataclasses.replace(row, message=clean(row.message))
                     for row in reading.rows)
        return dataclasses.replace(
            reading,
            summary=clean(reading.summary),
            error=clean(reading.error) if reading.error else None,
            target=clean(reading.target),
            rows=rows,
            started_at=reading.started_at or started,
            finished_at=reading.finished_at or time.time(),
            latency_ms=reading.latency_ms if reading.latency_ms is not None else elapsed_ms,
        )

    def _clean(self, text: str) -> str:
        return one_line(self._sanitize(text), limit=300)

    async def sweep(self, names: Iterable[str] | None = None) -> list[Reading]:
        """Run the chosen probes (default: all) once, concurrently; readings in probe order."""
        chosen = list(self.names if names is None else names)
        runnable = [self.probes[n] for n in chosen if n in self.probes]
        # The slowest targets last time go first: their wait then overlaps the others' CPU
        # instead of starting after it (a sweep of many is bound by the slowest, plus CPU).
        started = sorted(runnable, key=self._last_latency, reverse=True)
        finished = await asyncio.gather(*(self.run_once(p) for p in started))
        order = {name: i for i, name in enumerate(chosen)}
        results = sorted(finished, key=lambda r: order[r.probe])
        for reading in results:
            self._publish(reading)
        by_name = {r.probe: r for r in results} | {
            n: r for n, r in self.fixed.items() if n in chosen
        }
        return [by_name[n] for n in chosen if n in by_name]

    def _last_latency(self, probe: Probe) -> float:
        last = self.latest.get(probe.name)
        return (last.latency_ms or 0.0) if last is not None else 0.0

    def _publish(self, reading: Reading) -> None:
        self.latest[reading.probe] = reading
        for listener in self._listeners:
            listener(reading)

    def start(self) -> None:
        """Start one task per probe. Call from inside the running event loop."""
        for reading in self.fixed.values():
            self._publish(reading)
        for name, probe in self.probes.items():
            if name not in self._tasks:
                self._wake[name] = asyncio.Event()
                self._tasks[name] = asyncio.create_task(self._loop(probe),
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

    async def _loop(self, probe: Probe) -> None:
        wake = self._wake[probe.name]
        while True:
            wake.clear()
            reading = await self.run_once(probe)
            self._publish(reading)
            delay = self.next_delay(probe, reading)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=delay)
            # A refresh never overrides the target's own Retry-After.
            held = self._not_before.pop(probe.name, 0.0) - time.monotonic()
            if held > 0:
                await asyncio.sleep(held)

    async def stop(self) -> None:
        """Cancel every probe task and close every probe (each close time-limited)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for task in self._prepared.values():
            task.cancel()
        await asyncio.gather(*self._prepared.values(), return_exceptions=True)
        await asyncio.gather(*(self._close(p) for p in self.probes.values()))

    @staticmethod
    async def _close(probe: Probe) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(probe.aclose(), timeout=2.0)
