"""Walking a runbook: what is done (a fold over the session's journal events) and what the
evidence says now (probe steps against the latest readings). Pure: no I/O, no Textual.

`RunbookProgress.apply(event)` folds one journal event in; `observe(environment, reading)`
counts passing readings for probe steps; `view(...)` is the checklist as every screen and
`ppcockpit runbook status` show it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any

import msgspec

from ppcockpit.durations import format_duration
from ppcockpit.journal import (
    COMMAND_CANCELLED,
    COMMAND_FINISHED,
    COMMAND_STARTED,
    DEPLOY_MARKED,
    GATE_OVERRIDDEN,
    PHASE_COMPLETED,
    PROBE_STEP_FAILED,
    PROBE_STEP_PASSED,
    SESSION_CLOSED,
    SESSION_OPENED,
    STEP_CONFIRMED,
    STEP_OVERRIDDEN,
    STEP_UNCONFIRMED,
    TAG_CREATED,
    VALUE_RECORDED,
)
from ppcockpit.model import Reading, Status
from ppcockpit.runbook import Phase, Runbook, Step, StepKind
from ppcockpit.text import one_line
from ppcockpit.units import percent


class StepState(StrEnum):
    DONE = "done"
    PASSING = "passing"
    FAILING = "failing"
    WAITING = "waiting"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    OVERRIDDEN = "overridden"
    PENDING = "pending"

    @property
    def glyph(self) -> str:
        return STEP_GLYPHS[self]

    @property
    def complete(self) -> bool:
        """Counts towards its phase being complete."""
        return self in (StepState.DONE, StepState.PASSING, StepState.OVERRIDDEN)


STEP_GLYPHS = {
    StepState.DONE: "✔", StepState.PASSING: "✔", StepState.FAILING: "✖",
    StepState.WAITING: "…", StepState.RUNNING: "▶", StepState.INTERRUPTED: "⚡",
    StepState.OVERRIDDEN: "⤳", StepState.PENDING: "☐",
}


class PhaseState(StrEnum):
    DONE = "done"  # every step complete
    OPEN = "open"  # the operator may work on it
    LOCKED = "locked"  # the phase before is not complete (and its gate not overridden)


class Mark(msgspec.Struct, frozen=True):
    """Who did something to a step, when (ISO-8601), and what they said or typed."""

    by: str | None = None
    at: str | None = None
    reason: str | None = None
    value: str | None = None


class CommandRun(msgspec.Struct, frozen=True):
    """The last run of a command step, as far as the journal knows."""

    started_at: str
    finished_at: str | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    output_tail: tuple[str, ...] = ()
    cancelled: bool = False
    by: str | None = None
    summary: str | None = None


class StepView(msgspec.Struct, frozen=True):
    key: str  # "phase/step"
    phase: str
    id: str
    title: str
    kind: StepKind
    state: StepState
    detail: str  # one line: the evidence, the command's result, the recorded value
    help: str = ""
    by: str | None = None
    at: str | None = None
    reason: str | None = None
    value: str | None = None


class PhaseView(msgspec.Struct, frozen=True):
    id: str
    title: str
    state: PhaseState
    steps: tuple[StepView, ...]
    gate_reason: str | None = None  # the gate into this phase was overridden

    @property
    def done(self) -> int:
        return sum(step.state.complete for step in self.steps)


class RunbookView(msgspec.Struct, frozen=True):
    title: str
    environment: str
    session: str | None
    phases: tuple[PhaseView, ...]
    closed: bool = False

    @property
    def steps(self) -> list[StepView]:
        return [step for phase in self.phases for step in phase.steps]

    @property
    def complete(self) -> bool:
        return all(phase.state is PhaseState.DONE for phase in self.phases)

    def step(self, key: str) -> StepView | None:
        return next((s for s in self.steps if s.key == key), None)

    def first_open_key(self) -> str | None:
        """Where the cursor goes at start-up: the first step that is not done."""
        for step in self.steps:
            if not step.state.complete:
                return step.key
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "session": self.session,
            "phases": [{
                "id": phase.id, "title": phase.title, "state": phase.state.value,
                "steps": [{"id": s.id, "title": s.title, "kind": s.kind.value,
                           "state": s.state.value, "by": s.by, "at": s.at,
                           "reason": s.reason, "value": s.value} for s in phase.steps],
            } for phase in self.phases],
        }


class _Streak(msgspec.Struct):
    last: float = -1.0  # finished_at of the last reading counted
    count: int = 0


@dataclass
class RunbookProgress:
    """The session's progress through `runbook`: the fold of its journal events, plus the
    passing streaks of probe steps (live, not journaled)."""

    runbook: Runbook
    environment: str
    session: str | None = None
    confirmed: dict[str, Mark] = field(default_factory=dict)
    overridden: dict[str, Mark] = field(default_factory=dict)
    gates: dict[str, Mark] = field(default_factory=dict)  # phase id -> gate override
    values: dict[str, Mark] = field(default_factory=dict)
    tags: dict[str, Mark] = field(default_factory=dict)
    commands: dict[str, CommandRun] = field(default_factory=dict)
    completed_phases: set[str] = field(default_factory=set)
    probe_passed: dict[str, bool] = field(default_factory=dict)  # last journaled outcome
    deploy_marked_at: str | None = None
    closed: bool = False
    problems: list[str] = field(default_factory=list)
    streaks: dict[str, _Streak] = field(default_factory=dict)
    recorded: dict[str, str] = field(default_factory=dict)  # {sha}, {deployment_url}, ...
    operators: list[str] = field(default_factory=list)  # everyone who acted, in order

    def __post_init__(self) -> None:
        self._keys = frozenset(self.runbook.keys())

    # --- the fold ---------------------------------------------------------------------

    def apply_all(self, events: Iterable[Mapping[str, Any]]) -> RunbookProgress:
        for event in events:
            self.apply(event)
        return self

    def apply(self, event: Mapping[str, Any]) -> None:
        """Fold one journal event in. An event about a step this runbook does not have (the
        runbook changed between runs) is noted, never fatal."""
        name = event.get("event")
        mark = Mark(by=_text(event.get("operator")), at=_text(event.get("at")),
                    reason=_text(event.get("reason")), value=_text(event.get("value")))
        if mark.by and mark.by not in self.operators:
            self.operators.append(mark.by)
        key = _text(event.get("step"))
        if key is not None and key not in self._keys:
            self.problems.append(f"the journal names a step this runbook does not have: {key}")
            return
        if name == SESSION_OPENED:
            self.session = _text(event.get("session")) or self.session
        elif name == SESSION_CLOSED:
            self.closed = True
        elif name == STEP_CONFIRMED and key:
            self.confirmed[key] = mark
        elif name == STEP_UNCONFIRMED and key:
            self.confirmed.pop(key, None)
        elif name == STEP_OVERRIDDEN and key:
            self.overridden[key] = mark
        elif name == GATE_OVERRIDDEN:
            phase = _text(event.get("phase"))
            if phase:
                self.gates[phase] = mark
        elif name == VALUE_RECORDED and key:
            self.values[key] = mark
            self._remember(event.get("values"))
        elif name == TAG_CREATED and key:
            self.tags[key] = Mark(by=mark.by, at=mark.at, value=_text(event.get("tag")))
            self._remember(event.get("values"))
        elif name == COMMAND_STARTED and key:
            self.commands[key] = CommandRun(started_at=mark.at or "", by=mark.by)
        elif name in (COMMAND_FINISHED, COMMAND_CANCELLED) and key:
            run = self.commands.get(key) or CommandRun(started_at=mark.at or "", by=mark.by)
            tail = event.get("output_tail")
            code = event.get("exit_code")
            duration = event.get("duration_s")
            self.commands[key] = CommandRun(
                started_at=run.started_at, finished_at=mark.at, by=run.by,
                summary=_text(event.get("summary")),
                exit_code=code if isinstance(code, int) and not isinstance(code, bool)
                else None,
                duration_s=float(duration) if isinstance(duration, int | float) else None,
                output_tail=tuple(str(line) for line in tail) if isinstance(tail, list)
                else (), cancelled=name == COMMAND_CANCELLED)
        elif name in (PROBE_STEP_PASSED, PROBE_STEP_FAILED) and key:
            self.probe_passed[key] = name == PROBE_STEP_PASSED
        elif name == PHASE_COMPLETED:
            phase = _text(event.get("phase"))
            if phase:
                self.completed_phases.add(phase)
        elif name == DEPLOY_MARKED:
            self.deploy_marked_at = mark.at

    def _remember(self, named: object) -> None:
        """Values later commands fill in: {deployment_url}, {sha}, {tag}."""
        if isinstance(named, dict):
            self.recorded.update({k: v for k, v in named.items()
                                  if isinstance(k, str) and isinstance(v, str)})

    # --- live evidence ----------------------------------------------------------------

    def observe(self, environment: str, reading: Reading) -> None:
        """Count a fresh reading towards the streaks of the probe steps that read it."""
        for phase in self.runbook.phases:
            for step in phase.steps:
                if step.kind is not StepKind.PROBE or step.probe != reading.probe:
                    continue
                if (step.environment or self.environment) != environment:
                    continue
                streak = self.streaks.setdefault(_key(phase, step), _Streak())
                if reading.finished_at and reading.finished_at == streak.last:
                    continue  # the same reading again (a redraw), not a new one
                streak.last = reading.finished_at
                streak.count = streak.count + 1 if evaluate(step, reading)[0] else 0

    # --- the checklist ----------------------------------------------------------------

    def view(self, readings: Mapping[tuple[str, str], Reading],
             running: Mapping[str, str] | None = None) -> RunbookView:
        """The checklist now. `readings` by (environment, probe); `running`: the command
        steps running in this process, with a one-line progress each."""
        running = running or {}
        phases: list[PhaseView] = []
        previous_done = True
        for phase in self.runbook.phases:
            steps = tuple(self._step_view(phase, step, readings, running)
                          for step in phase.steps)
            complete = all(s.state.complete for s in steps)
            gate = self.gates.get(phase.id)
            if complete:
                state = PhaseState.DONE
            elif previous_done or gate is not None:
                state = PhaseState.OPEN
            else:
                state = PhaseState.LOCKED
            phases.append(PhaseView(phase.id, phase.title, state, steps,
                                    gate_reason=gate.reason if gate else None))
            # Once a phase has been complete, the next stays open even if evidence unticks.
            previous_done = complete or phase.id in self.completed_phases
        return RunbookView(self.runbook.title, self.environment, self.session, tuple(phases),
                           closed=self.closed)

    def _step_view(self, phase: Phase, step: Step,
                   readings: Mapping[tuple[str, str], Reading],
                   running: Mapping[str, str]) -> StepView:
        key = _key(phase, step)
        base = {"key": key, "phase": phase.id, "id": step.id, "title": step.title,
                "kind": step.kind, "help": step.help}
        if key in self.overridden:
            mark = self.overridden[key]
            return StepView(**base, state=StepState.OVERRIDDEN,
                            detail=f"overridden: {mark.reason}", by=mark.by, at=mark.at,
                            reason=mark.reason)
        if step.kind is StepKind.MANUAL:
            mark = self.confirmed.get(key)
            if mark is None:
                return StepView(**base, state=StepState.PENDING, detail="to confirm (Space)")
            return StepView(**base, state=StepState.DONE, detail=f"confirmed by {mark.by}",
                            by=mark.by, at=mark.at)
        if step.kind is StepKind.PROBE:
            return self._probe_view(key, step, readings, base)
        if step.kind is StepKind.COMMAND:
            return self._command_view(key, step, running, base)
        if step.kind is StepKind.RECORD:
            mark = self.values.get(key)
            if mark is None:
                hint = "confirm the live deployment (Enter)" if step.source == "deployments" \
                    else "type the value (Enter)"
                return StepView(**base, state=StepState.PENDING, detail=hint)
            return StepView(**base, state=StepState.DONE, detail=f"recorded: {mark.value}",
                            by=mark.by, at=mark.at, value=mark.value)
        mark = self.tags.get(key)  # tag
        if mark is None:
            return StepView(**base, state=StepState.PENDING, detail="create the tag (Enter)")
        return StepView(**base, state=StepState.DONE, detail=f"tagged {mark.value}",
                        by=mark.by, at=mark.at, value=mark.value)

    def _probe_view(self, key: str, step: Step, readings: Mapping[tuple[str, str], Reading],
                    base: dict[str, Any]) -> StepView:
        environment = step.environment or self.environment
        where = f"{step.probe}" + (f" ({environment})" if step.environment else "")
        reading = readings.get((environment, step.probe or ""))
        if reading is None:
            return StepView(**base, state=StepState.WAITING,
                            detail=f"waiting for the first {where} reading")
        passes, why = evaluate(step, reading)
        streak = self.streaks.get(key, _Streak()).count
        if passes and streak >= step.readings:
            return StepView(**base, state=StepState.PASSING, detail=f"{where}: {why}")
        if passes:
            return StepView(**base, state=StepState.WAITING,
                            detail=f"{where}: {why} ({streak}/{step.readings} readings)")
        return StepView(**base, state=StepState.FAILING, detail=f"{where}: {why}")

    def _command_view(self, key: str, step: Step, running: Mapping[str, str],
                      base: dict[str, Any]) -> StepView:
        if key in running:
            return StepView(**base, state=StepState.RUNNING, detail=running[key] or "running")
        run = self.commands.get(key)
        if run is None:
            return StepView(**base, state=StepState.PENDING, detail="run it (Enter)")
        if run.finished_at is None:
            return StepView(**base, state=StepState.INTERRUPTED, by=run.by, at=run.started_at,
                            detail="interrupted: the cockpit stopped while it ran (Enter "
                                   "runs it again)")
        if run.cancelled:
            return StepView(**base, state=StepState.FAILING, by=run.by, at=run.finished_at,
                            detail="cancelled (Enter runs it again)")
        took = f" in {run.duration_s:.1f}s" if run.duration_s is not None else ""
        if run.exit_code == 0:
            return StepView(**base, state=StepState.DONE, by=run.by, at=run.finished_at,
                            detail=run.summary or f"passed (exit 0){took}")
        said = run.summary or (f"failed (exit {run.exit_code}){took}"
                               if run.exit_code is not None else "failed")
        return StepView(**base, state=StepState.FAILING, by=run.by, at=run.finished_at,
                        detail=said)


def evaluate(step: Step, reading: Reading) -> tuple[bool, str]:
    """Whether `reading` satisfies the probe step's condition, and why, in a few words."""
    if reading.status is Status.SKIPPED:
        return False, one_line(reading.summary, 160) or "not configured"
    reasons: list[str] = []
    passes = True
    if step.status:
        ok = reading.status in step.status
        passes &= ok
        reasons.append(f"{reading.status.glyph} {reading.status.label}")
    if step.metric is not None:
        value = reading.metrics.get(step.metric)
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            return False, f"{step.metric} unknown ({one_line(reading.summary, 80)})"
        ok = (step.below is None or value < step.below) and \
             (step.above is None or value > step.above)
        passes &= ok
        shown = partial(_metric, step.metric)
        bounds = " and ".join(part for part in (
            f"< {shown(step.below)}" if step.below is not None else "",
            f"> {shown(step.above)}" if step.above is not None else "") if part)
        name = step.metric.removesuffix("_s").replace("_", " ")
        reasons.append(f"{name} {shown(value)} ({'' if ok else 'not '}{bounds})")
    if not passes and reading.summary:
        reasons.append(one_line(reading.summary, 80))
    return passes, " · ".join(reasons)


def _metric(name: str, value: float) -> str:
    """A metric's value as the operator reads it: seconds as a duration, a ratio as a
    percent (shown as everywhere else), anything else as a number."""
    if name.endswith("_s"):
        return format_duration(value)
    if "ratio" in name:
        return percent(value, 1)
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def _key(phase: Phase, step: Step) -> str:
    return f"{phase.id}/{step.id}"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
