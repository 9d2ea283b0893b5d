"""The runbook's commands, on a Session: confirm, override, record, run, tag, end.

Every action is journaled (fsync'd) before the checklist shows it as done, refused in
read-only, and refused on a step of a locked phase. No UI: the App asks the questions
(a reason, a value, a confirmation) and calls these with the answers.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec

from ppcockpit.journal import (
    COMMAND_CANCELLED,
    COMMAND_FINISHED,
    COMMAND_STARTED,
    GATE_OVERRIDDEN,
    RELEASE_LOGGED,
    SESSION_CLOSED,
    STEP_CONFIRMED,
    STEP_OVERRIDDEN,
    STEP_UNCONFIRMED,
    TAG_CREATED,
    VALUE_RECORDED,
)
from ppcockpit.runbook import Step, StepKind
from ppcockpit.runbook_engine import (
    PhaseState,
    RunbookView,
    StepState,
    StepView,
)
from ppcockpit.session import Refused, Session
from ppcockpit.session_events import CommandOutput, RunbookChanged, SessionEnded
from ppcockpit.text import one_line

OUTPUT_KEPT = 200  # lines of a command's output kept for its detail pane
MIN_REASON = 3  # characters: an override needs a reason, not a keystroke


class Proposal(msgspec.Struct, frozen=True):
    """A value the cockpit proposes for a record step (the live deployment), to confirm."""

    value: str
    values: dict[str, str]  # the placeholders it fills: {deployment_url}, {sha}
    question: str


class Checklist:
    """Walks the session's runbook from commands."""

    def __init__(self, session: Session, *, variables: Mapping[str, str], base_dir: Path,
                 release_log: Path,
                 today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        if session.progress is None:
            raise ValueError("the session has no runbook")
        self.session = session
        self.progress = session.progress
        # A command's whole environment: the cockpit's, plus the --env-file's variables.
        self.variables = {**os.environ, **variables}
        self.base_dir = base_dir
        self.release_log = release_log
        self.today = today
        self._outputs: dict[str, deque[str]] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        for key, run in self.progress.commands.items():
            if run.output_tail:
                self._outputs[key] = deque(run.output_tail, maxlen=OUTPUT_KEPT)

    def view(self) -> RunbookView:
        view = self.session.runbook_view()
        assert view is not None
        return view

    def output(self, key: str) -> tuple[str, ...]:
        return tuple(self._outputs.get(key, ()))

    def outputs(self) -> dict[str, tuple[str, ...]]:
        return {key: tuple(lines) for key, lines in self._outputs.items()}

    # --- which step, and may it be touched ------------------------------------------------

    def _actionable(self, key: str, what: str) -> tuple[Step, StepView]:
        self.session.writable(what)
        view = self.view()
        step_view = view.step(key)
        if step_view is None:
            raise Refused(f"There is no step {key!r} in this runbook.")
        phase = next(p for p in view.phases if p.id == step_view.phase)
        if phase.state is PhaseState.LOCKED:
            raise Refused(f"“{phase.title}” is locked until the phase before it is complete; "
                          "`o` on the phase overrides its gate with a reason.")
        return self.progress.runbook.step(key), step_view

    async def _changed(self, event: str, key: str | None = None, **fields: Any) -> None:
        """Journal (and wait for the disk), fold the event in, then tell the screens."""
        if key is not None:
            fields["step"] = key
        self.progress.apply(await self.session.journal(event, **fields))
        self.session.note_completed_phases()
        self.session.emit(RunbookChanged(key))

    # --- manual -------------------------------------------------------------------------

    async def confirm(self, key: str) -> None:
        """Space: a manual step is confirmed (again: unconfirmed) by the operator."""
        step, view = self._actionable(key, "confirming a step")
        if step.kind is not StepKind.MANUAL:
            raise Refused(f"“{step.title}” is a {step.kind.value} step: Enter "
                          f"{_ENTER_DOES[step.kind]}.")
        if view.state is StepState.OVERRIDDEN:
            raise Refused(f"“{step.title}” is overridden already.")
        await self._changed(STEP_UNCONFIRMED if view.state is StepState.DONE
                            else STEP_CONFIRMED, key)

    async def override(self, key: str, reason: str) -> None:
        """`o`: a step (phase/step) or a phase's gate (phase) is passed over, with a reason."""
        reason = one_line(reason, 300)
        if len(reason) < MIN_REASON:
            raise Refused("An override needs a reason of a few words.")
        if "/" not in key:
            self.session.writable("overriding a gate")
            view = self.view()
            phase = next((p for p in view.phases if p.id == key), None)
            if phase is None:
                raise Refused(f"There is no phase {key!r} in this runbook.")
            if phase.state is not PhaseState.LOCKED:
                raise Refused(f"“{phase.title}” is not locked: nothing to override.")
            await self._changed(GATE_OVERRIDDEN, phase=key, reason=reason)
            return
        step, view = self._actionable(key, "overriding a step")
        if view.state.complete:
            raise Refused(f"“{step.title}” is {view.state.value}: nothing to override.")
        if key in self._tasks:
            raise Refused(f"“{step.title}” is running: cancel it first (Ctrl+C).")
        await self._changed(STEP_OVERRIDDEN, key, reason=reason)

    # --- record -------------------------------------------------------------------------

    def proposal(self, key: str) -> Proposal | None:
        """For a `from = "deployments"` record step: the live deployment's URL and SHA."""
        step = self.progress.runbook.step(key)
        if step.kind is not StepKind.RECORD or step.source != "deployments":
            return None
        reading = self.session.readings().get((self.session.environment, "deployments"))
        details = reading.details if reading is not None else {}
        url, sha = details.get("url"), details.get("sha")
        if not isinstance(url, str) or not isinstance(sha, str) or not url or not sha:
            why = reading.summary if reading is not None else "no reading yet"
            raise Refused(f"The live deployment is not known ({why}): type it instead, or "
                          "wait for the deployments probe.")
        shown_url = url if "://" in url else f"https://{url}"
        return Proposal(value=f"{shown_url} · {sha}",
                        values={"deployment_url": shown_url, "sha": sha},
                        question=f"Record the live deployment?\n  URL  {shown_url}\n"
                                 f"  SHA  {sha}")

    def check_value(self, key: str, value: str) -> str | None:
        """Why a typed value does not fit the step's `pattern` (None when it does)."""
        step = self.progress.runbook.step(key)
        value = value.strip()
        if not value:
            return "Type the value (Esc cancels)."
        if step.pattern is not None and re.fullmatch(step.pattern, value) is None:
            return f"That does not match the expected form ({step.pattern})."
        return None

    async def record(self, key: str, value: str, proposal: Proposal | None = None) -> None:
        step, _ = self._actionable(key, "recording a value")
        if step.kind is not StepKind.RECORD:
            raise Refused(f"“{step.title}” is not a record step.")
        if proposal is not None:
            values = proposal.values
            value = proposal.value
        else:
            why = self.check_value(key, value)
            if why is not None:
                raise Refused(why)
            value = one_line(value, 500)
            values = {step.name or step.id.replace("-", "_"): value}
        await self._changed(VALUE_RECORDED, key, value=value, values=values,
                            source=step.source or "operator")

    # --- command ------------------------------------------------------------------------

    def running(self, key: str) -> bool:
        return key in self._tasks

    async def run(self, key: str) -> None:
        """Enter on a command step: run it, its output streaming to the detail pane;
        journaled when it starts and when it ends (exit code, time, output tail)."""
        from ppcockpit.step_command import StepCommandError, run_step_command

        step, _ = self._actionable(key, "running a command")
        if step.kind is not StepKind.COMMAND:
            raise Refused(f"“{step.title}” is not a command step.")
        if key in self._tasks:
            raise Refused(f"“{step.title}” is running already (Ctrl+C cancels it).")
        assert step.run is not None
        cwd = self._path(step.cwd)
        lines = self._outputs[key] = deque(maxlen=OUTPUT_KEPT)
        task = asyncio.current_task()
        assert task is not None
        self._tasks[key] = task
        self.session.running[key] = "starting"
        try:
            await self._changed(COMMAND_STARTED, key, run=step.run, cwd=str(cwd))

            def line(text: str) -> None:
                lines.append(text)
                self.session.running[key] = one_line(text, 120) or "running"
                self.session.emit(CommandOutput(key, text))

            try:
                result = await run_step_command(
                    step.run, cwd=cwd, env=self.variables, timeout=step.timeout,
                    placeholders=self.progress.recorded, on_line=line,
                    redact=self.session.config.redactor)
            except StepCommandError as exc:
                lines.append(str(exc))
                await self._changed(COMMAND_FINISHED, key, exit_code=None, duration_s=0.0,
                                    output_tail=[str(exc)], summary=f"not run: {exc}")
                raise Refused(str(exc)) from None
            if result.cancelled and task.cancelling():
                task.uncancel()  # handled here: the cancellation is journaled below
            self.session.running.pop(key, None)
            await self._changed(COMMAND_CANCELLED if result.cancelled else COMMAND_FINISHED,
                                key, exit_code=result.exit_code,
                                duration_s=round(result.duration_s, 3),
                                timed_out=result.timed_out, summary=result.summary,
                                output_tail=list(result.output_tail)[-50:])
            self.session.notice(f"{step.title}: {result.summary}", title="Command",
                                severity="information" if result.passed else "warning")
        finally:
            self.session.running.pop(key, None)
            self._tasks.pop(key, None)
            self.session.emit(RunbookChanged(key))

    def cancel(self, key: str) -> bool:
        """Ctrl+C on a running command step: stop it (its whole process group)."""
        task = self._tasks.get(key)
        if task is None:
            return False
        task.cancel()
        return True

    # --- tag ----------------------------------------------------------------------------

    async def propose_tag(self, key: str) -> str:
        from ppcockpit.release_tag import propose_tag

        step, _ = self._actionable(key, "creating a tag")
        if step.kind is not StepKind.TAG:
            raise Refused(f"“{step.title}” is not a tag step.")
        return await propose_tag(self._path(step.repo), self.today())

    async def create_tag(self, key: str, tag: str) -> None:
        from ppcockpit.release_tag import ReleaseTagError, create_tag

        step, _ = self._actionable(key, "creating a tag")
        if step.kind is not StepKind.TAG:
            raise Refused(f"“{step.title}” is not a tag step.")
        try:
            result = await create_tag(self._path(step.repo), tag, step.ref,
                                      message=f"Release {tag} ({self.session.environment})",
                                      push=step.push, remote=step.remote, timeout=60.0)
        except ReleaseTagError as exc:
            raise Refused(str(exc)) from None
        await self._changed(TAG_CREATED, key, tag=tag, sha=result.sha, pushed=result.pushed,
                            values={"tag": tag, "tag_sha": result.sha})

    # --- the end: the release log ------------------------------------------------------

    async def end(self) -> SessionEnded:
        """Ctrl+E (or the last phase complete): the release log entry is appended to the
        release log, the session closed; the Markdown table comes back to be pasted."""
        from ppcockpit.release_log import append_release_log
        from ppcockpit.release_markdown import markdown

        self.session.writable("ending the session")
        entry = self.release_entry()
        redact = self.session.config.redactor
        await asyncio.to_thread(append_release_log, self.release_log, entry, redact=redact)
        await self._changed(RELEASE_LOGGED, path=str(self.release_log))
        await self._changed(SESSION_CLOSED)
        ended = SessionEnded(markdown(entry, redact), str(self.release_log))
        self.session.emit(ended)
        return ended

    def release_entry(self) -> Any:
        """What section 7 of the runbook asks the release log to hold, from the journal
        and the evidence now."""
        from ppcockpit.release_entry import ManualCheck, Override, ReleaseEntry
        from ppcockpit.release_log import utc_timestamp

        progress, session = self.progress, self.session
        view = self.view()
        readings = session.readings()
        live = readings.get((session.environment, "deployments"))
        live_details = live.details if live is not None else {}
        migrations = readings.get((session.environment, "supabase_migrations"))
        checks = [ManualCheck(step.title, step.by or "?", step.at) for step in view.steps
                  if step.kind is StepKind.MANUAL and step.state is StepState.DONE]
        overrides = [Override(step.title, step.reason or "", step.by or "?", step.at)
                     for step in view.steps if step.state is StepState.OVERRIDDEN]
        overrides += [Override(f"gate into “{phase.title}”", mark.reason or "", mark.by or "?",
                               mark.at) for phase in view.phases
                      if (mark := progress.gates.get(phase.id)) is not None]
        return ReleaseEntry(
            when=utc_timestamp(),
            environment=session.environment,
            sha=progress.recorded.get("sha") or _str(live_details.get("sha")),
            tag=progress.recorded.get("tag"),
            deployment_url=progress.recorded.get("deployment_url")
            or _str(live_details.get("url")),
            operators=tuple(progress.operators or [session.context.operator]),
            migrations_applied=tuple(_migrations(migrations)),
            links_reviewed=tuple((link.title, link.url) for link in
                                 session.config.environment.links),
            manual_checks=tuple(checks),
            overrides=tuple(overrides),
            rollback=session.rollbacks.release_rollback(),
            session=progress.session,
            verdict=session.verdict().decision.value,
        )

    def _path(self, relative: str | None) -> Path:
        if not relative:
            return self.base_dir
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


_ENTER_DOES = {
    StepKind.PROBE: "shows its evidence; it passes on its own",
    StepKind.COMMAND: "runs it",
    StepKind.RECORD: "records its value",
    StepKind.TAG: "creates the tag",
    StepKind.MANUAL: "confirms it",
}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _migrations(reading: Any) -> list[str]:
    """The migrations probe's picture: how many are applied, the newest, what is pending."""
    if reading is None or reading.status.value == "skipped":
        return []
    details, metrics = reading.details, reading.metrics
    said = []
    if isinstance(metrics.get("applied"), int):
        newest = details.get("newest_applied")
        said.append(f"{metrics['applied']} applied" + (f", newest {newest}" if newest else ""))
    pending = details.get("pending")
    if isinstance(pending, list) and pending:
        said.append("pending: " + ", ".join(str(p) for p in pending))
    return said
