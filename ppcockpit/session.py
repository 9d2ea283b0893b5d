"""One deployment session, with no UI: the probe runners, the cockpit's picture of the
world, the runbook and its journal, the read-only guard and the alert rule.

It takes commands (confirm, override, record, run, tag, mark the deploy, end) and tells its
listeners what happened (ppcockpit.session_events). The TUI, `check` and `runbook status`
all read a Session, so what the screen shows and what a headless command prints come from
the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from ppcockpit.config import Config
from ppcockpit.journal import (
    DEPLOY_MARKED,
    PHASE_COMPLETED,
    PROBE_STEP_FAILED,
    PROBE_STEP_PASSED,
)
from ppcockpit.journal_records import JournalEvent, NewEvent
from ppcockpit.model import Reading, Snapshot, Verdict
from ppcockpit.probe import DeployAware
from ppcockpit.rollback_progress import RollbackProgress
from ppcockpit.runbook import Runbook, StepKind
from ppcockpit.runbook_engine import (
    RunbookProgress,
    RunbookView,
    StepState,
    evaluate,
)
from ppcockpit.runner import ProbeRunner
from ppcockpit.session_events import (
    AlertRaised,
    Notice,
    ReadingArrived,
    RunbookChanged,
    SessionEvent,
    Severity,
)
from ppcockpit.state import CockpitState
from ppcockpit.task_stop import cancel_and_wait

if TYPE_CHECKING:
    from ppcockpit.telemetry import CockpitTelemetry

log = logging.getLogger(__name__)
Listener = Callable[[SessionEvent], None]


class Refused(Exception):
    """A command the session will not carry out; the message says why, to the operator."""


class LogTailLike(Protocol):
    """What the session needs of the log tail: start, stop, and its buffer."""

    buffer: Any

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Journal(Protocol):
    """What the session needs of a journal store (ppcockpit.journal.JournalStore)."""

    async def append(self, session_id: str, event: NewEvent) -> JournalEvent: ...

    async def aclose(self) -> None: ...


class SessionContext(msgspec.Struct):
    """Where the session is and who runs it; set once, shown everywhere."""

    config: Config
    operator: str
    read_only: bool = False
    journal: Journal | None = None
    session_id: str | None = None
    clock: Callable[[], float] = time.time  # now, for how old a reading is
    # The watched stack's own time (a rehearsal's runs faster): deploy marks and the clock
    # on screen read it, so the header, the chart and the marker agree. Default: `clock`.
    stack_clock: Callable[[], float] | None = None

    def stack_now(self) -> float:
        return (self.stack_clock or self.clock)()
    runbook: Runbook | None = None
    environments: dict[str, ProbeRunner] = msgspec.field(default_factory=dict)  # not ours
    rehearsal: bool = False
    log_tail: LogTailLike | None = None  # the app's log stream (probes.log_tail.LogTail)


class Session:
    """The cockpit without a screen."""

    def __init__(self, context: SessionContext, runner: ProbeRunner,
                 events: Iterable[Mapping[str, Any]] = ()) -> None:
        self.context = context
        self.config = context.config
        self.runner = runner
        self.environment = context.config.environment_name
        intervals = {name: probe.interval for name, probe in runner.probes.items()}
        self.state = CockpitState(runner.names, intervals, history=context.config.history)
        self.other_readings: dict[tuple[str, str], Reading] = {}
        events = list(events)
        # One fold of the journal's rollback events: the engine resumes from it and the
        # release log records it.
        self.rollbacks = RollbackProgress().apply_all(events)
        self.progress: RunbookProgress | None = None
        if context.runbook is not None:
            self.progress = RunbookProgress(context.runbook, self.environment,
                                            session=context.session_id).apply_all(events)
        self._listeners: list[Listener] = []
        self._writes: asyncio.Queue[tuple[NewEvent, asyncio.Future[dict[str, Any]]]] | None = \
            None
        self._writer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.running: dict[str, str] = {}  # command steps running here -> a progress line
        self.telemetry: CockpitTelemetry | None = None  # started with the probes
        runner.subscribe(lambda reading: self._reading(self.environment, reading))
        for name, other in context.environments.items():
            other.subscribe(lambda reading, name=name: self._reading(name, reading))

    # --- lifecycle ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        """Start every probe loop and the cockpit's own telemetry (call from the running
        event loop; the TUI calls it right after its first frame)."""
        self.runner.start()
        for other in self.context.environments.values():
            other.start()
        if self.context.log_tail is not None:
            self.context.log_tail.start()
        from ppcockpit.telemetry import CockpitTelemetry

        posthog = self.config.environment.posthog
        self.telemetry = CockpitTelemetry(
            posthog.capture_key if posthog else None, posthog.host if posthog else "",
            environment=self.environment, operator=self.context.operator)
        self.telemetry.capture("cockpit_session_started",
                               {"read_only": self.context.read_only,
                                "rehearsal": self.context.rehearsal})

    async def stop(self) -> None:
        """Stop the probes; wait (bounded) for what is being journaled to be written."""
        await cancel_and_wait(list(self._background))
        stopping = [self.runner.stop(), *(r.stop() for r in self.context.environments.values())]
        if self.context.log_tail is not None:
            stopping.append(self.context.log_tail.stop())
        await asyncio.gather(*stopping)
        if self._writes is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._writes.join()
        if self._writer is not None:
            await cancel_and_wait([self._writer])
        if self.context.journal is not None:
            await self.context.journal.aclose()  # its writer thread goes (made again if used)
        if self.telemetry is not None:
            await self.telemetry.aclose()  # flush, within its own time limit

    async def sweep(self, names: Iterable[str] | None = None) -> list[Reading]:
        """One run of the chosen probes (all by default), and of the other environments'
        probes the runbook reads: what `check` and `runbook status` see."""
        others = [r.sweep() for r in self.context.environments.values()]
        results = await asyncio.gather(self.runner.sweep(names), *others)
        return results[0]

    # --- what is known ------------------------------------------------------------------

    def verdict(self) -> Verdict:
        return self.state.verdict()

    def snapshot(self, now: float | None = None) -> Snapshot:
        return self.state.snapshot(self.environment, self.context.operator,
                                   self.context.clock() if now is None else now)

    def readings(self) -> dict[tuple[str, str], Reading]:
        """The latest reading of every probe, by (environment, probe)."""
        mine = {(self.environment, name): r for name, r in self.state.readings.items()}
        return {**self.other_readings, **mine}

    def runbook_view(self) -> RunbookView | None:
        if self.progress is None:
            return None
        return self.progress.view(self.readings(), self.running)

    # --- readings -----------------------------------------------------------------------

    def _reading(self, environment: str, reading: Reading) -> None:
        transitions: tuple[Any, ...] = ()
        if environment == self.environment:
            transitions = tuple(self.state.apply(reading))
        else:
            self.other_readings[(environment, reading.probe)] = reading
        self.emit(ReadingArrived(environment, reading, transitions))
        if environment == self.environment:
            self._check_alerts(reading)
        if self.progress is not None:
            self._follow_evidence(environment, reading)

    def _check_alerts(self, reading: Reading) -> None:
        """The team's rule: a provider unavailable for more than N consecutive checks."""
        threshold = self.config.probes.health.unavailable_after
        for row in reading.rows:
            if row.alerting and row.consecutive_failures == threshold + 1:
                self.emit(AlertRaised(reading.probe, row.label, row.consecutive_failures,
                                       threshold))

    def _follow_evidence(self, environment: str, reading: Reading) -> None:
        """Probe steps tick and untick with the evidence; each change is journaled."""
        progress = self.progress
        assert progress is not None
        before = self._probe_states()
        progress.observe(environment, reading)
        after = self._probe_states()
        changed = False
        for key, state in after.items():
            if before.get(key) == state:
                continue
            changed = True
            passed = state is StepState.PASSING
            if state in (StepState.PASSING, StepState.FAILING) and \
                    progress.probe_passed.get(key) is not passed:
                progress.probe_passed[key] = passed
                step = progress.runbook.step(key)
                summary = evaluate(step, reading)[1]
                self._journal_soon(PROBE_STEP_PASSED if passed else PROBE_STEP_FAILED,
                                   step=key, summary=summary)
        if changed:
            self.note_completed_phases()
            self.emit(RunbookChanged())

    def _probe_states(self) -> dict[str, StepState]:
        view = self.runbook_view()
        if view is None:
            return {}
        return {s.key: s.state for s in view.steps if s.kind is StepKind.PROBE}

    def note_completed_phases(self) -> None:
        """The first time a phase is complete, say so in the journal: the next phase then
        stays open even if a probe step unticks later."""
        view = self.runbook_view()
        progress = self.progress
        if view is None or progress is None:
            return
        for phase in view.phases:
            if phase.state.value == "done" and phase.id not in progress.completed_phases:
                progress.completed_phases.add(phase.id)
                self._journal_soon(PHASE_COMPLETED, phase=phase.id)

    # --- commands -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Run every probe now."""
        self.runner.refresh()
        for other in self.context.environments.values():
            other.refresh()

    async def mark_deploy(self) -> datetime:
        """The deploy went live now: before/after comparisons start here, the journal and
        (unless read-only) a PostHog annotation record it."""
        at = datetime.fromtimestamp(self.context.stack_now(), UTC)
        marked = [name for name, probe in self.runner.probes.items()
                  if isinstance(probe, DeployAware)]
        for name in marked:
            self.runner.probes[name].mark_deploy(at)  # type: ignore[attr-defined]
        self.runner.refresh(marked)
        if self.context.log_tail is not None:
            self.context.log_tail.buffer.mark_deploy(at)
        if self.context.read_only:
            self.notice(f"Deploy marked at {at:%H:%M:%S} UTC on this screen only: read-only, "
                        "nothing remote was changed and nothing was journaled.",
                        title="Deploy marker")
            return at
        await self.journal(DEPLOY_MARKED, marked_at=at.isoformat(timespec="seconds"))
        self.notice(f"Deploy marked at {at:%H:%M:%S} UTC"
                    + (f" for {', '.join(marked)}" if marked else ""), title="Deploy marker")
        posthog = self.config.environment.posthog
        if posthog and posthog.api_key:
            self._background_task(self._annotate_deploy(at))
        return at

    async def _annotate_deploy(self, at: datetime) -> None:
        from ppcockpit.model import TargetUnavailable
        from ppcockpit.telemetry import create_annotation

        posthog = self.config.environment.posthog
        assert posthog is not None and posthog.api_key
        content = f"Deploy of {self.environment} marked by {self.context.operator}"
        try:
            annotation = await create_annotation(posthog.host, posthog.project_id,
                                                 posthog.api_key, content, at, timeout=10.0)
        except TargetUnavailable as exc:
            self.notice(exc.reason, title="PostHog annotation", severity="warning")
            return
        self.notice(f"Annotation {annotation} created in PostHog", title="Deploy marker")

    # --- journal ------------------------------------------------------------------------

    def writable(self, what: str) -> None:
        """Refused in read-only, and without a journal session to record it."""
        if self.context.read_only:
            raise Refused(f"Read-only: {what} is refused.")
        if self.context.journal is None or self.context.session_id is None:
            raise Refused(f"No deployment session is open: {what} cannot be recorded.")

    async def journal(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event and wait until it is on disk (fsync'd), in order with every
        other event of this session; the event as recorded (with its time) comes back."""
        if self.context.journal is None or self.context.session_id is None:
            return {"event": event, "operator": self.context.operator, **fields}
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._queue().put_nowait((NewEvent(event, self.context.operator, fields), future))
        return await future

    def _journal_soon(self, event: str, **fields: Any) -> None:
        """Journal without waiting (evidence changes noticed in a reading callback)."""
        if self.context.journal is None or self.context.session_id is None \
                or self.context.read_only:
            return
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_failure)
        self._queue().put_nowait((NewEvent(event, self.context.operator, fields), future))

    def _queue(self) -> asyncio.Queue[tuple[NewEvent, asyncio.Future[dict[str, Any]]]]:
        if self._writes is None:
            self._writes = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_in_order(), name="journal-writer")
        return self._writes

    async def _write_in_order(self) -> None:
        assert self._writes is not None and self.context.journal is not None
        while True:
            event, future = await self._writes.get()
            try:
                assert self.context.session_id is not None
                written = await self.context.journal.append(self.context.session_id, event)
            except Exception as exc:
                if not future.done():
                    future.set_exception(Refused(f"the journal could not record it: {exc}"))
            else:
                if not future.done():
                    future.set_result(written.record())
            finally:
                self._writes.task_done()

    # --- telling ------------------------------------------------------------------------

    def notice(self, message: str, *, title: str = "",
               severity: Severity = "information") -> None:
        self.emit(Notice(self.config.redactor(message), title, severity))

    def emit(self, event: SessionEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the others or the probes
                log.exception("session listener failed on %s", type(event).__name__)

    def _background_task(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("journal write failed: %s", future.exception())
