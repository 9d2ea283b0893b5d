"""`R` as on-call presses it, against the rehearsal stack in the failure-spike drill: nothing
arms without the environment's exact name, a dry run changes nothing, a real run rolls back
once and is shown step by step, a second `R` shows it, read-only refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomli_w

from ppcockpit.app import CockpitApp, make_app
from ppcockpit.cli import GlobalFlags, build_session
from ppcockpit.config import load_config
from ppcockpit.rehearsal import StackHandle, start_stack
from ppcockpit.rehearsal import scenarios as sc
from screens.rollback import RollbackScreen
from tests.support.screen_text import screen_text
from tests.support.typing import type_and_submit


@pytest.fixture(scope="module")
def stack() -> Iterator[StackHandle]:
    with start_stack(sc.FAILURE_SPIKE, time_scale=10.0) as handle:
        yield handle


def cockpit(stack: StackHandle, **flags: object) -> CockpitApp:
    config = load_config(stack.config_path)
    assembled = build_session(config, GlobalFlags(new_session=True, **flags),  # type: ignore
                              stack_clock=stack.clock.now)
    return make_app(config, session=assembled.session, checklist=assembled.checklist)


async def until(pilot, condition: Callable[[], bool], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.05)
    await pilot.pause()


def rollbacks(stack: StackHandle) -> list[dict]:
    return [r for r in stack.hosting_requests()
            if r["method"] == "POST" and "/rollback/" in r["path"]]


def modal(app: CockpitApp) -> RollbackScreen:
    assert isinstance(app.screen, RollbackScreen)
    return app.screen


async def test_read_only_refuses_outright(stack: StackHandle) -> None:
    app = cockpit(stack, read_only=True)
    toasts: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (toasts.append(message), notify(message, **kw))[1]
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, RollbackScreen)
        assert any("Read-only" in toast for toast in toasts)


async def test_r_arms_only_on_the_exact_name_and_rolls_back_once(stack: StackHandle,
                                                                 tmp_path: Path) -> None:
    before = len(rollbacks(stack))
    app = cockpit(stack)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        screen = modal(app)
        await until(pilot, lambda: screen.content is not None and not screen.content.resolving
                    and screen.content.plan.target is not None)
        shown = screen_text(app)
        assert "Why now" in shown and "The plan" in shown and "Returns to" in shown
        assert app.focused is screen.query_one("#rollback-input")

        await pilot.press("enter")  # nothing typed: nothing happens
        await pilot.press(*"rehears", "enter")  # partial
        assert "only part of it" in screen_text(app)
        await type_and_submit(pilot, "production")  # another environment's name
        assert "not it" in screen_text(app)
        assert len(rollbacks(stack)) == before and not app._engine().running

        # A dry run first: Tab reaches the switch, Space turns it on.
        screen.query_one("#rollback-input").value = ""
        await pilot.press("tab", "space", "shift+tab")
        assert screen.query_one("#rollback-dry-run").value is True
        await type_and_submit(pilot, "rehearsal")
        await until(pilot, lambda: screen.content.plan.rollback is not None
                    and screen.content.plan.rollback.state in ("finished", "aborted"))
        assert screen.content.plan.rollback.dry_run
        assert len(rollbacks(stack)) == before  # a dry run changes nothing

        await pilot.press("escape")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        screen = modal(app)
        await until(pilot, lambda: screen.content is not None and not screen.content.resolving)
        screen.query_one("#rollback-dry-run").value = False
        await type_and_submit(pilot, "rehearsal")
        await until(pilot, lambda: app._engine().running or len(rollbacks(stack)) > before)
        await pilot.press("escape")  # the view closes; the rollback goes on
        await pilot.press("R")  # a second R shows it, never starts another
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        screen = modal(app)

        def ended() -> bool:
            rollback = screen.content.plan.rollback if screen.content else None
            return rollback is not None and rollback.state in ("finished", "aborted",
                                                               "waiting")

        await until(pilot, ended, seconds=60)
        while screen.content.plan.rollback.state == "waiting":  # skip, as on-call would
            await pilot.press("s")
            await type_and_submit(pilot, "not needed in the drill")
            await until(pilot, lambda: screen.content.plan.rollback.state != "waiting"
                        or screen.content.plan.rollback.waiting is None, seconds=30)
            await until(pilot, ended, seconds=60)
        assert screen.content.plan.rollback.state == "finished"
        assert not screen.content.plan.rollback.dry_run
    assert len(rollbacks(stack)) == before + 1  # exactly one rollback call


async def test_a_failing_action_waits_for_retry_skip_or_abort(tmp_path: Path) -> None:
    config_path = tmp_path / "cockpit.toml"
    off = {name: {"enabled": False} for name in
           ("health", "redis", "posthog", "supabase", "pwa", "secrets", "deployments")}
    config_path.write_text(tomli_w.dumps({
        "cockpit": {"journal_dir": "journal", "operator": "alice"},
        "environments": {"production": {"base_url": "https://app.example"}},
        "probes": off,
        "rollback": {"actions": [
            {"id": "undo", "kind": "command", "title": "Undo the rollout",
             "run": "echo undoing; exit 1", "timeout": "10s"},
            {"id": "after", "kind": "command", "title": "Say it is done",
             "run": "echo done", "timeout": "10s"}]}}))
    config = load_config(config_path)
    assembled = build_session(config, GlobalFlags())
    app = make_app(config, session=assembled.session, checklist=assembled.checklist)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        screen = modal(app)
        await until(pilot, lambda: not screen.content.resolving)
        await type_and_submit(pilot, "production")

        def waiting() -> bool:
            rollback = screen.content.plan.rollback
            return rollback is not None and rollback.waiting is not None

        await until(pilot, waiting)
        assert "r retry · s skip · a abort" in screen_text(app)
        await pilot.press("r")  # retry: it fails again, and waits again
        await until(pilot, lambda: waiting() and screen.content.plan.actions[0].attempts >= 2)
        await pilot.press("s", "enter")  # skipping needs a reason: an empty one is refused
        await until(pilot, waiting)
        await pilot.press("s")
        await type_and_submit(pilot, "undone by hand, see #ops")
        await until(pilot, lambda: screen.content.plan.rollback.state == "finished")
        undo, after = screen.content.plan.actions
        assert undo.state.value == "skipped" and undo.reason == "undone by hand, see #ops"
        assert after.state.value == "ok"
