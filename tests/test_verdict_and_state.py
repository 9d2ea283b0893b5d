"""Go / no-go, and how readings fold into signals, transitions and staleness."""

from __future__ import annotations

from ppcockpit.model import Decision, Reading, RingBuffer, Row, Signal, Status
from ppcockpit.state import CockpitState
from ppcockpit.verdict import decide


def reading(probe: str, status: Status, summary: str = "", **kwargs) -> Reading:
    return Reading(probe=probe, target="t", status=status, summary=summary or status.value,
                   **kwargs)


def test_go_when_nothing_unavailable_and_degraded_is_still_go() -> None:
    verdict = decide([reading("health", Status.HEALTHY), reading("redis", Status.DEGRADED),
                      reading("secrets", Status.SKIPPED)])
    assert verdict.decision is Decision.GO and verdict.go


def test_no_go_names_every_reason() -> None:
    verdict = decide([reading("health", Status.UNAVAILABLE, "HTTP 503 · supabase error"),
                      reading("posthog", Status.UNKNOWN, "inconclusive: 4 requests"),
                      reading("redis", Status.HEALTHY)])
    assert verdict.decision is Decision.NO_GO
    assert verdict.reasons == ("health: HTTP 503 · supabase error",
                               "posthog: cannot verify: inconclusive: 4 requests")


def test_waiting_until_every_probe_reported() -> None:
    verdict = decide([reading("health", Status.HEALTHY)], expected=["health", "redis"])
    assert verdict.decision is Decision.WAITING


def test_signal_counts_failures_and_records_transitions() -> None:
    signal = Signal.new("health/ai:anthropic", capacity=3)
    assert signal.observe(Status.HEALTHY, 1.0) is None  # where we start is not a change
    assert signal.observe(Status.HEALTHY, 2.0) is None
    change = signal.observe(Status.UNAVAILABLE, 3.0, "down")
    assert change is not None and (change.before, change.after) == (Status.HEALTHY,
                                                                    Status.UNAVAILABLE)
    signal.observe(Status.UNAVAILABLE, 4.0)
    assert signal.consecutive_failures == 2 and signal.since == 3.0
    signal.observe(Status.HEALTHY, 5.0)
    assert signal.consecutive_failures == 0


def test_ring_buffer_is_bounded() -> None:
    ring = RingBuffer(3)
    for value in range(10):
        ring.append(value)
    assert ring.values() == [7, 8, 9] and len(ring) == 3


def test_state_folds_probe_and_row_signals_and_samples() -> None:
    state = CockpitState(["health", "redis"], {"health": 5.0, "redis": 5.0}, history=10)
    rows = (Row(key="ai:openai", label="openai", status=Status.HEALTHY),)
    state.apply(reading("health", Status.HEALTHY, rows=rows, finished_at=100.0,
                        latency_ms=12.0))
    state.apply(reading("redis", Status.HEALTHY, metrics={"memory_ratio": 0.4},
                        finished_at=100.0))
    changes = state.apply(reading("health", Status.UNAVAILABLE, finished_at=105.0,
                                  rows=(Row(key="ai:openai", label="openai",
                                            status=Status.UNAVAILABLE),)))
    assert {c.key for c in changes} == {"health", "health/ai:openai"}
    assert state.signals["redis"].samples.values() == [0.4]
    assert state.signals["health"].samples.values() == []  # nothing draws its history
    snapshot = state.snapshot("production", "oncall", now=111.0)
    assert snapshot.stale == frozenset({"redis"})  # 11 s old at a 5 s interval
    assert snapshot.verdict.decision is Decision.NO_GO
