"""The cockpit on the rehearsal stack: the fault menu injects a fault and the grid shows it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ppcockpit.app import make_app
from ppcockpit.cli import build_runner
from ppcockpit.config import load_config
from ppcockpit.model import Status
from ppcockpit.rehearsal.stack import StackHandle, start_stack
from screens.fault_menu import FaultMenu
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
            while app.state.readings.get("health") is None or \
                    app.state.readings["health"].status is Status.UNKNOWN:
                await pilot.pause(0.05)
        assert app.state.readings["health"].status is Status.HEALTHY
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
            while app.state.readings["health"].status is not Status.UNAVAILABLE:
                await pilot.pause(0.05)
        reading = app.state.readings["health"]
        assert reading.metrics.get("http_status") == 503
        supabase = next(row for row in reading.rows if row.key == "supabase")
        assert supabase.status is Status.UNAVAILABLE
        app._push_snapshot()
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
