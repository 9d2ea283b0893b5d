"""The Textual App: wires config, themes, the probe runner and the dashboard. Nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from ppcockpit.config import Config, ConfigError
from ppcockpit.model import Reading, Status, TargetUnavailable, Transition
from ppcockpit.probe import DeployAware
from ppcockpit.runner import ProbeRunner
from ppcockpit.state import CockpitState
from ppcockpit.telemetry import CockpitTelemetry, create_annotation
from ppcockpit.text import one_line
from screens.dashboard import DashboardScreen
from screens.fault_menu import FaultMenu
from screens.header import CockpitHeader
from screens.help import HelpScreen
from themes import STYLESHEET, THEME_NAMES, THEMES, next_theme

SEVERITY = {
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


class Rehearsal(Protocol):
    """What the cockpit needs from a running rehearsal stack (ppcockpit.rehearsal)."""

    scenario: str
    time_scale: float

    def faults(self) -> list[tuple[str, str]]: ...

    def active_faults(self) -> dict[str, float]: ...

    def inject(self, name: str) -> str: ...


class CockpitApp(App[int]):
    """The cockpit. Probes run in the runner's tasks; readings arrive here and flow down."""

    CSS_PATH = STYLESHEET
    TITLE = "ppcockpit"
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "refresh", "Refresh"),
        Binding("t", "next_theme", "Theme"),
        Binding("d", "mark_deploy", "Mark deploy"),
        Binding("F", "fault_menu", "Fault drill", key_display="F"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, config: Config, runner: ProbeRunner, *, read_only: bool = False,
                 theme: str | None = None, rehearsal: Rehearsal | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.config = config
        self.runner = runner
        self.read_only = read_only
        self.rehearsal = rehearsal
        self.clock = clock
        self.initial_theme = theme or config.theme
        intervals = {name: probe.interval for name, probe in runner.probes.items()}
        self.state = CockpitState(runner.names, intervals, history=config.history)
        self._snapshot_pending = False
        self._pushed_at = 0.0  # monotonic
        self.telemetry: CockpitTelemetry | None = None  # started after the first frame

    def get_default_screen(self) -> DashboardScreen:
        redis = self.config.probes.redis
        return DashboardScreen(rehearsal=self._rehearsal_label(), clock=self.clock,
                               memory_warn=redis.memory_warn, memory_crit=redis.memory_crit)

    def _rehearsal_label(self) -> str | None:
        if self.rehearsal is None:
            return None
        faults = [name for name in self.rehearsal.active_faults() if name != "calm"]
        drill = ", ".join(faults) if faults else "calm"
        return f"{drill} · time ×{self.rehearsal.time_scale:g} · not production"

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self.initial_theme
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # SIGTERM ends the cockpit as `q` does: probes closed, events flushed.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
        self.runner.subscribe(self._reading_arrived)
        # The first frame comes first: probes (TLS contexts, connects) and the telemetry SDK
        # (a second of imports) start right after it.
        self.call_after_refresh(self._start_work)
        self._push_snapshot()
        # Staleness and "since" move with the clock; readings push their own redraws. (The
        # header's clock ticks on its own timer.)
        self.set_interval(CLOCK_TICK, self._tick)

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
            reason = one_line(self.config.redactor(f"{type(error).__name__}: {error}"), 200)
            self.notify(reason, title=f"{event.worker.group or 'background'} job failed",
                        severity="error", timeout=10)

    def _start_work(self) -> None:
        self.runner.start()
        posthog = self.config.environment.posthog
        self.telemetry = CockpitTelemetry(
            posthog.capture_key if posthog else None, posthog.host if posthog else "",
            environment=self.config.environment_name, operator=self.config.operator)
        self.telemetry.capture("cockpit_session_started",
                               {"read_only": self.read_only, "rehearsal": bool(self.rehearsal)})

    async def on_unmount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        await self.runner.stop()
        if self.telemetry is not None:
            await asyncio.to_thread(self.telemetry.close)  # flush, within its own time limit

    def _reading_arrived(self, reading: Reading) -> None:
        for transition in self.state.apply(reading):
            self._announce(transition)
        self._announce_alerts(reading)
        if not self._snapshot_pending:  # probes due together redraw the screen once
            self._snapshot_pending = True
            self.set_timer(REDRAW_COALESCE, self._push_snapshot)

    def _tick(self) -> None:
        if time.monotonic() - self._pushed_at >= CLOCK_TICK - 0.5:  # no reading did it
            self._push_snapshot()

    def _push_snapshot(self) -> None:
        self._snapshot_pending = False
        self._pushed_at = time.monotonic()
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.snapshot = self.state.snapshot(
                self.config.environment_name, self.config.operator, self.clock())

    def _dashboard(self) -> DashboardScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                return screen
        return None

    def _announce(self, transition: Transition) -> None:
        if transition.after is Status.SKIPPED:
            return
        name = transition.key.replace("/", " · ")
        self.notify(
            f"{transition.before.glyph} {transition.before.label} → "
            f"{transition.after.glyph} {transition.after.label}\n{transition.summary}",
            title=name,
            severity=SEVERITY[transition.after],  # type: ignore[arg-type]
            timeout=8 if transition.after is Status.UNAVAILABLE else 5,
        )

    def _announce_alerts(self, reading: Reading) -> None:
        threshold = self.config.probes.health.unavailable_after
        for row in reading.rows:
            if row.alerting and row.consecutive_failures == threshold + 1:
                self.notify(
                    f"{row.label} unavailable for {row.consecutive_failures} consecutive "
                    f"checks (team rule: more than {threshold}). Fail over, check API keys.",
                    title=f"⚠ ALERT {reading.probe} · {row.label}",
                    severity="error",
                    timeout=15,
                )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fault_menu":
            return self.rehearsal is not None
        return True

    def action_help(self) -> None:
        keys = [
            (binding.key_display or binding.key, binding.description)
            for _, binding, enabled, _ in self.screen.active_bindings.values()
            if enabled and binding.description and binding.show  # not every scroll key
        ]
        keys += [("Tab / Shift+Tab", "Next / previous panel"), ("j / k", "Move down / up"),
                 ("Ctrl+P", "Command palette")]
        self.push_screen(HelpScreen(keys))

    def action_refresh(self) -> None:
        self.runner.refresh()
        self.notify("Checking every probe now.", timeout=2)

    def action_next_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_mark_deploy(self) -> None:
        """The deploy went live now: before/after comparisons and change checks start here."""
        at = datetime.now(UTC)
        marked = [name for name, probe in self.runner.probes.items()
                  if isinstance(probe, DeployAware)]
        for name in marked:
            self.runner.probes[name].mark_deploy(at)  # type: ignore[attr-defined]
        self.notify(f"Deploy marked at {at:%H:%M:%S} UTC"
                    + (f" for {', '.join(marked)}" if marked else ""), timeout=4)
        posthog = self.config.environment.posthog
        if posthog and posthog.api_key and not self.read_only:
            self.run_worker(self._annotate_deploy(at), group="posthog", exit_on_error=False)
        self.runner.refresh(marked)

    async def _annotate_deploy(self, at: datetime) -> None:
        posthog = self.config.environment.posthog
        assert posthog is not None and posthog.api_key
        content = f"Deploy of {self.config.environment_name} marked by {self.config.operator}"
        try:
            annotation = await create_annotation(posthog.host, posthog.project_id,
                                                 posthog.api_key, content, at, timeout=10.0)
        except TargetUnavailable as exc:
            self.notify(self.config.redactor(exc.reason), title="PostHog annotation",
                        severity="warning")
            return
        self.notify(f"Annotation {annotation} created in PostHog", title="Deploy marker",
                    timeout=4)

    def action_fault_menu(self) -> None:
        if self.rehearsal is None:
            return
        self.push_screen(FaultMenu(self.rehearsal.faults()), self._inject_fault)

    def _inject_fault(self, name: str | None) -> None:
        if name is None or self.rehearsal is None:
            return
        self.run_worker(partial(self._inject_in_thread, name), thread=True,
                        group="rehearsal", exit_on_error=False)

    def _inject_in_thread(self, name: str) -> None:
        assert self.rehearsal is not None
        message = self.rehearsal.inject(name)
        label = self._rehearsal_label()
        self.call_from_thread(self._fault_injected, message, label)

    def _fault_injected(self, message: str, label: str | None) -> None:
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.query_one(CockpitHeader).rehearsal = label
        self.notify(message, title="Fault drill", timeout=5)
        self.runner.refresh()


def make_app(config: Config, runner: ProbeRunner, *, read_only: bool = False,
             theme: str | None = None, rehearsal: Any = None,
             clock: Callable[[], float] = time.time) -> CockpitApp:
    """The one factory for the CLI and the tests."""
    chosen = theme or config.theme
    if chosen not in THEME_NAMES:
        raise ConfigError(f"theme {chosen!r} does not exist; the themes are: "
                          f"{', '.join(THEME_NAMES)}")
    return CockpitApp(config, runner, read_only=read_only, theme=chosen, rehearsal=rehearsal,
                      clock=clock)
