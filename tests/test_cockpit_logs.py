"""The log tail inside the cockpit: a real command source, its keys from any panel, the
request id of a failed health reading shown in the logs, the deploy marker, saving; and
the describe and verdict screens."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w
from aiohttp import web

from ppcockpit.app import CockpitApp, make_app
from ppcockpit.cli import GlobalFlags, build_session
from ppcockpit.config import load_config
from screens.describe import DescribeScreen
from screens.logs_screen import LogsScreen
from screens.verdict import VerdictScreen
from tests.support.http_stub import Serve
from tests.support.screen_text import screen_text

LINES = [
    {"level": "info", "message": "Coach reply completed", "requestId": "req-1",
     "route": "/api/chat", "metadata": {"providerId": "openai"}},
    {"level": "error", "message": "Health check failed", "requestId": "req-42",
     "route": "/api/health", "error": {"name": "Error", "message": "db down boom"}},
    {"level": "warn", "message": "Provider health degraded", "requestId": "req-2",
     "metadata": {"providerId": "anthropic", "status": "degraded"}},
    "plain text from the platform [bold]not markup[/bold]",
]
DOWN = {"success": False, "error": "Health check failed", "details": {
    "status": "degraded", "dependencies": {
        "supabase": {"status": "error", "latencyMs": 2, "message": "db down"},
        "analytics": {"status": "ok"},
        "aiProviders": {"configuration": {"openai": "configured"}, "selection": None,
                        "stats": {"openai": {"status": "healthy", "latencyMs": 3}}}}}}


@pytest.fixture
async def cockpit(tmp_path: Path, serve: Serve) -> CockpitApp:
    async def health(request: web.Request) -> web.Response:
        return web.json_response(DOWN, status=503, headers={"X-Request-ID": "req-42"})

    app = web.Application()
    app.router.add_get("/api/health", health)
    base = await serve(app)
    script = tmp_path / "stream.py"
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in LINES)
    script.write_text(f"import sys, time\nprint({text!r}, flush=True)\ntime.sleep(600)\n")
    off = {name: {"enabled": False} for name in
           ("redis", "posthog", "supabase", "pwa", "secrets", "deployments")}
    config_path = tmp_path / "cockpit.toml"
    config_path.write_text(tomli_w.dumps({
        "cockpit": {"journal_dir": "journal"},
        "environments": {"production": {
            "base_url": base,
            "logs": {"source": "command", "run": f"{sys.executable} {script}"}}},
        "probes": {"health": {"interval": "300ms", "timeout": "250ms"}, **off}}))
    config = load_config(config_path)
    assembled = build_session(config, GlobalFlags())
    return make_app(config, session=assembled.session, checklist=assembled.checklist,
                    save_dir=tmp_path / "saved")


async def until(pilot, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.02)
    await pilot.pause()


async def test_log_keys_work_from_any_panel(cockpit: CockpitApp, tmp_path: Path) -> None:
    async with cockpit.run_test(size=(160, 48)) as pilot:
        panel = cockpit.screen.log_panel
        await until(pilot, lambda: len(panel.buffer) >= 4)
        assert cockpit.screen.current == "checklist"  # the keys work from the checklist
        await pilot.press("1")
        assert panel.filter.level == 1
        await until(pilot, lambda: "db down boom" in screen_text(cockpit))
        assert "Coach reply completed" not in screen_text(cockpit)
        await pilot.press("4")
        assert panel.filter.level == 4
        await pilot.press("p")
        assert panel.buffer.paused
        await pilot.press("p")
        assert not panel.buffer.paused
        await pilot.press("w")
        assert panel.view.wrap
        await pilot.press("slash")
        assert cockpit.screen.current == "log-tail"
        await pilot.press(*"boom", "enter")
        await until(pilot, lambda: "1/1" in screen_text(cockpit) or "match" in
                    screen_text(cockpit).lower())
        await pilot.press("s")
        saved = tmp_path / "saved"
        await until(pilot, lambda: saved.is_dir() and any(saved.iterdir()))
        (path,) = saved.iterdir()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "db down boom" in path.read_text()
        await pilot.press("l")
        assert isinstance(cockpit.screen, LogsScreen)
        await pilot.press("l")
        assert not isinstance(cockpit.screen, LogsScreen)
        assert "[bold]not markup[/bold]" in "\n".join(panel.buffer.texts())


async def test_a_failed_health_readings_request_is_one_enter_away(cockpit: CockpitApp,
                                                                  ) -> None:
    async with cockpit.run_test(size=(80, 24)) as pilot:
        screen = cockpit.screen
        await until(pilot, lambda: cockpit.session.state.readings.get("health") is not None
                    and len(screen.log_panel.buffer) >= 4)
        await pilot.press("tab")  # narrow: the Health panel comes into view, focused
        assert screen.current == "health-grid"
        assert "Health ✖" in screen_text(cockpit)  # the strip says what is out of sight
        await pilot.press("enter")  # on the endpoint row
        await until(pilot, lambda: isinstance(cockpit.screen, DescribeScreen))
        shown = screen_text(cockpit)
        assert "req-42" in shown and "HTTP 503" in shown
        await pilot.press("enter")  # this request in the logs
        await until(pilot, lambda: not isinstance(cockpit.screen, DescribeScreen))
        assert screen.current == "log-tail"
        assert screen.log_panel.filter.request_id == "req-42"
        assert [line.request_id for line in screen.log_panel.view.lines] == ["req-42"]


async def test_deploy_marker_and_verdict_history(cockpit: CockpitApp) -> None:
    async with cockpit.run_test(size=(160, 48)) as pilot:
        screen = cockpit.screen
        await until(pilot, lambda: cockpit.session.state.readings.get("health") is not None)
        await pilot.press("d")
        await until(pilot, lambda: any(line.marker for line in screen.log_panel.buffer))
        await pilot.press("v")
        await until(pilot, lambda: isinstance(cockpit.screen, VerdictScreen))
        shown = screen_text(cockpit)
        assert "Why not" in shown and "HTTP 503" in shown
        assert "Not checked" in shown and "redis" in shown
        await pilot.press("escape")
        assert not isinstance(cockpit.screen, VerdictScreen)
