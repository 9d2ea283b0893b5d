"""The rollback's HTTP edges against real loopback servers: a rollback whose answer is lost
(looked at before it is asked again), a webhook that redirects or echoes its URL (never
followed, never shown), the rehearsal sink's listing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from aiohttp import web

from ppcockpit import cli_rollback
from ppcockpit.cli import GlobalFlags
from ppcockpit.config_model import HostingEnvironment
from ppcockpit.config_types import dec_hook
from ppcockpit.rehearsal.http_common import RequestLog
from ppcockpit.rehearsal.webhook_server import build_app as webhook_sink
from ppcockpit.rollback import RollbackEngine
from ppcockpit.rollback_progress import ActionState, RollbackState
from probes.hosting import HostingClient
from tests.support.http_stub import Serve
from tests.support.rollback_setup import (
    Watch,
    is_waiting,
    journal_events,
    plan,
    rollback_events,
    small_session,
)

TOKEN = "vercel-test-token-0000000000"
WEBHOOK_PATH = "/services/T000/B000/webhook-secret-token-0000"


class LostAnswers:
    """A Vercel-shaped API whose rollback happens, but whose answer never arrives."""

    def __init__(self) -> None:
        now = time.time()
        self.deployments = {"dpl_new": now - 600, "dpl_old": now - 86400}
        self.current = "dpl_new"
        self.posts: list[str] = []
        self.release = asyncio.Event()

    def _json(self, uid: str) -> dict[str, Any]:
        return {"uid": uid, "url": f"{uid}.example.app", "state": "READY",
                "target": "production", "created": int(self.deployments[uid] * 1000),
                "meta": {"githubCommitSha": "ab" * 20}}

    def app(self) -> web.Application:
        async def project(request: web.Request) -> web.Response:
            return web.json_response({"targets": {"production": self._json(self.current)}})

        async def listed(request: web.Request) -> web.Response:
            return web.json_response({"deployments": [self._json(u) for u in self.deployments]})

        async def rollback(request: web.Request) -> web.Response:
            uid = request.match_info["uid"]
            self.posts.append(uid)
            self.current = uid  # it happens...
            await self.release.wait()  # ...but the answer is lost
            return web.Response(status=201)

        app = web.Application()
        app.router.add_get("/v9/projects/{project}", project)
        app.router.add_get("/v6/deployments", listed)
        app.router.add_post("/v1/projects/{project}/rollback/{uid}", rollback)
        return app


async def test_a_lost_rollback_answer_is_looked_at_before_asking_again(
        tmp_path: Path, serve: Serve) -> None:
    vercel = LostAnswers()
    base = await serve(vercel.app())
    client = HostingClient(msgspec.convert(
        {"project_id": "prj_x", "token": TOKEN, "api_url": base}, HostingEnvironment,
        dec_hook=dec_hook), timeout=0.5)
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "hosting", "kind": "hosting", "title": "Roll back", "timeout": "10s"}),
        hosting=client)
    watch = Watch(session)
    try:
        running = asyncio.create_task(engine.execute())
        await watch.until(is_waiting("hosting"))
        hosting = engine.plan_view().actions[0]
        assert hosting.state is ActionState.FAILED
        assert "the rollback may have happened" in hosting.summary
        assert TOKEN not in hosting.summary
        await engine.decide("hosting", "retry")
        record = await running
    finally:
        vercel.release.set()
        await client.aclose()
        await session.stop()
    assert record.state is RollbackState.FINISHED
    assert record.actions["hosting"].summary.endswith("is live (it already was)")
    assert vercel.posts == ["dpl_old"]  # asked once, never twice
    events = rollback_events(await journal_events(session))
    assert events.count(("rollback_action_started", "hosting")) == 2


async def test_a_webhook_that_redirects_is_not_followed_and_its_url_never_shown(
        tmp_path: Path, serve: Serve) -> None:
    followed: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.path)
        return web.Response(text="ok")

    other = web.Application()
    other.router.add_route("*", "/{tail:.*}", elsewhere)
    other_base = await serve(other)

    async def hook(request: web.Request) -> web.Response:
        if request.path.endswith("/moved"):
            raise web.HTTPFound(f"{other_base}/steal")
        return web.Response(status=404, text=f"no_service for {request.url}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hook)
    base = await serve(app)
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "moved", "kind": "notify", "title": "Moved", "url": "${MOVED_HOOK}",
         "optional": True},
        {"id": "gone", "kind": "notify", "title": "Gone", "url": "${GONE_HOOK}",
         "optional": True}),
        variables={"MOVED_HOOK": f"{base}{WEBHOOK_PATH}/moved",
                   "GONE_HOOK": f"{base}{WEBHOOK_PATH}"})
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("moved"))
    await engine.decide("moved", "skip")
    await watch.until(is_waiting("gone"))
    await engine.decide("gone", "skip")
    await running
    shown = repr(engine.plan_view())
    events = repr(await journal_events(session))
    await session.stop()
    moved, gone = engine.plan_view().actions
    assert moved.summary == "webhook at 127.0.0.1 redirected (HTTP 302); not followed"
    assert gone.summary.startswith("webhook at 127.0.0.1 answered HTTP 404: no_service for")
    assert not followed
    for text in (shown, events):
        assert "webhook-secret-token" not in text and "/services/T000" not in text


async def test_the_rehearsal_sink_lists_what_it_received(serve: Serve) -> None:
    received = RequestLog()
    base = await serve(webhook_sink(received))
    from ppcockpit.rehearsal.credentials import WEBHOOK_PATH as SINK_PATH

    async with httpx.AsyncClient() as client:
        assert (await client.post(base + SINK_PATH, json={"text": "rolled back"})).text == "ok"
        assert (await client.post(base + SINK_PATH, json={"nope": 1})).status_code == 400
        assert (await client.post(base + SINK_PATH, content=b"{")).status_code == 400
        assert (await client.post(base + "/services/x", json={"text": "t"})).status_code == 404
        listed = (await client.get(base + SINK_PATH)).json()
        assert (await client.get(base + "/")).status_code == 404
    assert [m["text"] for m in listed["messages"]] == ["rolled back"]


def test_rollback_plan_never_prints_a_secret_a_hostile_api_echoes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    token = "vercel-planted-token-1234567890"
    hook = f"https://hooks.example.com{WEBHOOK_PATH}"

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "forbidden",
                                            "message": f"bad token {token} \x1b[2J"}},
                                 status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)

    async def run() -> int:
        from tests.support.http_stub import serve_app

        async with serve_app(app) as base:
            (tmp_path / "cockpit.toml").write_text(
                '[environments.production]\nbase_url = "https://app.example"\n'
                '[environments.production.hosting]\nproject_id = "prj_x"\n'
                f'token = "${{VERCEL_TOKEN}}"\napi_url = "{base}"\n'
                '[[rollback.actions]]\nid = "hosting"\nkind = "hosting"\ntitle = "Back"\n'
                '[[rollback.actions]]\nid = "notify"\nkind = "notify"\ntitle = "Tell"\n'
                'url = "${SLACK_WEBHOOK_URL}"\n')
            flags = GlobalFlags(config=str(tmp_path / "cockpit.toml"))
            return await asyncio.to_thread(cli_rollback.main, ["plan", "--json"], flags)

    monkeypatch.setenv("VERCEL_TOKEN", token)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", hook)
    assert asyncio.run(run()) == 0
    out = capsys.readouterr().out
    document = json.loads(out)
    assert document["target"] is None
    hosting, notify = document["actions"]
    assert "cannot run: hosting API: Vercel API answered the request with 500" in \
        hosting["detail"]
    assert notify["detail"] == "POST to the webhook at hooks.example.com"
    assert token not in out and WEBHOOK_PATH not in out and "\x1b" not in out
