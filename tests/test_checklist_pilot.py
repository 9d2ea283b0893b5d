"""Walking a whole runbook from the keyboard: Space, Enter, o, Ctrl+C, Ctrl+E and q, against
a real health stand-in, a real journal, real commands and a real git repository."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from ppcockpit.app import CockpitApp, make_app
from ppcockpit.journal import WORKER_THREAD_NAME, FileJournal
from ppcockpit.runbook_engine import StepState
from screens.checklist import ChecklistPanel
from screens.prompt import AskConfirm, AskText
from screens.release_log import ReleaseLogScreen
from tests.support.checklist_setup import assemble, write_deployment
from tests.support.http_stub import Serve
from tests.support.screen_text import screen_text
from tests.support.typing import type_and_submit

ROOT = Path(__file__).resolve().parent.parent
HEALTHY = {"success": True, "data": {"status": "ok", "dependencies": {
    "supabase": {"status": "ok", "latencyMs": 1, "message": None},
    "analytics": {"status": "ok"},
    "aiProviders": {"configuration": {"openai": "configured"}, "selection": None,
                    "stats": {"openai": {"status": "healthy", "latencyMs": 3}}}}}}


@pytest.fixture
async def deployment(tmp_path: Path, serve: Serve) -> Path:
    async def health(request: web.Request) -> web.Response:
        return web.json_response(HEALTHY)

    app = web.Application()
    app.router.add_get("/api/health", health)
    return write_deployment(tmp_path, await serve(app))


def cockpit(config: Path, **flags: object) -> CockpitApp:
    assembled = assemble(config, **flags)
    return make_app(assembled.session.config, session=assembled.session,
                    checklist=assembled.checklist, notes=assembled.notes)


async def until(pilot, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.02)
    await pilot.pause()


def state(app: CockpitApp, key: str) -> StepState:
    assert app.checklist is not None
    view = app.checklist.view().step(key)
    assert view is not None
    return view.state


async def go_to(pilot, key: str) -> None:
    panel = pilot.app.screen.query_one(ChecklistPanel)
    await pilot.pause()  # after the start-up placement of the cursor
    panel.select(key)
    await pilot.pause()
    assert panel.selected_key() == key


async def test_the_whole_runbook_from_the_keyboard(deployment: Path) -> None:
    app = cockpit(deployment)
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.screen.query_one(ChecklistPanel)
        assert app.focused is panel.table  # the checklist has the keys at start
        await pilot.pause()
        assert panel.selected_key() == "pre/aware"  # the first step not done
        await pilot.press("space")
        await until(pilot, lambda: state(app, "pre/aware") is StepState.DONE)
        await until(pilot, lambda: state(app, "pre/health") is StepState.PASSING)

        await pilot.press("j")  # to the health step, then the next phase and its first step
        await pilot.press("j", "j")
        assert panel.selected_key() == "ship/url"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press(*"nope", "enter")
        await pilot.pause()
        assert "does not match" in screen_text(app)
        await type_and_submit(pilot, "https://x.example")
        await until(pilot, lambda: state(app, "ship/url") is StepState.DONE)

        await pilot.press("j", "enter")  # smoke: runs with the recorded URL filled in
        await until(pilot, lambda: state(app, "ship/smoke") is StepState.DONE)
        await until(pilot, lambda: "checking https://x.example" in screen_text(app))

        await pilot.press("j", "enter")  # broken: exit 3
        await until(pilot, lambda: state(app, "ship/broken") is StepState.FAILING)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await type_and_submit(pilot, "known flaky, ticket 42")
        await until(pilot, lambda: state(app, "ship/broken") is StepState.OVERRIDDEN)

        await pilot.press("j", "enter")  # slow: running until Ctrl+C
        await until(pilot, lambda: state(app, "ship/slow") is StepState.RUNNING)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: state(app, "ship/slow") is StepState.FAILING)
        assert "cancelled" in app.checklist.view().step("ship/slow").detail  # type: ignore
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await type_and_submit(pilot, "runs in CI instead")
        await until(pilot, lambda: state(app, "ship/slow") is StepState.OVERRIDDEN)

        await pilot.press("j", "enter")  # the tag: proposed, confirmed, created
        await until(pilot, lambda: isinstance(app.screen, AskText))
        proposed = app.screen.query_one("#prompt-input").value
        assert proposed.startswith("v20")
        await pilot.press("enter")
        await until(pilot, lambda: state(app, "ship/tag") is StepState.DONE)
        listed = await asyncio.to_thread(subprocess.run, ["git", "tag", "-l"],
                                         cwd=deployment.parent / "repo", capture_output=True,
                                         text=True, check=True)
        tags = listed.stdout.split()
        assert tags == [proposed]

        await pilot.press("j", "j", "space")  # the last step: the session ends by itself
        await until(pilot, lambda: isinstance(app.screen, ReleaseLogScreen))
        await pilot.pause()
        shown = str(app.screen.query_one("#release-markdown").render())
        assert "known flaky, ticket 42" in shown and proposed in shown
        await pilot.press("escape")
        await pilot.press("q")  # the session is closed: no question
    releases = tomllib.loads((deployment.parent / "release-log.toml").read_text())["releases"]
    assert releases[0]["tag"] == proposed
    assert releases[0]["deployment_url"] == "https://x.example"
    assert {o["reason"] for o in releases[0]["overrides"]} == {"known flaky, ticket 42",
                                                               "runs in CI instead"}
    journal = FileJournal(deployment.parent / "journal").files
    (info,) = journal.list_sessions()
    assert info.closed and info.operators == ("alice",)
    events = [event.event for event in journal.read(info.id).events]
    assert events[0] == "session_opened" and events[-1] == "session_closed"
    for name in ("step_confirmed", "value_recorded", "command_started", "command_finished",
                 "command_cancelled", "step_overridden", "tag_created", "probe_step_passed",
                 "phase_completed", "release_logged"):
        assert name in events, name


async def test_a_locked_phase_refuses_until_its_gate_is_overridden(deployment: Path) -> None:
    app = cockpit(deployment)
    toasts: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (toasts.append(message), notify(message, **kw))[1]
    async with app.run_test(size=(160, 48)) as pilot:
        await go_to(pilot, "ship/smoke")
        await pilot.press("enter")
        await until(pilot, lambda: any("locked" in t for t in toasts))
        assert state(app, "ship/smoke") is StepState.PENDING
        await go_to(pilot, "ship")  # the phase row: `o` overrides its gate
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press("x", "enter")  # too short a reason: not accepted
        assert isinstance(app.screen, AskText)
        await type_and_submit(pilot, "hotfix agreed with on-call")
        await until(pilot, lambda: app.checklist.view().phases[1].gate_reason is not None)
        await go_to(pilot, "ship/broken")
        await pilot.press("enter")
        await until(pilot, lambda: state(app, "ship/broken") is StepState.FAILING)


async def test_quit_with_an_open_session_asks_and_the_session_resumes(deployment: Path,
                                                                     ) -> None:
    app = cockpit(deployment)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()  # the cursor goes to the first open step after the first frame
        await pilot.press("space")
        await until(pilot, lambda: state(app, "pre/aware") is StepState.DONE)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, AskConfirm))
        await pilot.press("escape")  # no: stay
        assert app.is_running and not isinstance(app.screen, AskConfirm)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, AskConfirm))
        await pilot.press("enter")
    again = cockpit(deployment)
    async with again.run_test(size=(80, 24)) as pilot:
        assert state(again, "pre/aware") is StepState.DONE  # resumed, nothing lost
        assert again.checklist.view().session == app.checklist.view().session  # type: ignore


async def test_read_only_refuses_and_writes_nothing(deployment: Path) -> None:
    first = cockpit(deployment)  # opens a session
    async with first.run_test(size=(80, 24)):
        pass
    app = cockpit(deployment, read_only=True)
    toasts: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (toasts.append(message), notify(message, **kw))[1]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()  # the cursor goes to the first open step after the first frame
        await pilot.press("space")
        await until(pilot, lambda: any("Read-only" in t for t in toasts))
        await pilot.press("q")  # read-only: nothing to lose, no question
    assert state(app, "pre/aware") is StepState.PENDING
    journal = FileJournal(deployment.parent / "journal").files
    (info,) = journal.list_sessions()
    assert [e.event for e in journal.read(info.id).events] == ["session_opened"]


async def test_runbook_status_is_the_headless_twin(deployment: Path) -> None:
    app = cockpit(deployment)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()  # the cursor goes to the first open step after the first frame
        await pilot.press("space")
        await until(pilot, lambda: state(app, "pre/aware") is StepState.DONE)
    process = await asyncio.create_subprocess_exec(
        "python", "-m", "ppcockpit", "runbook", "status", "--json", "--config",
        str(deployment), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    document = json.loads(out)
    steps = {f"{p['id']}/{s['id']}": s for p in document["phases"] for s in p["steps"]}
    assert steps["pre/aware"]["state"] == "done" and steps["pre/aware"]["by"] == "alice"
    assert steps["pre/health"]["state"] == "passing"
    assert document["session"] == app.checklist.view().session  # type: ignore[union-attr]


async def test_sigkill_mid_session_loses_nothing(deployment: Path) -> None:
    driver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.session_driver", str(deployment),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert driver.stdout is not None
    try:
        line = await asyncio.wait_for(driver.stdout.readline(), 30)
        assert line.strip() == b"running", await driver.stderr.read()  # type: ignore
    finally:
        driver.kill()  # SIGKILL, mid-command
        await driver.wait()
        _kill_leftover("ppcockpit-slow-step")
    app = cockpit(deployment)  # restarted: the open session resumes
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert state(app, "pre/aware") is StepState.DONE
        assert app.checklist.view().phases[1].gate_reason == "gate opened for the drill"
        url = app.checklist.view().step("ship/url")  # type: ignore[union-attr]
        assert url.state is StepState.DONE and url.value == "https://x.example"
        broken = app.checklist.view().step("ship/broken")  # type: ignore[union-attr]
        assert broken.state is StepState.OVERRIDDEN and broken.reason == "known flaky, ticket 42"
        assert state(app, "ship/slow") is StepState.INTERRUPTED  # not passed
        await go_to(pilot, "ship/slow")
        assert "interrupted" in screen_text(app)


def _kill_leftover(marker: str) -> None:
    """The command step's shell outlives a SIGKILLed cockpit (as it would a crash): end it."""
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    for pid in found.stdout.split():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)


