"""The whole built-in runbook, walked from the keyboard against the rehearsal stack: manual
steps confirmed with Space, commands run with Enter, the live deployment recorded, the
release tagged in the throwaway repo, probe steps passing on their own evidence (one
overridden with a reason where the drill's evidence says no), the release log at the end."""

from __future__ import annotations

import asyncio
import subprocess
import tomllib
from collections.abc import Callable, Iterator

import pytest

from ppcockpit.app import CockpitApp, make_app
from ppcockpit.cli import GlobalFlags, build_session, release_log_path
from ppcockpit.config import load_config
from ppcockpit.rehearsal import StackHandle, start_stack
from ppcockpit.runbook import StepKind
from ppcockpit.runbook_engine import StepState
from screens.checklist import ChecklistPanel
from screens.prompt import AskConfirm, AskText
from screens.release_log import ReleaseLogScreen
from tests.support.typing import type_and_submit


@pytest.fixture(scope="module")
def stack() -> Iterator[StackHandle]:
    with start_stack("calm", time_scale=10.0) as handle:
        yield handle


async def until(pilot, condition: Callable[[], bool], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.05)
    await pilot.pause()


async def test_the_built_in_runbook_walked_from_the_keyboard(stack: StackHandle) -> None:
    config = load_config(stack.config_path)
    assembled = build_session(config, GlobalFlags(new_session=True),
                              stack_clock=stack.clock.now)
    app: CockpitApp = make_app(config, session=assembled.session,
                               checklist=assembled.checklist, rehearsal=stack)
    checklist = assembled.checklist
    overridden: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.screen.query_one(ChecklistPanel)
        await pilot.pause()

        def state(key: str) -> StepState:
            step = checklist.view().step(key)
            assert step is not None
            return step.state

        for step in checklist.view().steps:
            key, kind = step.key, step.kind
            if state(key).complete:
                continue
            panel.select(key)
            await pilot.pause()
            if kind is StepKind.MANUAL:
                await pilot.press("space")
            elif kind is StepKind.COMMAND:
                await pilot.press("enter")
            elif kind is StepKind.RECORD:
                await pilot.press("enter")  # the live deployment, to confirm
                await until(pilot, lambda: isinstance(app.screen, AskConfirm))
                await pilot.press("enter")
            elif kind is StepKind.TAG:
                await pilot.press("enter")  # the next free tag, proposed
                await until(pilot, lambda: isinstance(app.screen, AskText))
                await pilot.press("enter")
            else:  # a probe step: its evidence decides; `r` asks the probes again now
                for _ in range(12):  # "waiting": not every reading it needs is in yet
                    if state(key) is not StepState.WAITING:
                        break
                    await pilot.press("r")
                    await pilot.pause(0.3)
                if state(key) is StepState.FAILING:  # the drill's pending migration
                    await pilot.press("o")
                    await until(pilot, lambda: isinstance(app.screen, AskText))
                    await type_and_submit(pilot, "ships with the next release, on purpose")
                    overridden.append(key)
            if not checklist.view().closed:
                await until(pilot, lambda key=key: state(key).complete, seconds=30)
        await until(pilot, lambda: isinstance(app.screen, ReleaseLogScreen))
    assert overridden == ["observe/migrations-applied"]
    view = checklist.view()
    assert view.closed and view.complete
    entry = tomllib.loads(release_log_path(config).read_text())["releases"][-1]
    live = stack.current_deployment()
    assert entry["sha"] == live["sha"]
    listed = await asyncio.to_thread(subprocess.run, ["git", "tag", "-l"],
                                     cwd=stack.workdir / "release-repo", capture_output=True,
                                     text=True, check=True)
    tags = listed.stdout.split()
    assert entry["tag"] in tags
    assert [o["reason"] for o in entry["overrides"]] == [
        "ships with the next release, on purpose"]

