"""The runner is supervised: listeners, slow cancellations, dying loops and hostile readings
never break it, never stretch a timeout and never reach the screen raw."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ppcockpit.model import Failure, Reading, Row, Status
from ppcockpit.runner import CANCEL_GRACE, ProbeRunner
from ppcockpit.safe_reading import MAX_DEPTH, MAX_ITEMS
from ppcockpit.secrets import Redactor

SECRET = "sk-live-topsecret-123"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Probe:
    """A probe that answers `make()`'s reading, counting its checks."""

    name: str = "p"
    interval: float = 0.01
    timeout: float = 1.0
    target: str = "t"
    calls: int = 0
    deadlines: list[float] = field(default_factory=list)
    make: Callable[[Probe], Any] = lambda probe: Reading(
        probe=probe.name, target=probe.target, status=Status.HEALTHY, summary="fine")

    async def check(self, deadline: float | None = None) -> Reading:
        self.calls += 1
        if deadline is not None:
            self.deadlines.append(deadline)
        return self.make(self)

    async def aclose(self) -> None:
        return None


async def readings_until(runner: ProbeRunner,
                         enough: Callable[[list[Reading]], bool]) -> list[Reading]:
    seen: list[Reading] = []
    done = asyncio.Event()

    def collect(reading: Reading) -> None:
        seen.append(reading)
        if enough(seen):
            done.set()

    runner.subscribe(collect)
    runner.start()
    try:
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.stop()
    return seen


# --- 1. listeners ---------------------------------------------------------------------

async def test_a_listener_that_raises_is_logged_once_and_never_stops_the_probe(
        caplog: pytest.LogCaptureFixture) -> None:
    probe = Probe()
    runner = ProbeRunner([probe])
    calls = []

    def broken(reading: Reading) -> None:
        calls.append(reading)
        raise ValueError(f"cannot draw {SECRET}")

    runner.subscribe(broken)  # first: the listeners after it are still called
    with caplog.at_level(logging.ERROR, logger="ppcockpit.runner"):
        seen = await readings_until(runner, lambda seen: len(seen) >= 5)
    assert len(calls) >= 5  # still called: a listener may recover
    errors = [r for r in caplog.records if r.name == "ppcockpit.runner"]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "broken" in message and "ValueError" in message
    assert all(r.status is Status.HEALTHY for r in seen)


async def test_a_listener_that_raises_does_not_break_a_sweep() -> None:
    runner = ProbeRunner([Probe("a"), Probe("b")])
    runner.subscribe(lambda reading: 1 / 0)  # type: ignore[func-returns-value]
    assert [r.status for r in await runner.sweep()] == [Status.HEALTHY, Status.HEALTHY]


# --- 2. slow cancellation ----------------------------------------------------------------

@dataclass
class SlowCleanupProbe(Probe):
    """Hangs; once cancelled, its `finally` waits for `release` (a sign-out that hangs)."""

    timeout: float = 0.2
    hang: bool = True
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cleaned: asyncio.Event = field(default_factory=asyncio.Event)

    async def check(self, deadline: float | None = None) -> Reading:
        if not self.hang:
            return await super().check(deadline)
        self.calls += 1
        try:
            await asyncio.Event().wait()
        finally:
            await self.release.wait()
            self.cleaned.set()
        raise AssertionError("unreachable")


