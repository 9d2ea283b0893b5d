"""Text from outside is never markup: a provider id or an error that looks like Rich markup
shows as it is, in the grid, the toasts and the header, and never crashes the cockpit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from ppcockpit.app import make_app
from ppcockpit.cli import build_runner
from ppcockpit.model import Reading, Status
from tests.support.cockpit_config import make_config
from tests.support.http_stub import Serve
from tests.support.screen_text import screen_text

HOSTILE_ID = "[/]"
HOSTILE_ERROR = "upstream [/bold] overloaded [@click=app.quit]x[/]"
FAKE_CLEAR = "[reverse]FAKE: all clear"


def payload(outage: bool) -> dict[str, Any]:
    def stats(status: str, error: str | None) -> dict[str, Any]:
        return {"status": status, "latencyMs": 5, "successCount": 1, "failureCount": 0,
                "degradedCount": 0, "error": {"message": error} if error else None}

    return {"success": True, "data": {
        "status": "degraded" if outage else "ok",
        "dependencies": {
            "supabase": {"status": "ok", "latencyMs": 1, "message": None},
            "analytics": {"status": "ok"},
            "aiProviders": {
                "configuration": {HOSTILE_ID: "configured", "anthropic": "configured"},
                "selection": None,
                "stats": {
                    HOSTILE_ID: stats("unavailable" if outage else "healthy",
                                      HOSTILE_ERROR if outage else None),
                    "anthropic": stats("degraded", FAKE_CLEAR),
                }}}}}


async def test_markup_from_a_provider_shows_literally_and_never_crashes(
        tmp_path: Path, serve: Serve) -> None:
    state = {"outage": False}

    async def health(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(payload(state["outage"])),
                            content_type="application/json",
                            headers={"X-Request-ID": "[bold]req[/bold]"})

    app_server = web.Application()
    app_server.router.add_get("/api/health", health)
    base = await serve(app_server)
    config = make_config(tmp_path, {"base_url": base},
                         probes={"health": {"interval": "200ms", "timeout": "150ms",
                                            "unavailable_after": 1},
                                 "redis": {"enabled": False}, "posthog": {"enabled": False},
                                 "supabase": {"enabled": False}, "secrets": {"enabled": False},
                                 "deployments": {"enabled": False}})
    app = make_app(config, build_runner(config))
    toasts: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (toasts.append(message), notify(message, **kw))[1]
    readings: asyncio.Queue[Reading] = asyncio.Queue()
    app.runner.subscribe(readings.put_nowait)

    async def first_health() -> None:
        while (await readings.get()).probe != "health":
            pass

    async def alerting() -> None:
        while not any(r.alerting for r in (await readings.get()).rows):
            pass

    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await asyncio.wait_for(first_health(), 10)
        state["outage"] = True
        await asyncio.wait_for(alerting(), 10)  # the transition toast and the ALERT toast
        for _ in range(40):  # until the toast itself is drawn
            await pilot.pause(0.05)
            if not app.is_running or "upstream [/bold] overloaded" in screen_text(app):
                break
        assert app.is_running
        text = screen_text(app)
        assert "upstream [/bold] overloaded" in text  # the toast, drawn literally
        assert HOSTILE_ID in text
        assert "[/bold]" in text  # shown, not interpreted
        assert "[reverse]FAKE" in text
        assert any(HOSTILE_ERROR in t for t in toasts)
        assert app.runner.latest["health"].status is Status.UNAVAILABLE
