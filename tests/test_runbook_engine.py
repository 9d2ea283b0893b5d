"""The checklist as a fold over journal events plus live evidence."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.journal import (
    COMMAND_FINISHED,
    COMMAND_STARTED,
    GATE_OVERRIDDEN,
    STEP_CONFIRMED,
    STEP_OVERRIDDEN,
    STEP_UNCONFIRMED,
    VALUE_RECORDED,
)
from ppcockpit.model import Reading, Status
from ppcockpit.runbook import Phase, Runbook, Step, StepKind
from ppcockpit.runbook_engine import (
    PhaseState,
    RunbookProgress,
    StepState,
)

RUNBOOK = Runbook(title="Deploy", phases=[
    Phase(id="pre", title="Pre-flight", steps=[
        Step(id="aware", title="On-call aware", kind=StepKind.MANUAL),
        Step(id="health", title="Health", kind=StepKind.PROBE, probe="health",
             status=[Status.HEALTHY, Status.DEGRADED]),
    ]),
    Phase(id="deploy", title="Deploy", steps=[
        Step(id="smoke", title="Smoke", kind=StepKind.COMMAND, run="true"),
        Step(id="url", title="Deployment URL", kind=StepKind.RECORD),
        Step(id="redis", title="Redis memory", kind=StepKind.PROBE, probe="redis",
             metric="memory_ratio", below=0.75, readings=2),
        Step(id="soak", title="Staging soaked", kind=StepKind.PROBE, probe="deployments",
             environment="staging", metric="age_s", above=86400),
    ]),
])


def event(name: str, **fields: Any) -> dict[str, Any]:
    return {"event": name, "operator": "alice", "at": "2026-12-01T17:00:00+00:00", **fields}


def reading(probe: str, status: Status = Status.HEALTHY, at: float = 1.0,
            **metrics: float) -> Reading:
    return Reading(probe=probe, target="t", status=status, summary=f"{probe} {status}",
                   finished_at=at, metrics=metrics)


def states(progress: RunbookProgress, readings: dict | None = None) -> dict[str, StepState]:
    return {s.key: s.state for s in progress.view(readings or {}).steps}


def test_a_fresh_session_waits_and_locks_the_second_phase() -> None:
    view = RunbookProgress(RUNBOOK, "production").view({})
    assert [s.state for s in view.phases[0].steps] == [StepState.PENDING, StepState.WAITING]
    assert view.phases[1].state is PhaseState.LOCKED
    assert view.first_open_key() == "pre/aware"


def test_confirmations_and_evidence_open_the_next_phase() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    progress.apply(event(STEP_CONFIRMED, step="pre/aware"))
    health = reading("health")
    progress.observe("production", health)
    view = progress.view({("production", "health"): health})
    assert view.phases[0].state is PhaseState.DONE
    assert view.phases[1].state is PhaseState.OPEN
    assert view.step("pre/aware").by == "alice"


def test_probe_steps_tick_and_untick_with_the_evidence() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    for at, status, expected in [(1, Status.HEALTHY, StepState.PASSING),
                                 (2, Status.UNAVAILABLE, StepState.FAILING),
                                 (3, Status.DEGRADED, StepState.PASSING)]:
        latest = reading("health", status, at)
        progress.observe("production", latest)
        assert states(progress, {("production", "health"): latest})["pre/health"] is expected


def test_a_metric_step_needs_its_readings_in_a_row() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    first = reading("redis", at=1, memory_ratio=0.5)
    progress.observe("production", first)
    assert states(progress, {("production", "redis"): first})["deploy/redis"] \
        is StepState.WAITING
    progress.observe("production", first)  # the same reading again is not a new one
    assert states(progress, {("production", "redis"): first})["deploy/redis"] \
        is StepState.WAITING
    second = reading("redis", at=2, memory_ratio=0.6)
    progress.observe("production", second)
    assert states(progress, {("production", "redis"): second})["deploy/redis"] \
        is StepState.PASSING
    high = reading("redis", at=3, memory_ratio=0.8)
    progress.observe("production", high)
    view = progress.view({("production", "redis"): high})
    assert view.step("deploy/redis").state is StepState.FAILING
    assert "memory ratio 80% (not < 75%)" in view.step("deploy/redis").detail


def test_a_step_reads_another_environments_probe() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    young = reading("deployments", at=1, age_s=3600)
    progress.observe("staging", young)
    progress.observe("production", reading("deployments", at=1, age_s=10 ** 6))
    assert states(progress, {("staging", "deployments"): young})["deploy/soak"] \
        is StepState.FAILING
    old = reading("deployments", at=2, age_s=90_000)
    progress.observe("staging", old)
    assert states(progress, {("staging", "deployments"): old})["deploy/soak"] \
        is StepState.PASSING


def test_unknown_metrics_and_unconfigured_probes_never_pass() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    for latest in (reading("redis", at=1), reading("redis", Status.SKIPPED, at=2),
                   reading("redis", at=3, memory_ratio=float("nan"))):
        progress.observe("production", latest)
        assert states(progress, {("production", "redis"): latest})["deploy/redis"] \
            is StepState.FAILING


def test_a_command_that_was_running_when_the_cockpit_died_is_interrupted() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    progress.apply(event(COMMAND_STARTED, step="deploy/smoke"))
    assert states(progress)["deploy/smoke"] is StepState.INTERRUPTED
    progress.apply(event(COMMAND_FINISHED, step="deploy/smoke", exit_code=1, duration_s=2.0))
    assert states(progress)["deploy/smoke"] is StepState.FAILING
    progress.apply(event(COMMAND_STARTED, step="deploy/smoke"))
    progress.apply(event(COMMAND_FINISHED, step="deploy/smoke", exit_code=0, duration_s=1.0))
    assert states(progress)["deploy/smoke"] is StepState.DONE
    running = progress.view({}, running={"deploy/smoke": "line 3"})
    assert running.step("deploy/smoke").state is StepState.RUNNING


def test_overrides_unconfirm_and_gates() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    progress.apply(event(STEP_CONFIRMED, step="pre/aware"))
    progress.apply(event(STEP_UNCONFIRMED, step="pre/aware"))
    assert states(progress)["pre/aware"] is StepState.PENDING
    progress.apply(event(GATE_OVERRIDDEN, phase="deploy", reason="hotfix, on-call agreed"))
    view = progress.view({})
    assert view.phases[1].state is PhaseState.OPEN
    assert view.phases[1].gate_reason == "hotfix, on-call agreed"
    progress.apply(event(STEP_OVERRIDDEN, step="deploy/smoke", reason="tests flaky today"))
    progress.apply(event(VALUE_RECORDED, step="deploy/url", value="https://x",
                         values={"deployment_url": "https://x"}))
    view = progress.view({})
    assert view.step("deploy/smoke").state is StepState.OVERRIDDEN
    assert view.step("deploy/smoke").reason == "tests flaky today"
    assert progress.recorded == {"deployment_url": "https://x"}
    assert view.as_json()["phases"][1]["steps"][0]["state"] == "overridden"


def test_events_about_steps_the_runbook_no_longer_has_are_noted_not_fatal() -> None:
    progress = RunbookProgress(RUNBOOK, "production")
    progress.apply(event(STEP_CONFIRMED, step="gone/step"))
    assert progress.problems and "gone/step" in progress.problems[0]
    assert states(progress)["pre/aware"] is StepState.PENDING


journal_values = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=20),
                           st.lists(st.text(max_size=5), max_size=3),
                           st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(
    st.sampled_from(["event", "step", "phase", "operator", "at", "reason", "value", "values",
                     "exit_code", "duration_s", "output_tail", "tag"]),
    st.one_of(journal_values, st.sampled_from([
        STEP_CONFIRMED, COMMAND_STARTED, COMMAND_FINISHED, GATE_OVERRIDDEN, VALUE_RECORDED,
        "pre/aware", "deploy/smoke", "deploy"]))), max_size=30))
def test_any_sequence_of_journal_events_folds_without_error(events: list[dict]) -> None:
    view = RunbookProgress(RUNBOOK, "production").apply_all(events).view({})
    assert len(view.steps) == 6
    view.as_json()
