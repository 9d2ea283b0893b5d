"""The cockpit on the rehearsal stack: the fault menu injects a fault and the grid shows it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from ppcockpit.app import make_app
from ppcockpit.cli import build_runner
from ppcockpit.config import load_config
from ppcockpit.model import Status
from ppcockpit.rehearsal.stack import StackHandle, start_stack
from screens.fault_menu import FaultMenu
from screens.prompt import AskConfirm
from tests.support.screen_text import screen_text


@pytest.fixture
def stack() -> Iterator[StackHandle]:
    handle = start_stack("calm", time_scale=10.0)
    try:
        yield handle
    finally:
        handle.stop()


async def test_fault_menu_injects_a_fault_and_the_grid_changes(stack: StackHandle) -> None:
    config = load_config(stack.config_path)
    app = make_app(config, build_runner(config), rehearsal=stack)
    async with app.run_test(size=(160, 48)) as pilot:
        async with asyncio.timeout(20):
            while app.session.state.readings.get("health") is None or \
                    app.session.state.readings["health"].status is Status.UNKNOWN:
                await pilot.pause(0.05)
        assert app.session.state.readings["health"].status is Status.HEALTHY
        header = screen_text(app).splitlines()[0]
        assert "REHEARSAL" in header and "calm" in header and "not production" in header

        await pilot.press("F")
        assert isinstance(app.screen, FaultMenu)
        names = [name for name, _ in stack.faults()]
        for _ in range(names.index("db-down")):
            await pilot.press("down")
        await pilot.press("enter")
        assert not isinstance(app.screen, FaultMenu)

        async with asyncio.timeout(20):
            while app.session.state.readings["health"].status is not Status.UNAVAILABLE:
                await pilot.pause(0.05)
        reading = app.session.state.readings["health"]
        assert reading.metrics.get("http_status") == 503
        supabase = next(row for row in reading.rows if row.key == "supabase")
        assert supabase.status is Status.UNAVAILABLE
        app.redraw_now()
        await pilot.pause()
        header = screen_text(app).splitlines()[0]
        assert "NO-GO" in header and "REHEARSAL · db-down" in header


async def test_fault_menu_is_only_offered_in_rehearsal(stack: StackHandle) -> None:
    config = load_config(stack.config_path)
    app = make_app(config, build_runner(config))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("F")
        assert not isinstance(app.screen, FaultMenu)
        assert "REHEARSAL" not in screen_text(app).splitlines()[0]


async def test_mark_deploy_annotates_posthog_and_the_session_is_captured(
        stack: StackHandle) -> None:
    config = load_config(stack.config_path)
    posthog = config.environment.posthog
    assert posthog is not None and posthog.api_key and posthog.capture_key
    app = make_app(config, build_runner(config), rehearsal=stack)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")  # the first annotation asks before it writes to PostHog
        await pilot.pause()
        assert isinstance(app.screen, AskConfirm)
        assert "PostHog" in screen_text(app)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Deploy marked at") for m in messages)
        assert any(m.startswith("Annotation") and "created in PostHog" in m for m in messages)
        assert app.runner.probes["posthog"].deploy_at is not None

    async with httpx.AsyncClient(base_url=posthog.host, timeout=5) as client:
        listed = (await client.get(f"/api/projects/{posthog.project_id}/annotations/",
                                   headers={"Authorization": f"Bearer {posthog.api_key}"})).json()
    contents = [a["content"] for a in listed["results"]]
    assert any(c == f"Deploy of rehearsal marked by {config.operator}" for c in contents)
    events = [c.get("event") for c in stack.posthog_captures()]
    assert "cockpit_session_started" in events  # flushed when the cockpit closed


async def annotations(config) -> int:  # type: ignore[no-untyped-def]
    posthog = config.environment.posthog
    async with httpx.AsyncClient(base_url=posthog.host, timeout=5) as client:
        listed = await client.get(f"/api/projects/{posthog.project_id}/annotations/",
                                  headers={"Authorization": f"Bearer {posthog.api_key}"})
    return len(listed.json()["results"])


async def test_mark_deploy_asks_first_and_escape_writes_nothing(stack: StackHandle) -> None:
    config = load_config(stack.config_path)
    before = await annotations(config)
    app = make_app(config, build_runner(config), rehearsal=stack)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("escape")
        await app.workers.wait_for_complete()
    assert await annotations(config) == before


async def test_read_only_says_it_and_marks_only_the_screen(stack: StackHandle) -> None:
    config = load_config(stack.config_path)
    app = make_app(config, build_runner(config), rehearsal=stack, read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        assert "READ-ONLY" in screen_text(app).splitlines()[0]
        await pilot.press("d")  # no question: nothing remote is written
        await app.workers.wait_for_complete()
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any("nothing remote was changed" in m for m in messages)
