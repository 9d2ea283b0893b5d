"""The Textual App: wires a Session to the screens. Keys become session commands, session
events become redraws and toasts. What the cockpit knows and does lives in the Session."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ppcockpit.checklist import Checklist
from ppcockpit.config import Config, ConfigError
from ppcockpit.model import Status, Transition
from ppcockpit.runbook import StepKind
from ppcockpit.runner import ProbeRunner
from ppcockpit.session import Refused, Session, SessionContext
from ppcockpit.session_events import (
    AlertRaised,
    CommandOutput,
    Notice,
    ReadingArrived,
    RollbackProgressed,
    RollbackStateChanged,
    RunbookChanged,
    SessionEnded,
    SessionEvent,
)
from ppcockpit.text import one_line
from screens.checklist import ChecklistContent, ChecklistPanel
from screens.dashboard import DashboardScreen
from screens.header import CockpitHeader
from screens.log_tail import LogTailPanel
from themes import STYLESHEET, THEME_NAMES, THEMES, VARIABLE_DEFAULTS, next_theme

# The command palette: (title, what it does, the action it runs).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Checklist: confirm the selected step", "Space on a manual step",
     "focused_checklist('confirm')"),
    ("Checklist: run / record / open the selected step", "Enter on a step",
     "focused_checklist('open')"),
    ("Checklist: override the selected step or gate", "o, with a typed reason",
     "focused_checklist('override')"),
    ("End the session and write the release log", "Ctrl+E", "end_session"),
    ("Rollback", "R: the evidence, the plan, arming by typed name", "rollback"),
    ("Mark the deploy as live now", "d", "mark_deploy"),
    ("Refresh every probe now", "r", "refresh"),
    ("Verdict, warnings and status history", "v", "screen.verdict"),
    ("Logs: follow / pause", "p", "logs('toggle_follow')"),
    ("Logs: errors only", "1", "logs('level(1)')"),
    ("Logs: warnings and up", "2", "logs('level(2)')"),
    ("Logs: info and up", "3", "logs('level(3)')"),
    ("Logs: everything", "4", "logs('level(4)')"),
    ("Logs: search", "/", "logs('search')"),
    ("Logs: wrap long lines", "w", "logs('toggle_wrap')"),
    ("Logs: save the buffer", "s (mode 0600)", "logs('save')"),
    ("Logs: full screen", "l", "logs_full_screen"),
    ("Next panel", "Tab", "screen.panel(1)"),
    ("Fault drill", "F: inject a fault into the rehearsal", "fault_menu"),
    ("Help: every key", "?", "help"),
    ("Quit", "q (asks while a session is open)", "quit"),
)

SEVERITY: dict[Status, SeverityLevel] = {
    Status.HEALTHY: "information",
    Status.DEGRADED: "warning",
    Status.UNKNOWN: "warning",
    Status.UNAVAILABLE: "error",
    Status.SKIPPED: "information",
}

# Readings that arrive within this long of each other (probes due on one interval, a
# sweep) share one redraw, a tenth of a second later on screen.
REDRAW_COALESCE = 0.1
# Without readings, staleness and "since" still move: a redraw at least this often.
CLOCK_TICK = 5.0
FIRST_FRAME_SETTLE = 0.05  # seconds after the first paint before probes start


class Rehearsal(Protocol):
    """What the cockpit needs from a running rehearsal stack (ppcockpit.rehearsal)."""

    scenario: str
    time_scale: float

    def faults(self) -> list[tuple[str, str]]: ...

    def active_faults(self) -> dict[str, float]: ...

    def inject(self, name: str) -> str: ...


class CockpitApp(App[int]):
    """The cockpit's screen. Probes run in the session's runners; events flow down."""

    CSS_PATH = STYLESHEET
    TITLE = "ppcockpit"
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "refresh", "Refresh"),
        Binding("t", "next_theme", "Theme"),
        Binding("d", "mark_deploy", "Mark deploy"),
        Binding("ctrl+e", "end_session", "End session", key_display="^E"),
        Binding("R", "rollback", "Rollback", key_display="R"),
        Binding("F", "fault_menu", "Fault drill", key_display="F"),
        Binding("q", "quit", "Quit"),
        # The log tail's keys work from any panel (a key typed into an input stays there).
        Binding("p", "logs('toggle_follow')", "Follow/pause logs", show=False),
        Binding("1", "logs('level(1)')", "Logs: errors", show=False),
        Binding("2", "logs('level(2)')", "Logs: warn+", show=False),
        Binding("3", "logs('level(3)')", "Logs: info+", show=False),
        Binding("4", "logs('level(4)')", "Logs: all", show=False),
        Binding("slash", "logs('search')", "Search logs", show=False, key_display="/"),
        Binding("n", "logs('next_match')", "Next match", show=False),
        Binding("N", "logs('previous_match')", "Previous match", show=False, key_display="N"),
        Binding("w", "logs('toggle_wrap')", "Wrap logs", show=False),
        Binding("s", "logs('save')", "Save logs", show=False),
        Binding("l", "logs_full_screen", "Logs", key_display="l"),
    ]

    def __init__(self, session: Session, *, theme: str, rehearsal: Rehearsal | None = None,
                 checklist: Checklist | None = None, notes: tuple[str, ...] = (),
                 save_dir: Path | None = None) -> None:
        super().__init__()
        self.save_dir = save_dir  # where `s` writes the log buffer
        self._rollback: Any = None  # the engine (ppcockpit.rollback), made at the first `R`
        self._annotation_confirmed = False  # `d` asked once before writing to PostHog
        self._rollback_redraw = False
        self.session = session
        self.checklist = checklist
        self.notes = notes
        self._ended = False
        self.config = session.config
        self.rehearsal = rehearsal
        self.clock = session.context.stack_now  # the clock on screen: the stack's
        for cockpit_theme in THEMES:
            self.register_theme(cockpit_theme)
        # The theme is in place before the stylesheet is first parsed: Textual's theme watcher
        # would queue a second parse of the whole stylesheet (and a restyle) for the start.
        self.set_reactive(App.theme, theme)
        self._apply_theme_classes()
        self._redraw_pending = False
        self._drawn_at = 0.0  # monotonic

    def _apply_theme_classes(self) -> None:
        """What Textual's theme watcher does to the app's classes and the ANSI filter, without
        its reparse (the first parse reads the variables of `self.theme` anyway)."""
        dark = self.current_theme.dark
        classes = {name: False for name in self.classes if name.startswith("-theme-")}
        self.update_classes({**classes, f"-theme-{self.current_theme.name}": True,
                             "-dark-mode": dark, "-light-mode": not dark}, update=False)
        self._refresh_truecolor_filter(self.ansi_theme)
        self.stylesheet.set_variables(self.get_css_variables())

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Ctrl+P: every action of the cockpit (and only the cockpit's three themes)."""
        for title, help_text, action in COMMANDS:
            if action == "fault_menu" and self.rehearsal is None:
                continue
            yield SystemCommand(title, help_text, partial(self.run_action, action))
        for theme in THEME_NAMES:
            yield SystemCommand(f"Theme: {theme}", f"Show the cockpit in its {theme} theme",
                                partial(setattr, self, "theme", theme))

    @property
    def runner(self) -> ProbeRunner:
        return self.session.runner

    def get_default_screen(self) -> DashboardScreen:
        redis = self.config.probes.redis
        log_tail = self.session.context.log_tail
        screen = DashboardScreen(rehearsal=self._rehearsal_label(), clock=self.clock,
                                 memory_warn=redis.memory_warn, memory_crit=redis.memory_crit,
                                 log_buffer=log_tail.buffer if log_tail else None,
                                 read_only=self.session.context.read_only)
        # Drawn in the first frame: the checklist does not wait for a reading.
        screen.snapshot = self.session.snapshot()
        screen.checklist = self._checklist_content()
        return screen

    def _rehearsal_label(self) -> str | None:
        if self.rehearsal is None:
            return None
        faults = [name for name in self.rehearsal.active_faults() if name != "calm"]
        drill = ", ".join(faults) if faults else "calm"
        return f"{drill} · time ×{self.rehearsal.time_scale:g} · not production"

    def on_mount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # SIGTERM ends the cockpit as `q` does: probes closed, events flushed.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
        self.session.subscribe(self._session_event)
        # The first frame comes first: probes (TLS contexts, connects, their imports on
        # threads) and the telemetry SDK start once it is painted and its follow-up layout
        # (scrollbars appearing) is done, so that they never compete with it for the GIL.
        self.call_after_refresh(self.set_timer, FIRST_FRAME_SETTLE, self._after_first_frame)
        self.redraw_now()
        # Staleness and "since" move with the clock; readings push their own redraws. (The
        # header's clock ticks on its own timer.)
        self.set_interval(CLOCK_TICK, self._tick)

    def _after_first_frame(self) -> None:
        self.session.start()
        for note in self.notes:  # toasts are laid over the painted dashboard, not before it
            self.notify(note, title="Session", timeout=6)
        if self.session.rollbacks.open is not None and not self.session.context.read_only:
            self.action_rollback()  # a rollback was cut short: it is the first thing to see
        # What was built to start is kept for good: moving it out of the collector's sight
        # keeps full collections (the slowest were ~60 ms) from stalling keys in a log flood.
        # (The `ppcockpit` command starts with the collector off: see ppcockpit.entry.)
        gc.freeze()
        gc.enable()

    async def on_unmount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        if self._rollback is not None:
            await self._rollback.aclose()
        await self.session.stop()

    # --- session events -----------------------------------------------------------------

    def _session_event(self, event: SessionEvent) -> None:
        match event:
            case ReadingArrived(transitions=transitions):
                for transition in transitions:
                    self._announce(transition)
                self._redraw_soon()
            case RunbookChanged() | CommandOutput():
                self._redraw_soon()
                self._end_when_complete()
            case RollbackProgressed() | RollbackStateChanged():
                self._redraw_rollback_soon()
            case SessionEnded(markdown=markdown, path=path):
                from screens.release_log import ReleaseLogScreen

                self._ended = True
                self.push_screen(ReleaseLogScreen(markdown, path))
            case AlertRaised(probe=probe, label=label, count=count, threshold=threshold):
                self.notify(f"{label} unavailable for {count} consecutive checks (team rule: "
                            f"more than {threshold}). Fail over, check API keys.",
                            title=f"⚠ ALERT {probe} · {label}", severity="error", timeout=15)
            case Notice(message=message, title=title, severity=severity):
                self.notify(message, title=title, severity=severity,
                            timeout=8 if severity == "error" else 5)

    def _announce(self, transition: Transition) -> None:
        if transition.after is Status.SKIPPED:
            return
        name = transition.key.replace("/", " · ")
        self.notify(
            f"{transition.before.glyph} {transition.before.label} → "
            f"{transition.after.glyph} {transition.after.label}\n{transition.summary}",
            title=name, severity=SEVERITY[transition.after],
            timeout=8 if transition.after is Status.UNAVAILABLE else 5,
        )

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """A toast. Its text is literal unless a caller asks for markup: what the cockpit
        says is full of outside text (provider errors, ids), and `[/]` in it must show as
        it is, not crash the cockpit or restyle the screen."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """A background job that failed is said, never lost."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, Refused):
                self.notify(str(error), title="Refused", severity="warning")
                return
            reason = one_line(self.config.redactor(f"{type(error).__name__}: {error}"), 200)
            self.notify(reason, title=f"{event.worker.group or 'background'} job failed",
                        severity="error", timeout=10)

    # --- drawing ------------------------------------------------------------------------

    def _redraw_soon(self) -> None:
        if not self._redraw_pending:  # probes due together redraw the screen once
            self._redraw_pending = True
            self.set_timer(REDRAW_COALESCE, self.redraw_now)

    def _tick(self) -> None:
        if time.monotonic() - self._drawn_at >= CLOCK_TICK - 0.5:  # no reading did it
            self.redraw_now()

    def redraw_now(self) -> None:
        """Push the session's current picture to the dashboard."""
        self._redraw_pending = False
        self._drawn_at = time.monotonic()
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.snapshot = self.session.snapshot()
            dashboard.checklist = self._checklist_content()

    def _checklist_content(self) -> ChecklistContent:
        if self.checklist is None:
            return ChecklistContent(None, {}, note="No runbook in this cockpit (check only).")
        view = self.checklist.view()
        note = "" if view.session else "Read-only: no deployment session is open."
        return ChecklistContent(view, self.checklist.outputs(), note=note)

    def _dashboard(self) -> DashboardScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                return screen
        return None

    # --- keys ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fault_menu":
            return self.rehearsal is not None
        return True

    def action_help(self) -> None:
        from screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_refresh(self) -> None:
        self.session.refresh()
        self.notify("Checking every probe now.", timeout=2)

    def action_next_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_mark_deploy(self) -> None:
        """`d`: the deploy went live now — before/after comparisons and change checks start
        here. The first time it writes a PostHog annotation it asks (Enter confirms); in
        read-only it marks this screen only, and says so."""
        from screens.prompt import AskConfirm

        posthog = self.config.environment.posthog
        remote = bool(posthog and posthog.api_key) and not self.session.context.read_only
        if not remote or self._annotation_confirmed:
            self.run_worker(self.session.mark_deploy(), group="deploy marker",
                            exit_on_error=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._annotation_confirmed = True
                self.run_worker(self.session.mark_deploy(), group="deploy marker",
                                exit_on_error=False)

        self.push_screen(AskConfirm("Mark the deploy", "Mark the deploy as live now, journal "
                                    "it and write an annotation to PostHog for the whole "
                                    "team to see?", yes="Enter mark it"), answered)

    # --- the checklist ------------------------------------------------------------------

    def action_focused_checklist(self, action: str) -> None:
        """A checklist action from the palette: on the checklist's selected step."""
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.show_panel("checklist")
            getattr(dashboard.query_one(ChecklistPanel), f"action_{action}")()

    def _checklist_job(self, job: Any, what: str) -> None:
        """Run a checklist command in the background: a refusal is said, a failure too."""
        self.run_worker(job, group=what, exit_on_error=False)

    @on(ChecklistPanel.ConfirmRequested)
    def _confirm(self, event: ChecklistPanel.ConfirmRequested) -> None:
        if self.checklist is not None:
            self._checklist_job(self.checklist.confirm(event.key), "checklist")

    @on(ChecklistPanel.CancelRequested)
    def _cancel(self, event: ChecklistPanel.CancelRequested) -> None:
        if self.checklist is not None and self.checklist.cancel(event.key):
            self.notify("Stopping the command…", title="Command", timeout=3)

    @on(ChecklistPanel.OverrideRequested)
    def _override(self, event: ChecklistPanel.OverrideRequested) -> None:
        from screens.prompt import AskText

        checklist = self.checklist
        if checklist is None:
            return
        what = "the gate into this phase" if "/" not in event.key else "this step"

        def answered(reason: str | None) -> None:
            if reason:
                self._checklist_job(checklist.override(event.key, reason), "checklist")

        self.push_screen(AskText("Override", f"Why is it right to pass over {what}? The "
                                             "reason is journaled and goes into the release "
                                             "log.", check=_reason_check), answered)

    @on(ChecklistPanel.OpenRequested)
    def _open(self, event: ChecklistPanel.OpenRequested) -> None:
        checklist = self.checklist
        if checklist is None:
            return
        key = event.key
        step = checklist.progress.runbook.step(key)
        if step.kind is StepKind.COMMAND:
            self._checklist_job(checklist.run(key), f"command {key}")
        elif step.kind is StepKind.MANUAL:
            self._checklist_job(checklist.confirm(key), "checklist")
        elif step.kind is StepKind.RECORD:
            self._record(checklist, key)
        elif step.kind is StepKind.TAG:
            self._checklist_job(self._tag(checklist, key), "tag")
        else:
            view = checklist.view().step(key)
            if view is not None:
                self.notify(f"{view.state.glyph} {view.state.value}: {view.detail}",
                            title=step.title, timeout=6)

    def _record(self, checklist: Checklist, key: str) -> None:
        from screens.prompt import AskConfirm, AskText

        step = checklist.progress.runbook.step(key)
        try:
            proposal = checklist.proposal(key)
        except Refused as refused:
            proposal = None
            self.notify(str(refused), title=step.title, severity="warning")
        if proposal is not None:
            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._checklist_job(checklist.record(key, proposal.value, proposal),
                                        "checklist")

            self.push_screen(AskConfirm(step.title, proposal.question), confirmed)
            return

        def typed(value: str | None) -> None:
            if value is not None:
                self._checklist_job(checklist.record(key, value), "checklist")

        self.push_screen(AskText(step.title, step.help or "The value to record:",
                                 check=lambda text: checklist.check_value(key, text)), typed)

    async def _tag(self, checklist: Checklist, key: str) -> None:
        from screens.prompt import AskText

        step = checklist.progress.runbook.step(key)
        proposed = await checklist.propose_tag(key)
        push = f", then push it to {step.remote}" if step.push else ""
        tag = await self.push_screen_wait(AskText(
            step.title, f"Create the annotated tag at {step.ref}{push}. The next free tag is "
                        "proposed; edit it if you must.", value=proposed))
        if tag:
            await checklist.create_tag(key, tag)

    def _end_when_complete(self) -> None:
        """The last phase complete: the session ends and its release log is written."""
        checklist = self.checklist
        if checklist is None or self._ended or self.session.context.read_only:
            return
        view = checklist.view()
        if view.complete and not view.closed and view.session:
            self._ended = True
            self._checklist_job(checklist.end(), "release log")

    def action_end_session(self) -> None:
        """Ctrl+E: end the deployment session now and write its release log."""
        from screens.prompt import AskConfirm

        checklist = self.checklist
        if checklist is None:
            self.notify("No runbook session here.", severity="warning")
            return
        view = checklist.view()
        left = sum(not step.state.complete for step in view.steps)
        question = ("Every step is complete." if not left else
                    f"{left} step{'s are' if left > 1 else ' is'} not complete: the release "
                    "log will say so.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._ended = True
                self._checklist_job(checklist.end(), "release log")

        self.push_screen(AskConfirm("End the deployment session", f"{question}\nWrite the "
                                    "release log entry and close the session?"), answered)

    async def action_quit(self) -> None:
        """`q`: with a deployment session open, ask first (it stays open and resumable)."""
        from screens.prompt import AskConfirm

        view = self.checklist.view() if self.checklist is not None else None
        if view is None or view.closed or not view.session or self.session.context.read_only:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(AskConfirm("Quit", f"Deployment session {view.session} stays open: "
                                    "the next start resumes it where you left off.",
                                    yes="Enter quit"), answered)

    # --- logs -----------------------------------------------------------------------------

    async def action_logs(self, action: str) -> None:
        """A log key pressed anywhere: the log panel acts on it (and, narrow, shows)."""
        dashboard = self._dashboard()
        if dashboard is None:
            return
        if action == "search":
            dashboard.show_panel("log-tail")
        await self.run_action(action, dashboard.log_panel)

    def action_logs_full_screen(self) -> None:
        from screens.logs_screen import LogsScreen

        dashboard = self._dashboard()
        if dashboard is not None:
            self.push_screen(LogsScreen(dashboard.log_buffer))

    @on(LogTailPanel.SaveRequested)
    def _save_logs(self, event: LogTailPanel.SaveRequested) -> None:
        self.run_worker(partial(self._write_logs, event.lines), thread=True, group="save logs",
                        exit_on_error=False)

    def _write_logs(self, lines: tuple[str, ...]) -> None:
        from ppcockpit.log_save import save_log_lines

        directory = self.save_dir or Path.cwd()
        path = save_log_lines(directory, lines, environment=self.session.environment,
                              at=datetime.now(UTC))
        self.call_from_thread(self.notify, f"{len(lines)} lines saved to {path} (mode 0600)",
                              title="Logs saved")

    # --- rollback -------------------------------------------------------------------------

    def _engine(self) -> Any:
        if self._rollback is None:
            from ppcockpit.rollback import RollbackEngine
            from ppcockpit.rollback_evidence import log_tail_errors

            dashboard = self._dashboard()
            errors = log_tail_errors(dashboard.log_buffer) if dashboard is not None else None
            self._rollback = RollbackEngine.for_session(self.session, recent_errors=errors)
        return self._rollback

    def action_rollback(self) -> None:
        """`R`: the evidence, the plan, arming by the environment's typed name. A second
        `R` while one runs shows its progress; it never starts another."""
        if self.session.context.read_only:
            self.notify("Read-only: a rollback cannot be armed from this cockpit.",
                        title="Rollback refused", severity="warning")
            return
        from screens.rollback import RollbackScreen

        if isinstance(self.screen, RollbackScreen):
            return
        engine = self._engine()
        self.push_screen(RollbackScreen(self.session.environment,
                                        self._rollback_content(resolving=not engine.running)))
        if not engine.running:
            self.run_worker(self._resolve_rollback(), group="rollback plan",
                            exit_on_error=False)

    def _rollback_content(self, resolving: bool = False) -> Any:
        from screens.rollback import RollbackContent

        engine = self._engine()
        return RollbackContent(engine.plan_view(), engine.evidence(), resolving=resolving)

    async def _resolve_rollback(self) -> None:
        await self._engine().resolve()
        self._redraw_rollback()

    def _redraw_rollback_soon(self) -> None:
        if not self._rollback_redraw:  # output lines come fast: one redraw per tenth
            self._rollback_redraw = True
            self.set_timer(REDRAW_COALESCE, self._redraw_rollback)

    def _redraw_rollback(self) -> None:
        from screens.rollback import RollbackScreen

        self._rollback_redraw = False
        for screen in self.screen_stack:
            if isinstance(screen, RollbackScreen):
                screen.content = self._rollback_content()

    def on_rollback_screen_armed(self, event: Any) -> None:
        engine = self._engine()
        if event.resume:
            job = engine.execute(resume=True)
        else:
            job = engine.execute(dry_run=event.dry_run, trigger=engine.evidence(),
                                 target_uid=event.target_uid)
        self.run_worker(job, group="rollback", exit_on_error=False)
        self._redraw_rollback_soon()

    def on_rollback_screen_decided(self, event: Any) -> None:
        job = self._engine().decide(event.action, event.decision, event.reason)
        self.run_worker(job, group="rollback", exit_on_error=False)

    def on_rollback_screen_confirmed(self, event: Any) -> None:
        job = self._engine().confirm(event.action, event.typed)
        self.run_worker(job, group="rollback", exit_on_error=False)

    def on_rollback_screen_stop_requested(self, event: Any) -> None:
        if self._engine().cancel():
            self.notify("Stopping the running action…", title="Rollback", timeout=3)

    def action_fault_menu(self) -> None:
        from screens.fault_menu import FaultMenu

        if self.rehearsal is None:
            return
        self.push_screen(FaultMenu(self.rehearsal.faults()), self._inject_fault)

    def _inject_fault(self, name: str | None) -> None:
        if name is None or self.rehearsal is None:
            return
        self.run_worker(self._inject(name), group="rehearsal", exit_on_error=False)

    async def _inject(self, name: str) -> None:
        assert self.rehearsal is not None
        message = await asyncio.to_thread(self.rehearsal.inject, name)
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.query_one(CockpitHeader).rehearsal = self._rehearsal_label()
        self.notify(message, title="Fault drill", timeout=5)
        self.session.refresh()


def _reason_check(text: str) -> str | None:
    return None if len(text.strip()) >= 3 else "An override needs a reason of a few words."


def make_app(config: Config, runner: ProbeRunner | None = None, *,
             session: Session | None = None, checklist: Checklist | None = None,
             read_only: bool = False, theme: str | None = None, rehearsal: Any = None,
             clock: Callable[[], float] = time.time,
             notes: list[str] | tuple[str, ...] = (), save_dir: Path | None = None,
             ) -> CockpitApp:
    """The one factory for the CLI and the tests: a session (made from `runner` when none
    is given) and the App on it."""
    chosen = theme or config.theme
    if chosen not in THEME_NAMES:
        raise ConfigError(f"theme {chosen!r} does not exist; the themes are: "
                          f"{', '.join(THEME_NAMES)}")
    if session is None:
        assert runner is not None, "make_app needs a runner or a session"
        session = Session(SessionContext(config, operator=config.operator,
                                         read_only=read_only, clock=clock,
                                         rehearsal=rehearsal is not None), runner)
    return CockpitApp(session, theme=chosen, rehearsal=rehearsal, checklist=checklist,
                      notes=tuple(notes), save_dir=save_dir)
