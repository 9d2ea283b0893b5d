"""SVG snapshots of the main screens at 80x24 and 160x48 (review before --snapshot-update)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ppcockpit.app import make_app
from ppcockpit.checklist import Checklist
from ppcockpit.cli import skipped
from ppcockpit.journal import FileJournal, NewEvent
from ppcockpit.logs import LogBuffer, SourceState
from ppcockpit.runbook import load_runbook
from ppcockpit.runner import ProbeRunner
from ppcockpit.session import Session, SessionContext
from tests import screens_data
from tests.support.cockpit_config import make_config
from tests.support.log_host import PARSER, app_line, mixed
from tests.support.replay import ReplayProbe

SIZES = [(80, 24), (160, 48)]


class RecordedLogs:
    """A log tail that already holds the app's lines (fixed times): what the stream said."""

    def __init__(self, incident: bool) -> None:
        self.buffer = LogBuffer(1000, clock=lambda: screens_data.AT + 5)
        lines = mixed(36)
        if incident:
            lines += [app_line(n, "error", "anthropic", message="Provider unavailable: "
                                                              "upstream 529 overloaded")
                      for n in range(36, 44)]
        PARSER.parse_into(lines, self.buffer, screens_data.AT)
        self.buffer.set_state(SourceState("streaming", "file: /var/log/app.log",
                                          since=screens_data.AT - 600))

    def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def cockpit(tmp_path: Path, *, incident: bool, theme: str | None = None):
    config = make_config(tmp_path, {"base_url": "https://app.pocketphilosopher.com",
                                    "redis_url": "redis://127.0.0.1:6379/0"})
    probes = [
        ReplayProbe("health", [screens_data.health(outage=incident)]),
        ReplayProbe("redis", [screens_data.redis(pressure=incident)]),
        ReplayProbe("posthog", [screens_data.posthog(spike=incident)]),
    ]
    fixed = [skipped("supabase_backups", "no [environments.*.supabase] project_ref"),
             skipped("secrets", "[probes.secrets] reference and candidate unset")]
    runner = ProbeRunner(probes, fixed=fixed)
    clock = lambda: screens_data.AT + 65  # noqa: E731
    # The team's runbook, a session some way in: journaled at a fixed time.
    journal = FileJournal(tmp_path / "journal",
                          clock=lambda: datetime.fromtimestamp(screens_data.AT, UTC))
    info = journal.files.create("test", "alice")
    for step in ("pre-flight/ci-green", "pre-flight/on-call-aware"):
        journal.files.append(info.id, NewEvent("step_confirmed", "alice", {"step": step}))
    journal.files.append(info.id, NewEvent("step_overridden", "alice", {
        "step": "pre-flight/staging-soak", "reason": "hotfix: staging skipped, agreed"}))
    events = [event.record() for event in journal.files.read(info.id).events]
    session = Session(SessionContext(config, operator="alice", journal=journal,
                                     session_id=info.id, clock=clock,
                                     runbook=load_runbook(None),
                                     log_tail=RecordedLogs(incident)), runner, events)
    checklist = Checklist(session, variables={}, base_dir=tmp_path,
                          release_log=tmp_path / "release-log.toml")
    return make_app(config, session=session, checklist=checklist, theme=theme)


async def readings_shown(pilot) -> None:
    app = pilot.app
    for _ in range(200):
        if len(app.session.state.readings) == len(app.runner.names):
            break
        await pilot.pause(0.01)
    app.redraw_now()
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_calm(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(cockpit(tmp_path, incident=False), terminal_size=size,
                        run_before=readings_shown)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_incident(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(cockpit(tmp_path, incident=True), terminal_size=size,
                        run_before=readings_shown)


def test_help_screen(snap_compare, tmp_path: Path) -> None:
    async def open_help(pilot) -> None:
        await readings_shown(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(cockpit(tmp_path, incident=False), terminal_size=(80, 24),
                        run_before=open_help)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme", ["light", "high-contrast"])
def test_dashboard_incident_in_every_theme(snap_compare, tmp_path: Path, theme: str,
                                           size: tuple[int, int]) -> None:
    assert snap_compare(cockpit(tmp_path, incident=True, theme=theme),
                        terminal_size=size, run_before=readings_shown)


@pytest.mark.parametrize("panel", ["health-grid", "log-tail", "probes-table", "failure-ratio"])
def test_narrow_panels(snap_compare, tmp_path: Path, panel: str) -> None:
    """At 80x24 one panel shows at a time; Tab brings the next, the strip names them all."""
    async def show(pilot) -> None:
        await readings_shown(pilot)
        while pilot.app.screen.current != panel:
            await pilot.press("tab")
        await pilot.pause()

    assert snap_compare(cockpit(tmp_path, incident=True), terminal_size=(80, 24),
                        run_before=show)
