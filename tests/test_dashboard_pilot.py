"""Driving the cockpit as an engineer would, against a real health server and real Redis."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ppcockpit.app import CockpitApp, make_app
from ppcockpit.cli import build_runner
from ppcockpit.model import Reading, Status
from ppcockpit.redis_server import RedisServer
from screens.fast_table import FastTable
from screens.help import HelpScreen
from tests.support.cockpit_config import make_config
from tests.support.screen_text import screen_text


def payload(anthropic: str = "healthy") -> dict[str, Any]:
    def stats(status: str, latency: int | None, error: Any = None) -> dict[str, Any]:
        return {"status": status, "lastCheckedAt": None, "latencyMs": latency,
                "successCount": 4, "failureCount": 1, "degradedCount": 0, "error": error}

    error = None if anthropic == "healthy" else {"message": "overloaded"}
    return {
        "status": "ok" if anthropic == "healthy" else "degraded",
        "timestamp": "2026-11-28T10:00:00.000Z",
        "dependencies": {
            "supabase": {"status": "ok", "latencyMs": 3, "message": None},
            "analytics": {"status": "ok"},
            "aiProviders": {
                "configuration": {"openai": "configured", "anthropic": "configured",
                                  "together": "missing", "ollama": "missing"},
                "selection": None,
                "stats": {
                    "openai": stats("healthy", 48),
                    "anthropic": stats(anthropic, 120, error),
                    "ollama": stats("unavailable", None),
                },
            },
        },
    }


class HealthStandIn:
    """The app's /api/health, answering whatever the test sets."""

    def __init__(self) -> None:
        self.anthropic = "healthy"
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = {"success": True, "data": payload(self.anthropic)}
        return web.Response(text=json.dumps(body), content_type="application/json",
                            headers={"X-Request-ID": f"req-{self.requests}"})


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[HealthStandIn, str]]:
    stand_in = HealthStandIn()
    app = web.Application()
    app.router.add_get("/api/health", stand_in.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield stand_in, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def cockpit(tmp_path: Path, base_url: str, redis: RedisServer) -> CockpitApp:
    config = make_config(tmp_path, {"base_url": base_url, "redis_url": redis.url},
                         probes={"health": {"interval": "300ms", "timeout": "250ms"},
                                 "redis": {"interval": "300ms", "timeout": "250ms"}})
    return make_app(config, build_runner(config))


class Readings:
    """Every reading the cockpit receives, in order, from the moment it is created."""

    def __init__(self, app: CockpitApp) -> None:
        self.queue: asyncio.Queue[Reading] = asyncio.Queue()
        app.runner.subscribe(self.queue.put_nowait)

    def drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    async def next(self, probe: str, predicate=lambda r: True) -> Reading:
        """The next reading of `probe` that satisfies `predicate` (event-driven, bounded)."""
        async with asyncio.timeout(10):
            while True:
                reading = await self.queue.get()
                if reading.probe == probe and predicate(reading):
                    return reading


async def on_screen(pilot, *readings: Reading) -> None:
    """Until the dashboard shows these readings or later ones (a coalesced redraw)."""
    dashboard = pilot.app.screen

    def behind(reading: Reading) -> bool:
        shown = dashboard.snapshot.readings.get(reading.probe)
        return shown is None or (shown.finished_at or 0) < (reading.finished_at or 0)

    async with asyncio.timeout(5):
        while dashboard.snapshot is None or any(behind(r) for r in readings):
            await pilot.pause(0.02)
    await pilot.pause()


def table_text(app: CockpitApp, table_id: str) -> str:
    table = app.screen.query_one(f"#{table_id}", FastTable)
    return "\n".join(" ".join(str(cell) for cell in table.row(key)) for key in table.keys)


async def test_dashboard_shows_health_and_redis(tmp_path, health_server, redis_server) -> None:
    _, base_url = health_server
    app = cockpit(tmp_path, base_url, redis_server)
    readings = Readings(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, await readings.next("redis"), await readings.next("health"))
        grid = table_text(app, "health-table")
        assert "openai" in grid and "✔ healthy" in grid
        assert "together" in grid and "not configured" in grid  # missing key ≠ outage
        panel = str(app.screen.query_one("#redis-numbers").render())
        assert "clients 0" in panel  # the cockpit's own connection is not counted
        header = str(app.screen.query_one("CockpitHeader").render())
        assert "oncall" in header and "test" in header


async def test_keys_refresh_theme_help_quit(tmp_path, health_server, redis_server) -> None:
    stand_in, base_url = health_server
    app = cockpit(tmp_path, base_url, redis_server)
    readings = Readings(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await readings.next("health")
        for probe in app.runner.probes.values():
            probe.interval = 3600  # only a refresh can bring the next reading now
        await readings.next("health")  # the loop now waits an hour
        readings.drain()
        before = stand_in.requests
        await pilot.press("r")
        await readings.next("health")
        assert stand_in.requests > before

        assert app.theme == "dark"
        await pilot.press("t")
        assert app.theme == "light"
        await pilot.press("t")
        assert app.theme == "high-contrast"

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        first = " ".join(screen_text(app).split())
        assert "Space" in first and "Ctrl+E" in first
        await pilot.press("end")  # 80x24: the help scrolls, and its end is reachable
        await pilot.pause()
        last = " ".join(screen_text(app).split())
        assert "Verdict" in last and "ALERT" in last and "unavailable_after" in last
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_provider_outage_alerts_on_the_third_check(tmp_path, health_server,
                                                         redis_server) -> None:
    stand_in, base_url = health_server
    app = cockpit(tmp_path, base_url, redis_server)
    readings = Readings(app)
    titles: list[str | None] = []  # every toast raised; a toast on screen expires after seconds
    notify = app.notify
    app.notify = lambda message, **kw: (titles.append(kw.get("title")), notify(message, **kw))[1]
    async with app.run_test(size=(160, 48)) as pilot:
        await readings.next("health")
        stand_in.anthropic = "unavailable"
        first = await readings.next("health", lambda r: r.status is Status.UNAVAILABLE)
        row = next(r for r in first.rows if r.key == "ai:anthropic")
        assert row.consecutive_failures == 1 and not row.alerting
        third = await readings.next(
            "health",
            lambda r: any(x.key == "ai:anthropic" and x.consecutive_failures == 3 for x in r.rows))
        assert next(r for r in third.rows if r.key == "ai:anthropic").alerting
        await pilot.pause()
        app.redraw_now()
        await pilot.pause()
        assert re.search(r"⚠ ALERT [3-9]", table_text(app, "health-table"))
        assert any("ALERT" in (t or "") for t in titles)
        assert any(t == "health" for t in titles)  # the transition toast
        assert "NO-GO" in str(app.screen.query_one("CockpitHeader").render())


async def test_redis_killed_and_restarted_under_the_cockpit(tmp_path, health_server,
                                                            redis_server) -> None:
    _, base_url = health_server
    app = cockpit(tmp_path, base_url, redis_server)
    readings = Readings(app)
    async with app.run_test(size=(80, 24)):
        await readings.next("redis", lambda r: r.status is Status.HEALTHY)
        redis_server.kill()
        down = await readings.next("redis", lambda r: r.status is Status.UNAVAILABLE)
        assert down.error
        redis_server.restart()
        await readings.next("redis", lambda r: r.status is Status.HEALTHY)
        import redis as redis_py

        client = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
        names = [c.get("name") for c in client.client_list()]
        client.close()
        assert names.count("ppcockpit") == 1
