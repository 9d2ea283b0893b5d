"""The cockpit as on-call reads it: the first reason at every width, a GO that says its
warnings, every panel one Tab away, the providers kept when an answer drops them, `check`
using the width there is, the palette holding every action, flags in either position."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from ppcockpit.app import CockpitApp, make_app
from ppcockpit.cli import build_runner, skipped
from ppcockpit.model import Reading, Status
from ppcockpit.runner import ProbeRunner
from screens.dashboard import DashboardScreen
from screens.panel_strip import PANELS
from tests import screens_data
from tests.support.cockpit_config import make_config
from tests.support.http_stub import Serve
from tests.support.replay import ReplayProbe
from tests.support.screen_text import screen_text

ROOT = Path(__file__).resolve().parent.parent


def replay_app(tmp_path: Path, *readings: Reading) -> CockpitApp:
    config = make_config(tmp_path, {"base_url": "https://app.example"})
    runner = ProbeRunner([ReplayProbe(r.probe, [r]) for r in readings],
                         fixed=[skipped("secrets", "no files")])
    return make_app(config, runner, clock=lambda: screens_data.AT + 5)


async def until(pilot, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.02)
    await pilot.pause()


def header(app: CockpitApp) -> str:
    return screen_text(app).splitlines()[0]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_the_first_reason_shows_at_every_width(tmp_path: Path, size) -> None:
    app = replay_app(tmp_path, screens_data.health(outage=True), screens_data.redis(True))
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: "NO-GO" in header(app) and "anthropic" in header(app))
        line = header(app)
        assert "health: anthropic unavailable" in line
        assert "+1 more: v" in line or line.rstrip().endswith("…")


async def test_a_go_with_warnings_says_so(tmp_path: Path) -> None:
    degraded = Reading(probe="redis", target="t", status=Status.DEGRADED,
                       summary="memory 80% of maxmemory (warn ≥ 75%)",
                       metrics={"memory_ratio": 0.8})
    app = replay_app(tmp_path, screens_data.health(outage=False), degraded)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "GO" in header(app) and "warning" in header(app))
        assert "2 warnings" in header(app)  # health degraded (anthropic) and redis


async def test_tab_reaches_every_panel_and_frames_it(tmp_path: Path) -> None:
    app = replay_app(tmp_path, screens_data.health(), screens_data.redis())
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        seen = [screen.current]
        for _ in range(len(PANELS) - 1):
            await pilot.press("tab")
            seen.append(screen.current)
            panel = screen.panel(screen.current)
            assert app.focused is panel or panel in app.focused.ancestors  # type: ignore
            assert panel.has_pseudo_class("focus-within") or panel.has_focus
        assert seen == [panel_id for panel_id, _ in PANELS]
        await pilot.press("tab")
        assert screen.current == PANELS[0][0]  # round again
        await pilot.press("shift+tab")
        assert screen.current == PANELS[-1][0]



async def test_the_wide_tables_have_no_sideways_scrollbar_yet_right_reaches_the_detail(
        tmp_path: Path) -> None:
    app = replay_app(tmp_path, screens_data.health(), screens_data.redis())
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        grid = screen.query_one("#health-grid FastTable")
        await until(pilot, lambda: grid.row_count > 1)
        assert not grid.show_horizontal_scrollbar  # its row is a row of the grid instead
        assert "detail" not in screen_text(app)
        while screen.current != "health-grid":
            await pilot.press("tab")
        await pilot.press(*["right"] * 20)
        assert grid.scroll_x > 0
        await until(pilot, lambda: "detail" in screen_text(app))

async def test_an_answer_without_providers_keeps_the_last_known_rows(tmp_path: Path,
                                                                     serve: Serve) -> None:
    state = {"bad_gateway": False}
    healthy = {"success": True, "data": {"status": "ok", "dependencies": {
        "supabase": {"status": "ok", "latencyMs": 1, "message": None},
        "analytics": {"status": "ok"},
        "aiProviders": {"configuration": {"openai": "configured"}, "selection": None,
                        "stats": {"openai": {"status": "healthy", "latencyMs": 3}}}}}}

    async def health(request: web.Request) -> web.Response:
        if state["bad_gateway"]:
            return web.Response(text="<html>502 Bad Gateway</html>", status=502,
                                content_type="text/html")
        return web.Response(text=json.dumps(healthy), content_type="application/json")

    served = web.Application()
    served.router.add_get("/api/health", health)
    app = health_only_cockpit(tmp_path, await serve(served))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "openai" in screen_text(app))
        rows_before = len(screen_text(app).splitlines())
        state["bad_gateway"] = True
        await until(pilot, lambda: "HTTP 502" in screen_text(app))
        shown = screen_text(app)
        assert "openai" in shown and "was ✔ healthy" in shown
        assert len(shown.splitlines()) == rows_before  # the screen does not jump


def health_only_cockpit(tmp_path: Path, base_url: str):  # type: ignore[no-untyped-def]
    """A cockpit watching only the health endpoint at `base_url`, checked every 200 ms."""
    config = make_config(tmp_path, {"base_url": base_url}, probes={
        "health": {"interval": "200ms", "timeout": "150ms"},
        **{name: {"enabled": False} for name in ("redis", "posthog", "supabase", "secrets",
                                                 "deployments")}})
    return make_app(config, build_runner(config))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcockpit", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, env={**os.environ, **(env or {})})


def test_check_uses_the_width_there_is_and_never_cuts_a_pipe(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    host = ".".join(["unresolvable-host-name-label"] * 6) + ".invalid"  # a long reason
    config.write_text(f'[environments.p]\nbase_url = "http://{host}"\n')
    piped = run_cli("check", "--config", str(config))  # stdout is a pipe: no cut
    wide = run_cli("check", "--config", str(config), env={"COLUMNS": "250"})
    narrow = run_cli("check", "--config", str(config), env={"COLUMNS": "80"})
    line = next(l for l in piped.stdout.splitlines() if l.startswith("✖ health"))  # noqa: E741
    assert "…" not in line and len(line) > 100
    assert max(len(l) for l in narrow.stdout.splitlines()) <= 80  # noqa: E741
    assert "…" in narrow.stdout
    assert wide.stdout == piped.stdout or len(wide.stdout) >= len(narrow.stdout)


def test_check_says_what_was_not_checked(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    config.write_text('[environments.p]\nbase_url = "http://127.0.0.1:9"\n')
    result = run_cli("check", "--config", str(config))
    assert "not configured (not checked)" in result.stdout
    assert "redis" in result.stdout.split("not configured (not checked)")[-1]


@pytest.mark.parametrize("args", [["--theme", "nope", "rehearse", "--list-scenarios"],
                                  ["rehearse", "--theme", "light", "--list-scenarios"],
                                  ["rehearse", "--read-only", "--list-scenarios"]])
def test_global_flags_work_before_or_after_rehearse(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr  # accepted in either position
    assert "failure-spike" in result.stdout


def test_a_wrong_theme_after_rehearse_reaches_the_cockpit_and_is_explained() -> None:
    result = run_cli("rehearse", "--theme", "nope", "--time-scale", "60")
    assert result.returncode == 2
    assert "theme 'nope' does not exist" in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_palette_holds_every_action_and_only_our_themes(tmp_path: Path) -> None:
    app = replay_app(tmp_path, screens_data.health())
    async with app.run_test(size=(120, 40)) as pilot:
        commands = list(app.get_system_commands(app.screen))
        titles = [command.title for command in commands]
        for needed in ("Rollback", "Mark the deploy as live now", "Refresh every probe now",
                       "Logs: search", "End the session and write the release log",
                       "Help: every key"):
            assert needed in titles
        assert sorted(t for t in titles if t.startswith("Theme")) == [
            "Theme: dark", "Theme: high-contrast", "Theme: light"]
        assert "Fault drill" not in titles  # not a rehearsal
        await pilot.press("ctrl+p")
        await pilot.press(*"theme")
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert "Theme: light" in shown and "textual-dark" not in shown
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_one_provider_down_is_not_the_endpoint_down(tmp_path: Path, serve: Serve) -> None:
    body = {"success": True, "data": {"status": "degraded", "dependencies": {
        "supabase": {"status": "ok", "latencyMs": 1, "message": None},
        "analytics": {"status": "ok"},
        "aiProviders": {"configuration": {"openai": "configured", "anthropic": "configured"},
                        "selection": None,
                        "stats": {"openai": {"status": "healthy", "latencyMs": 3},
                                  "anthropic": {"status": "unavailable", "latencyMs": None,
                                                "error": {"message": "overloaded"}}}}}}}

    async def health(request: web.Request) -> web.Response:
        return web.json_response(body)

    served = web.Application()
    served.router.add_get("/api/health", health)
    app = health_only_cockpit(tmp_path, await serve(served))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "anthropic" in screen_text(app))
        reading = app.session.state.readings["health"]
        assert reading.status is Status.UNAVAILABLE  # the verdict is unchanged: NO-GO
        assert reading.label == "endpoint ok · 1 provider unavailable"
        shown = screen_text(app)
        assert "NO-GO" in shown.splitlines()[0]
        grid = next(line for line in shown.splitlines() if "endpoint" in line)
        assert "✔ ok" in grid  # it answered in milliseconds: not shown as down
        probes = next(line for line in shown.splitlines() if "│ health " in line)
        assert "endpoint" in probes  # the Probes row leads with why (in full: Enter)
