"""The probe runner: timeouts, isolation, backoff, staleness, refresh, Retry-After."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest

from ppcockpit.model import (
    Failure,
    ProbeMisconfigured,
    Reading,
    Row,
    Status,
    TargetUnavailable,
)
from ppcockpit.runner import Backoff, ProbeRunner
from ppcockpit.safe_reading import ReadingCleaner
from ppcockpit.secrets import Redactor


@dataclass
class ScriptedProbe:
    """A probe whose target behaves as a test says: answer, fail, hang or raise."""

    name: str
    behaviour: str = "ok"
    interval: float = 0.05
    timeout: float = 0.5
    target: str = "scripted"
    calls: int = 0
    closed: bool = False
    called: asyncio.Event = field(default_factory=asyncio.Event)
    retry_after: float | None = None

    async def check(self, deadline: float) -> Reading:
        self.calls += 1
        self.called.set()
        if self.behaviour == "hang":
            await asyncio.Event().wait()
        if self.behaviour == "down":
            raise TargetUnavailable("connection refused by 127.0.0.1:1", request_id="req-1",
                                    retry_after=self.retry_after)
        if self.behaviour == "bug":
            raise KeyError("used_memory")
        if self.behaviour == "misconfigured":
            raise ProbeMisconfigured("migrations folder /nope not found")
        if self.behaviour == "leaky":
            return Reading(probe=self.name, target=self.target, status=Status.DEGRADED,
                           summary="token sk-live-topsecret-123 rejected \x1b[31mred\x1b[0m",
                           label="key sk-live-topsecret-123\x1b[2J rejected " + "x" * 200,
                           rows=(Row(key="a", label="a", status=Status.DEGRADED,
                                     message="again sk-live-topsecret-123\x07"),))
        return Reading(probe=self.name, target=self.target, status=Status.HEALTHY,
                       summary="fine", metrics={"n": self.calls})

    async def aclose(self) -> None:
        self.closed = True


async def test_a_hanging_probe_costs_only_its_own_timeout() -> None:
    hanging = ScriptedProbe("hanging", "hang", timeout=0.3)
    fast = ScriptedProbe("fast")
    runner = ProbeRunner([hanging, fast])
    started = time.perf_counter()
    readings = await runner.sweep()
    elapsed = time.perf_counter() - started
    by_name = {r.probe: r for r in readings}
    assert by_name["fast"].status is Status.HEALTHY
    assert by_name["hanging"].status is Status.UNAVAILABLE
    assert by_name["hanging"].failure is Failure.TARGET
    assert by_name["hanging"].summary == "timed out after 300ms"
    assert elapsed < 0.3 + 0.5  # bounded by the one timeout, not by a sum of anything


async def test_target_unavailable_and_probe_failure_are_told_apart() -> None:
    runner = ProbeRunner([ScriptedProbe("down", "down"), ScriptedProbe("bug", "bug"),
                          ScriptedProbe("cfg", "misconfigured")])
    down, bug, cfg = await runner.sweep()
    assert (down.status, down.failure) == (Status.UNAVAILABLE, Failure.TARGET)
    assert down.request_id == "req-1"
    assert down.summary == "connection refused by 127.0.0.1:1"
    assert (bug.status, bug.failure) == (Status.UNKNOWN, Failure.PROBE)
    assert bug.summary == "probe failed: KeyError: 'used_memory'"
    assert (cfg.status, cfg.failure) == (Status.UNKNOWN, Failure.PROBE)
    assert cfg.summary == "probe misconfigured: migrations folder /nope not found"


async def test_readings_are_timed_redacted_and_stripped() -> None:
    runner = ProbeRunner([ScriptedProbe("leaky", "leaky")],
                         sanitize=Redactor(["sk-live-topsecret-123"]))
    before = time.time()
    (reading,) = await runner.sweep()
    assert before <= reading.started_at <= reading.finished_at
    assert reading.latency_ms is not None and reading.latency_ms >= 0
    everything = reading.summary + reading.rows[0].message
    assert "sk-live-topsecret-123" not in everything
    assert "sha256:" in reading.summary
    assert "\x1b" not in everything and "\x07" not in everything
    assert "red" in reading.summary
    # The status phrase is outside text too: redacted, stripped, one short line.
    label = reading.label or ""
    assert label.startswith("key [sha256:") and "rejected" in label
    assert "sk-live" not in label and "\x1b" not in label and len(label) <= 60


@pytest.mark.parametrize(("label", "shown"), [(None, None), ("", None), ("\x1b[0m", None),
                                              ("failures > 5%", "failures > 5%")])
def test_a_status_phrase_of_nothing_is_the_status_word(label, shown) -> None:
    reading = Reading(probe="p", target="t", status=Status.UNAVAILABLE, summary="s",
                      label=label)
    assert ReadingCleaner(str).reading(reading, probe="p").label == shown


async def test_loops_run_on_their_interval_and_an_exception_never_stops_another() -> None:
    healthy = ScriptedProbe("healthy", interval=0.02)
    broken = ScriptedProbe("broken", "bug", interval=0.02)
    hanging = ScriptedProbe("hanging", "hang", interval=0.02, timeout=10)
    runner = ProbeRunner([healthy, broken, hanging])
    seen: list[Reading] = []
    enough = asyncio.Event()

    def collect(reading: Reading) -> None:
        seen.append(reading)
        if sum(r.probe == "healthy" for r in seen) >= 5 and any(r.probe == "broken" for r in seen):
            enough.set()

    runner.subscribe(collect)
    runner.start()
    await asyncio.wait_for(enough.wait(), timeout=5)
    await runner.stop()
    assert healthy.closed and broken.closed and hanging.closed
    assert not any(r.probe == "hanging" for r in seen)  # still hanging, alone


async def test_refresh_runs_everything_now() -> None:
    slow = ScriptedProbe("slow", interval=60)
    runner = ProbeRunner([slow])
    runner.start()
    await asyncio.wait_for(slow.called.wait(), timeout=5)
    slow.called.clear()
    runner.refresh()
    await asyncio.wait_for(slow.called.wait(), timeout=5)
    assert slow.calls == 2
    await runner.stop()


async def test_refresh_does_not_override_retry_after() -> None:
    limited = ScriptedProbe("limited", "down", interval=60, retry_after=0.4)
    runner = ProbeRunner([limited])
    runner.start()
    await asyncio.wait_for(limited.called.wait(), timeout=5)
    limited.called.clear()
    asked = time.perf_counter()
    runner.refresh()
    await asyncio.wait_for(limited.called.wait(), timeout=5)
    assert time.perf_counter() - asked >= 0.35
    await runner.stop()


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    backoff = Backoff.for_interval(8.0)
    top = [backoff.delay(n, rng=lambda: 0.0) for n in range(1, 8)]
    assert top == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    low = [backoff.delay(n, rng=lambda: 1.0) for n in range(1, 5)]
    assert low == [0.5, 1.0, 2.0, 4.0]


async def test_failures_back_off_and_success_resets() -> None:
    probe = ScriptedProbe("p", "down", interval=8.0)
    runner = ProbeRunner([probe], rng=lambda: 0.0)
    down = await runner.run_once(probe)
    assert [runner.next_delay(probe, down) for _ in range(3)] == [1.0, 2.0, 4.0]
    probe.behaviour = "ok"
    assert 4.0 <= runner.next_delay(probe, await runner.run_once(probe)) <= 8.0
    probe.behaviour = "down"
    assert runner.next_delay(probe, await runner.run_once(probe)) == 1.0


async def test_healthy_probes_with_one_interval_are_due_at_the_same_instant() -> None:
    # One redraw for both, not one each, every interval.
    first, second = ScriptedProbe("a", interval=8.0), ScriptedProbe("b", interval=8.0)
    slow = ScriptedProbe("c", interval=16.0)
    runner = ProbeRunner([first, second, slow])
    due = []
    for probe in (first, second, slow):
        reading = await runner.run_once(probe)
        await asyncio.sleep(0.01)  # the probes finish at different moments
        due.append(time.monotonic() + runner.next_delay(probe, reading))
    assert abs(due[0] - due[1]) < 0.005
    assert abs(due[2] - due[0]) % 8.0 < 0.005 or 8.0 - abs(due[2] - due[0]) % 8.0 < 0.005


def test_a_reading_is_stale_after_two_intervals() -> None:
    reading = Reading(probe="p", target="t", status=Status.HEALTHY, summary="",
                      finished_at=1000.0)
    assert not reading.is_stale(5.0, now=1009.9)
    assert reading.is_stale(5.0, now=1010.1)


async def test_skipped_probes_are_reported_never_run() -> None:
    skipped = Reading(probe="redis", target="-", status=Status.SKIPPED,
                      summary="not configured: no redis_url")
    runner = ProbeRunner([ScriptedProbe("health")], fixed=[skipped])
    assert runner.names == ["health", "redis"]
    readings = await runner.sweep(["redis"])
    assert readings == [skipped]


def test_duplicate_probe_names_are_refused() -> None:
    with pytest.raises(ValueError, match="two probes are named 'x'"):
        ProbeRunner([ScriptedProbe("x"), ScriptedProbe("x")])


@dataclass
class ColdStartProbe(ScriptedProbe):
    """A probe whose first use needs slow one-time set-up (an import, a TLS context)."""

    prepared: int = 0

    async def prepare(self) -> None:
        self.prepared += 1
        await asyncio.sleep(self.timeout * 2)  # longer than a check may take


async def test_preparation_is_not_counted_against_the_timeout() -> None:
    probe = ColdStartProbe("cold", timeout=0.1)
    runner = ProbeRunner([probe])
    first, second = await asyncio.gather(runner.run_once(probe), runner.run_once(probe))
    assert first.status is Status.HEALTHY and second.status is Status.HEALTHY
    assert probe.prepared == 1  # once, shared by concurrent first checks
    assert first.latency_ms is not None and first.latency_ms < 100
    await runner.stop()


@dataclass
class LatencyProbe(ScriptedProbe):
    """Answers with a given latency and notes the order in which checks began."""

    latency_ms: float = 0.0
    log: list[str] = field(default_factory=list)

    async def check(self, deadline: float) -> Reading:
        self.log.append(self.name)
        return Reading(probe=self.name, target=self.target, status=Status.HEALTHY,
                       summary="ok", latency_ms=self.latency_ms)


async def test_a_sweep_starts_the_slowest_targets_first_and_answers_in_probe_order() -> None:
    log: list[str] = []
    probes = [LatencyProbe(name, latency_ms=ms, log=log)
              for name, ms in (("fast", 5.0), ("slow", 900.0), ("middling", 80.0))]
    runner = ProbeRunner(probes)
    first = await runner.sweep()
    assert log == ["fast", "slow", "middling"]  # nothing known yet: as configured
    log.clear()
    second = await runner.sweep()
    assert log == ["slow", "middling", "fast"]
    assert [r.probe for r in first] == [r.probe for r in second] == ["fast", "slow", "middling"]