async def settle() -> None:
    """Let callbacks of tasks that just finished run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_slow_cleanup_does_not_stretch_the_timeout() -> None:
    probe = SlowCleanupProbe()
    fast = Probe("fast")
    runner = ProbeRunner([probe, fast])
    try:
        slow, quick = await asyncio.wait_for(runner.sweep(), 5)
        assert (slow.status, slow.failure) == (Status.UNAVAILABLE, Failure.TARGET)
        assert slow.summary == "timed out after 200ms"
        assert slow.latency_ms is not None
        assert slow.latency_ms < (probe.timeout + CANCEL_GRACE) * 1000 + 500
        assert quick.status is Status.HEALTHY
        # The first check is still cancelling: no second one is piled on top of it.
        again = await asyncio.wait_for(runner.run_once(probe), 5)
        assert again.status is Status.UNKNOWN and again.failure is Failure.PROBE
        assert again.summary.startswith("not checked: the check that timed out")
        assert probe.calls == 1
        # Once its clean-up ends, the probe checks again.
        probe.release.set()
        await probe.cleaned.wait()
        await settle()
        probe.hang = False
        assert (await runner.run_once(probe)).status is Status.HEALTHY
        assert probe.calls == 2
    finally:
        probe.release.set()
        await runner.stop()


async def test_a_loop_never_piles_up_checks_that_will_not_end() -> None:
    probe = SlowCleanupProbe(interval=0.01, timeout=0.05)
    runner = ProbeRunner([probe])
    tasks_before = len(asyncio.all_tasks())
    try:
        seen = await readings_until(runner, lambda seen: len(seen) >= 4)
    finally:
        probe.release.set()
    assert probe.calls == 1
    assert seen[0].summary == "timed out after 50ms"
    assert all(r.summary.startswith("not checked: the check that timed out") for r in seen[1:])
    await settle()
    assert len(asyncio.all_tasks()) <= tasks_before


async def test_stop_cuts_a_slow_cleanup_short() -> None:
    probe = SlowCleanupProbe(interval=0.01, timeout=0.05)
    runner = ProbeRunner([probe])
    await asyncio.wait_for(runner.sweep(), 5)
    await asyncio.wait_for(runner.stop(), 5)  # cancels the clean-up too, within its grace
    await settle()
    assert not probe.cleaned.is_set()


async def test_a_check_that_cancels_itself_is_a_probe_failure_not_the_end_of_its_loop() -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    def make(probe: Probe) -> Any:
        if probe.calls == 1:
            return cancelled()  # awaited by check(): the CancelledError escapes it
        return Reading(probe=probe.name, target=probe.target, status=Status.HEALTHY,
                       summary="fine")

    @dataclass
    class SelfCancelling(Probe):
        async def check(self, deadline: float | None = None) -> Reading:
            answer = await super().check(deadline)
            return await answer if asyncio.iscoroutine(answer) else answer

    seen = await readings_until(ProbeRunner([SelfCancelling(make=make)]),
                                lambda seen: len(seen) >= 2)
    assert seen[0].summary == "probe failed: its check was cancelled, not by the runner"
    assert seen[0].status is Status.UNKNOWN
    assert seen[1].status is Status.HEALTHY


# --- 3. one deadline ---------------------------------------------------------------------

@dataclass
class ColdProbe(Probe):
    prepare_seconds: float = 0.2

    async def prepare(self) -> None:
        await asyncio.sleep(self.prepare_seconds)


async def test_the_check_gets_one_deadline_counted_from_when_its_work_starts() -> None:
    probe = ColdProbe(timeout=5.0)
    runner = ProbeRunner([probe])
    before = time.monotonic()
    reading = await runner.run_once(probe)
    assert reading.status is Status.HEALTHY
    (deadline,) = probe.deadlines
    # Set once by the runner, `timeout` after the check started: after the preparation.
    assert deadline >= before + probe.prepare_seconds + probe.timeout
    assert deadline <= time.monotonic() + probe.timeout
    await runner.stop()


@pytest.mark.parametrize("seconds", [0, -1, math.nan, math.inf, "5s", True])
async def test_an_unusable_timeout_is_a_misconfigured_probe(seconds: Any) -> None:
    probe = Probe(timeout=seconds)
    (reading,) = await ProbeRunner([probe]).sweep()
    assert (reading.status, reading.failure) == (Status.UNKNOWN, Failure.PROBE)
    assert reading.summary.startswith("probe misconfigured: timeout")
    assert probe.calls == 0


# --- 4. a loop that dies -----------------------------------------------------------------

@dataclass
class BrokenIntervalProbe(Probe):
    """Its `interval` raises on chosen reads: what kills the loop itself, not check()."""

    broken_reads: frozenset[int] = frozenset({1})
    reads: int = 0

    def __post_init__(self) -> None:
        self._interval = self.__dict__.pop("interval", 0.01)

    @property  # type: ignore[override]
    def interval(self) -> float:
        self.reads += 1
        if self.reads in self.broken_reads:
            raise RuntimeError("interval is broken")
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        self._interval = value


async def test_a_probe_loop_that_dies_says_so_and_is_restarted(
        caplog: pytest.LogCaptureFixture) -> None:
    probe = BrokenIntervalProbe()
    runner = ProbeRunner([probe])
    with caplog.at_level(logging.ERROR, logger="ppcockpit.runner"):
        seen = await readings_until(
            runner, lambda seen: [r.status for r in seen][-1:] == [Status.HEALTHY]
            and any(r.summary.startswith("probe crashed") for r in seen))
    crashed = next(r for r in seen if r.summary.startswith("probe crashed"))
    assert crashed.summary == "probe crashed: RuntimeError: interval is broken"
    assert (crashed.status, crashed.failure) == (Status.UNKNOWN, Failure.PROBE)
    assert crashed.finished_at > 0  # a fresh reading, not the last one going stale
    assert seen.index(crashed) < len(seen) - 1  # and the probe runs again after it
    assert [r.name for r in caplog.records] == ["ppcockpit.runner"]
    assert "probe p crashed" in caplog.records[0].getMessage()


async def test_a_loop_that_keeps_dying_backs_off_and_logs_once(
        caplog: pytest.LogCaptureFixture) -> None:
    probe = BrokenIntervalProbe(broken_reads=frozenset(range(1, 1000, 2)))
    runner = ProbeRunner([probe], rng=lambda: 0.0)
    with caplog.at_level(logging.ERROR, logger="ppcockpit.runner"):
        seen = await readings_until(runner, lambda seen: len(seen) >= 6)
    crashes = [r for r in seen if r.summary.startswith("probe crashed")]
    assert len(crashes) >= 3
    assert len(caplog.records) == 1


# --- 5. nothing from outside reaches the screen raw -------------------------------------

def strings(value: object) -> Iterator[str]:
    """Every string in a Reading: fields, rows, keys and values of nested structures."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Reading | Row):
        for name in value.__struct_fields__:
            yield from strings(getattr(value, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


HOSTILE = "\x1b]0;PWNED\x07"


def hostile_reading(probe: Probe) -> Reading:
    nested: dict[str, Any] = {}
    for _ in range(2000):  # far deeper than any recursion limit would allow a naive walk
        nested = {"deeper": nested}
    return Reading(
        probe="someone-else",  # a probe speaks for itself only
        target=f"target {HOSTILE}",
        status=Status.DEGRADED,
        summary="token sk-live-top\x07secret-123 in the summary",
        error=f"error \x1b[2J{SECRET}",
        request_id=f"req-1\x1b[31m\n{SECRET}",
        retry_after=math.nan,
        metrics={f"ratio{HOSTILE}": 0.5, "note": f"{SECRET}\x00"},
        details={
            "providers": {HOSTILE: {"status": "ok"}, "[/]": {"error": f"{SECRET}\x9b31m"}},
            "rows": [f"\x1b[2J{SECRET}", {"x\x07": (1, f"\x1b[1m{SECRET}")}],
            "nested": nested,
            "many": list(range(MAX_ITEMS * 3)),
            "when": time,  # an object: its text
        },
        rows=(Row(key=f"ai:{HOSTILE}", label=f"{HOSTILE}[/]", status=Status.DEGRADED,
                  message=f"\x1b[5m{SECRET}", extra={f"{HOSTILE}k": f"v\x07{SECRET}"}),),
    )


async def test_every_text_of_a_reading_is_redacted_stripped_and_bounded() -> None:
    probe = Probe(make=hostile_reading)
    runner = ProbeRunner([probe], sanitize=Redactor([SECRET]))
    (reading,) = await runner.sweep()
    everything = list(strings(reading))
    assert not [s for s in everything if CONTROL.search(s)]
    assert not [s for s in everything if SECRET in s]
    assert not [s for s in everything if "PWNED" in s and "]0;" in s]
    assert reading.probe == "p"
    assert reading.retry_after is None
    assert reading.rows[0].label == "[/]"  # literal text: markup safety is the screens' job
    assert reading.request_id is not None and "\n" not in reading.request_id
    assert "[/]" in reading.details["providers"]
    assert depth(reading.details["nested"]) <= MAX_DEPTH
    assert len(reading.details["many"]) == MAX_ITEMS
    assert "sha256:" in reading.summary  # the secret split by a control character
    assert set(reading.metrics) == {"ratio", "note"}


@pytest.mark.parametrize("answer", [None, "healthy", 42])
async def test_a_check_that_returns_no_reading_is_a_probe_failure(answer: object) -> None:
    probe = Probe(make=lambda probe: answer)
    (reading,) = await ProbeRunner([probe]).sweep()
    assert (reading.status, reading.failure) == (Status.UNKNOWN, Failure.PROBE)
    assert reading.summary.startswith("probe failed: TypeError: check() returned")