async def test_ctrl_e_ends_the_session_early_and_says_what_is_not_done(deployment: Path,
                                                                      ) -> None:
    app = cockpit(deployment)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("space")
        await until(pilot, lambda: state(app, "pre/aware") is StepState.DONE)
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, AskConfirm))
        assert "not complete" in " ".join(screen_text(app).split())
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReleaseLogScreen))
        await pilot.press("c")  # copies the table
        await pilot.press("escape")
        await pilot.press("q")  # closed: quits without a question
    releases = tomllib.loads((deployment.parent / "release-log.toml").read_text())["releases"]
    assert [check["title"] for check in releases[0]["manual_checks"]] == ["On-call knows"]
    assert app.checklist.view().closed  # type: ignore[union-attr]


async def test_quitting_leaves_no_journal_thread_behind(deployment: Path) -> None:
    def journal_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith(WORKER_THREAD_NAME)}

    before = journal_threads()
    app = cockpit(deployment)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("space")  # the first step: on-call knows
        await until(pilot, lambda: state(app, "pre/aware") is StepState.DONE)
        assert journal_threads() - before  # the journal wrote on its own thread
    alive = {t for t in journal_threads() - before if t.is_alive()}
    for thread in alive:
        thread.join(timeout=5)  # shut down without waiting: it ends right after
    assert not [t for t in alive if t.is_alive()]
