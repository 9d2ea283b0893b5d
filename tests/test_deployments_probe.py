"""The deployments probe and the hosting client, against the rehearsal's Vercel stand-in
(served on loopback, as the stack serves it) and hostile loopback servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from ppcockpit.config_model import DeploymentsProbeConfig, HostingEnvironment
from ppcockpit.model import Failure, ProbeMisconfigured, Status, TargetUnavailable
from ppcockpit.rehearsal import app_server, vercel_server
from ppcockpit.rehearsal import credentials as cred
from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.clock import SimClock
from ppcockpit.rehearsal.deployments import STAGING_HISTORY
from ppcockpit.rehearsal.http_common import RequestLog
from ppcockpit.rehearsal.logs import LogSink
from ppcockpit.rehearsal.world import World
from ppcockpit.runner import ProbeRunner
from ppcockpit.secrets import fingerprint
from probes.deployments import DeploymentsProbe
from probes.hosting import HostingClient, HostingError
from tests.support.cockpit_config import write_config
from tests.support.http_stub import Serve, serve_handler

REPO = Path(__file__).resolve().parent.parent
TOKEN = "vercel_PLANTED_token_0123456789abcdef"
PROJECT = "prj_planted"
DETAIL_KEYS = {"uid", "url", "sha", "state", "age_s", "previous"}
SETTINGS = DeploymentsProbeConfig(interval="5s", timeout="2s")


def hosting(api_url: str, *, token: str = cred.VERCEL_TOKEN, project: str =
            cred.VERCEL_PROJECT_ID, target: str = "production",
            team_id: str | None = None) -> HostingEnvironment:
    return HostingEnvironment(api_url=api_url, project_id=project, token=token, target=target,
                              team_id=team_id)


# --- the rehearsal stand-in on loopback -------------------------------------------------------

@dataclass
class StandIn:
    world: World
    staging: World
    requests: RequestLog
    vercel: str
    app: str

    def rollbacks(self) -> list[dict[str, Any]]:
        return [r for r in self.requests.snapshot() if r["method"] == "POST"]


@pytest.fixture
async def stand_in(serve: Serve, tmp_path: Path) -> StandIn:
    clock = SimClock(10.0)
    world = World(clock, LogSink(tmp_path / "app.log"))
    world.seed_history()
    staging = World(clock, LogSink(tmp_path / "staging.log"), 107, target="staging",
                    history=STAGING_HISTORY)
    staging.seed_history()
    requests = RequestLog()
    vercel = await serve(vercel_server.build_app(world, requests, [staging]))
    app = await serve(app_server.build_app(world))
    return StandIn(world, staging, requests, vercel, app)


@pytest.fixture
async def probe_of() -> AsyncIterator[Callable[..., DeploymentsProbe]]:
    made: list[DeploymentsProbe] = []

    def make(env: HostingEnvironment, **kwargs: Any) -> DeploymentsProbe:
        made.append(DeploymentsProbe(env, SETTINGS, **kwargs))
        return made[-1]

    yield make
    for probe in made:
        await probe.aclose()


async def test_the_live_deployment_its_age_and_the_previous_one(
        stand_in: StandIn, probe_of: Callable[..., DeploymentsProbe]) -> None:
    probe = probe_of(hosting(stand_in.vercel))
    reading = await probe.check()
    everything = stand_in.world.deployments.all()
    current, previous = everything[0], everything[1]
    assert reading.status is Status.HEALTHY, reading.summary
    assert set(reading.details) == DETAIL_KEYS
    assert reading.details["uid"] == current.uid
    assert reading.details["url"] == f"https://{current.url}"
    assert reading.details["sha"] == current.sha and reading.details["state"] == "READY"
    assert reading.details["previous"] == {"uid": previous.uid,
                                           "url": f"https://{previous.url}",
                                           "sha": previous.sha}
    assert 20 * 60 - 2 <= reading.metrics["age_s"] <= 20 * 60 + 10  # seeded 20 min ago
    assert reading.details["age_s"] == reading.metrics["age_s"]
    assert reading.summary.startswith(f"live {current.uid[:8]} · {current.sha[:7]} · 20m")
    assert probe.target == (f"Vercel project {cred.VERCEL_PROJECT_ID} "
                            f"({stand_in.vercel.removeprefix('http://')}) · production")
    assert cred.VERCEL_TOKEN not in repr(reading) + probe.target


async def test_staging_reads_its_own_target_soaked_over_a_day(
        stand_in: StandIn, probe_of: Callable[..., DeploymentsProbe]) -> None:
    reading = await probe_of(hosting(stand_in.vercel, target="staging")).check()
    assert reading.status is Status.HEALTHY, reading.summary
    assert reading.details["uid"] == stand_in.staging.deployments.current_uid
    assert reading.metrics["age_s"] > 86400  # the runbook's "soaked in staging 24 h"
    production = {d.uid for d in stand_in.world.deployments.all()}
    assert reading.details["previous"]["uid"] not in production


async def test_a_team_id_is_sent_as_teamid(
        stand_in: StandIn, probe_of: Callable[..., DeploymentsProbe]) -> None:
    await probe_of(hosting(stand_in.vercel, team_id=cred.VERCEL_TEAM_ID)).check()
    asked = stand_in.requests.snapshot()
    assert {r["path"] for r in asked} == {"/v6/deployments",
                                          f"/v9/projects/{cred.VERCEL_PROJECT_ID}"}
    assert all(r["query"].get("teamId") == cred.VERCEL_TEAM_ID for r in asked)
    listed = next(r for r in asked if r["path"] == "/v6/deployments")
    assert listed["query"] == {"projectId": cred.VERCEL_PROJECT_ID, "target": "production",
                               "state": "READY", "limit": "20", "teamId": cred.VERCEL_TEAM_ID}


async def test_a_rollback_changes_the_live_deployment_exactly_once_and_health_follows(
        stand_in: StandIn, probe_of: Callable[..., DeploymentsProbe]) -> None:
    world = stand_in.world
    world.inject(sc.FAILURE_SPIKE, world.clock.now())  # the bad deploy
    bad = world.deployments.current
    probe = probe_of(hosting(stand_in.vercel))
    before = await probe.check()
    assert before.details["uid"] == bad.uid
    target = before.details["previous"]["uid"]
    client = probe.client

    accepted = await client.rollback(cred.VERCEL_PROJECT_ID, target, "failure ratio 7% > 5%")
    assert accepted.deployment_uid == target and accepted.status == 201
    live = await client.wait_until_live(target, within=5.0, interval=0.05)
    assert live.current is not None and live.current.uid == target

    rollbacks = stand_in.rollbacks()
    assert len(rollbacks) == 1
    assert rollbacks[0]["path"] == f"/v1/projects/{cred.VERCEL_PROJECT_ID}/rollback/{target}"
    assert rollbacks[0]["query"] == {"description": "failure ratio 7% > 5%"}
    assert rollbacks[0]["status"] == 201
    assert world.deployments.current_uid == target
    assert sc.FAILURE_SPIKE not in world.faults  # the bad deploy's spike is undone
    async with httpx.AsyncClient() as http:
        health = await http.get(stand_in.app + "/api/health")
    assert health.status_code == 200
    assert health.headers["x-deployment-id"] == target
    assert health.headers["x-app-version"] == world.deployments.get(target).version

    after = await probe.check()
    assert after.details["uid"] == target
    assert after.details["previous"]["uid"] != bad.uid  # the bad one is newer, not "before"
    again = await probe.check()
    assert again.details["uid"] == target and len(stand_in.rollbacks()) == 1


async def test_a_rollback_that_vercel_refuses_says_why(stand_in: StandIn) -> None:
    client = HostingClient(hosting(stand_in.vercel), timeout=2.0)
    try:
        current = stand_in.world.deployments.current_uid
        with pytest.raises(HostingError) as already:
            await client.rollback(cred.VERCEL_PROJECT_ID, current, "drill")
        assert already.value.status == 409 and already.value.code == "conflict"
        assert "already the current production deployment" in already.value.reason
        with pytest.raises(HostingError, match="with 404: not_found: Deployment not found"):
            await client.rollback(cred.VERCEL_PROJECT_ID, "dpl_nope", "drill")
        with pytest.raises(HostingError, match="not a deployment id"):
            await client.rollback(cred.VERCEL_PROJECT_ID, "../v2/user", "drill")
        assert all(r["method"] == "POST" for r in stand_in.rollbacks())
        assert len(stand_in.rollbacks()) == 2  # the bad id never left the cockpit
        assert stand_in.world.deployments.current_uid == current
    finally:
        await client.aclose()


async def test_wait_until_live_is_bounded(stand_in: StandIn) -> None:
    client = HostingClient(hosting(stand_in.vercel), timeout=2.0)
    never = stand_in.world.deployments.all()[2].uid
    started = time.monotonic()
    try:
        with pytest.raises(HostingError, match=f"deployment {never} not live within 0.3s"):
            await client.wait_until_live(never, within=0.3, interval=0.05)
    finally:
        await client.aclose()
    assert time.monotonic() - started < 2.0


async def test_a_wrong_token_is_rejected_without_showing_it(
        stand_in: StandIn, probe_of: Callable[..., DeploymentsProbe]) -> None:
    probe = probe_of(hosting(stand_in.vercel, token=TOKEN))
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    assert caught.value.reason == (f"Vercel token rejected: it may not reach project "
                                   f"{cred.VERCEL_PROJECT_ID} (403): forbidden: Not authorized")
    assert TOKEN not in caught.value.reason


async def test_an_unknown_project_is_not_found(
        stand_in: StandIn, probe_of: Callable[..., DeploymentsProbe]) -> None:
    probe = probe_of(hosting(stand_in.vercel, project="prj_gone"))
    with pytest.raises(TargetUnavailable, match=r"Vercel project prj_gone not found \(404\)"):
        await probe.check()


# --- hostile servers --------------------------------------------------------------------------

NOW_MS = int(time.time() * 1000)


def listing(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"pagination": {"count": len(entries)}, "deployments": list(entries)}


def deployment(uid: str, hours_ago: float, **extra: Any) -> dict[str, Any]:
    return {"uid": uid, "url": f"{uid.replace('_', '-')}.vercel.app", "state": "READY",
            "created": NOW_MS - int(hours_ago * 3600_000), "target": "production",
            "meta": {"githubCommitSha": "ab" * 20}, "isRollbackCandidate": True, **extra}


Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hostile:
    url: str
    seen: list[dict[str, Any]]


@pytest.fixture
async def hostile() -> AsyncIterator[Callable[[Answer], Awaitable[Hostile]]]:
    async with contextlib.AsyncExitStack() as stack:
        async def start(answer: Answer) -> Hostile:
            seen: list[dict[str, Any]] = []

            async def handler(request: web.Request) -> web.StreamResponse:
                seen.append({"path": request.path, "query": dict(request.query),
                             "auth": request.headers.get("Authorization")})
                return await answer(request)

            url = await stack.enter_async_context(serve_handler(handler))
            return Hostile(url, seen)

        yield start


async def failed(probe: DeploymentsProbe) -> TargetUnavailable:
    """The check's TargetUnavailable, checked to be one safe line without the token."""
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    reason = caught.value.reason
    assert TOKEN not in reason and "\n" not in reason and "\x1b" not in reason
    return caught.value


def just(status: int, body: Any = None, *, text: str | None = None,
         content_type: str = "application/json", headers: dict[str, str] | None = None,
         ) -> Answer:
    async def answer(_: web.Request) -> web.StreamResponse:
        if text is not None:
            return web.Response(status=status, text=text, content_type=content_type,
                                headers=headers)
        return web.json_response(body, status=status, headers=headers)
    return answer


@pytest.mark.parametrize(("answer", "reason"), [
    (just(401, {"error": {"code": "unauthorized", "message": "Missing token"}}),
     "Vercel token rejected (401): unauthorized: Missing token"),
    (just(403, {"error": {"code": "forbidden", "message": f"bad token {TOKEN}"}}),
     f"Vercel token rejected: it may not reach project {PROJECT} (403): forbidden: "
     f"bad token [{fingerprint(TOKEN)}]"),
    (just(500, text="<html><h1>Internal Server Error</h1></html>", content_type="text/html"),
     "Vercel API answered the request with 500 (text/html, not JSON)"),
    (just(503, {"error": {"code": "internal_error", "message": "down\x1b[2J for\nmaintenance"}}),
     "Vercel API answered the request with 503: internal_error: down for maintenance"),
    (just(200, text="<!doctype html><title>Vercel</title>", content_type="text/html"),
     "Vercel API answered badly: the deployments list is not JSON (text/html)"),
    (just(200, {"deployments": {"dpl_1": {}}}),
     "Vercel API answered badly: the deployments answer's `deployments` is an object, "
     "not a list"),
    (just(200, [1, 2]), "Vercel API answered badly: the deployments answer is a list, "
                        "not an object"),
    (just(200, text="[" * 200_000 + "]" * 200_000),
     "Vercel API answered badly: the deployments list is JSON nested too deeply"),
])
async def test_hostile_answers_are_one_clear_line(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe], answer: Answer, reason: str) -> None:
    server = await hostile(answer)
    error = await failed(probe_of(hosting(server.url, token=TOKEN, project=PROJECT)))
    assert error.reason == reason


async def test_429_says_when_to_ask_again(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    reset = int(time.time()) + 40
    server = await hostile(just(429, {"error": {"code": "rate_limited", "message": "Slow",
                                                "limit": {"remaining": 0, "reset": reset}}},
                                headers={"X-RateLimit-Reset": str(reset)}))
    error = await failed(probe_of(hosting(server.url, token=TOKEN, project=PROJECT)))
    assert error.reason.startswith("Vercel API rate limit reached; retry in ")
    assert error.retry_after is not None and 35 <= error.retry_after <= 41
    body_only = await hostile(just(429, {"error": {"code": "rate_limited", "limit": {
        "reset": reset}}}))
    error = await failed(probe_of(hosting(body_only.url, token=TOKEN, project=PROJECT)))
    assert error.retry_after is not None and 35 <= error.retry_after <= 41


async def test_the_runner_shows_a_rejected_token_as_unavailable_with_its_retry_after(
        hostile: Callable[[Answer], Awaitable[Hostile]]) -> None:
    server = await hostile(just(429, {"error": {"code": "rate_limited"}},
                                headers={"Retry-After": "30"}))
    runner = ProbeRunner([DeploymentsProbe(hosting(server.url, token=TOKEN, project=PROJECT),
                                           SETTINGS)])
    try:
        (reading,) = await runner.sweep()
    finally:
        await runner.stop()
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.retry_after == 30.0
    assert reading.summary == "Vercel API rate limit reached; retry in 30s"


async def test_a_body_too_large_is_not_read(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"deployments": [')
        for _ in range(5 * 1024):  # 5 MiB, no Content-Length
            await response.write(b" " * 1024)
        return response

    for answer in (endless, just(200, text="x" * (5 * 1024 * 1024))):
        server = await hostile(answer)
        error = await failed(probe_of(hosting(server.url, token=TOKEN, project=PROJECT)))
        assert error.reason == "Vercel API answer is larger than 4194304 bytes"


async def test_a_redirect_elsewhere_is_never_followed_with_the_token(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    elsewhere = await hostile(just(200, listing(deployment("dpl_x", 1))))
    where = elsewhere.url.replace("127.0.0.1", "localhost")

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{where}{request.path_qs}")

    server = await hostile(redirect)
    probe = probe_of(hosting(server.url, token=TOKEN, project=PROJECT))
    error = await failed(probe)
    assert error.reason.startswith("Vercel API redirected the request (HTTP 302 to "
                                   "localhost:")
    assert error.reason.endswith("not followed: the token stays with the configured API")
    assert elsewhere.seen == []
    client = probe.client
    with pytest.raises(HostingError, match="redirected the rollback to dpl_x"):
        await client.rollback(PROJECT, "dpl_x", "drill")
    assert elsewhere.seen == [] and all(s["auth"] == f"Bearer {TOKEN}" for s in server.seen)


async def test_future_deployments_are_ignored_and_reported(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    future = deployment("dpl_future", -5.5)  # five and a half hours from now
    now = deployment("dpl_now", 2)
    deployments = listing(future, now, deployment("dpl_then", 26))

    async def api(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v9/projects/"):
            return web.json_response({"targets": {"production": now}})
        return web.json_response(deployments)

    server = await hostile(api)
    reading = await probe_of(hosting(server.url, token=TOKEN, project=PROJECT)).check()
    assert reading.status is Status.HEALTHY
    assert (reading.details["uid"], reading.details["previous"]["uid"]) == \
        ("dpl_now", "dpl_then")
    assert reading.summary == ("live dpl_now · abababa · 2h · previous dpl_then · abababa · "
                               "deployment dpl_future: created 5h in the future (ignored)")


async def test_without_the_project_the_newest_ready_one_is_a_guess_and_said_so(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    server = await hostile(just(200, listing(deployment("dpl_now", 2),
                                             deployment("dpl_then", 26))))
    reading = await probe_of(hosting(server.url, token=TOKEN, project=PROJECT)).check()
    assert reading.status is Status.DEGRADED
    assert reading.details["uid"] == "dpl_now"
    assert reading.summary == ("live dpl_now · abababa · 2h · live deployment guessed "
                               "(newest READY) · the project names no production deployment")


async def test_the_project_decides_what_is_live(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    rolled_back_to = deployment("dpl_good", 26)
    deployments = listing(deployment("dpl_bad", 1), rolled_back_to,
                          deployment("dpl_older", 50), deployment("dpl_build", 0.1,
                                                                  state="BUILDING"))

    async def api(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v9/projects/"):
            return web.json_response({"id": PROJECT, "targets": {"production": {
                "id": "dpl_good", "url": "dpl-good.vercel.app", "readyState": "READY",
                "createdAt": rolled_back_to["created"], "target": "production"}}})
        return web.json_response(deployments)

    server = await hostile(api)
    reading = await probe_of(hosting(server.url, token=TOKEN, project=PROJECT)).check()
    assert reading.status is Status.HEALTHY, reading.summary
    assert (reading.details["uid"], reading.details["previous"]["uid"]) == \
        ("dpl_good", "dpl_older")
    assert reading.details["sha"] is None  # the project's target carries no git meta here
    assert reading.summary.startswith("live dpl_good · no SHA · 26h")


@pytest.mark.parametrize(("entries", "status", "summary"), [
    ([deployment("dpl_only", 3)], Status.DEGRADED,
     "no previous READY deployment: a rollback has nowhere to go"),
    ([], Status.UNKNOWN, "no READY production deployment found"),
    ([deployment("dpl_err", 1, state="ERROR")], Status.UNKNOWN,
     "no READY production deployment found"),
])
async def test_what_a_rollback_could_not_do_is_said(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe], entries: list[dict[str, Any]],
        status: Status, summary: str) -> None:
    async def api(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v9/projects/"):
            ready = [e for e in entries if e["state"] == "READY"]
            targets = {"production": ready[0]} if ready else {}
            return web.json_response({"id": PROJECT, "targets": targets})
        return web.json_response(listing(*entries))

    server = await hostile(api)
    reading = await probe_of(hosting(server.url, token=TOKEN, project=PROJECT)).check()
    assert reading.status is status and summary in reading.summary
    assert set(reading.details) == DETAIL_KEYS and reading.details["previous"] is None


async def test_a_live_deployment_in_error_is_unavailable(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    broken = deployment("dpl_err", 1, state="ERROR")
    ready = deployment("dpl_ok", 9)

    async def api(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v9/projects/"):
            return web.json_response({"targets": {"production": broken}})
        return web.json_response(listing(ready))

    server = await hostile(api)
    reading = await probe_of(hosting(server.url, token=TOKEN, project=PROJECT)).check()
    assert reading.status is Status.UNAVAILABLE
    assert "the live deployment is ERROR" in reading.summary


async def test_no_answer_in_time_and_connection_refused(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    never = asyncio.Event()

    async def silent(_: web.Request) -> web.StreamResponse:
        await never.wait()
        raise AssertionError("unreachable")

    server = await hostile(silent)
    probe = probe_of(hosting(server.url, token=TOKEN, project=PROJECT))
    started = time.monotonic()
    with pytest.raises(TargetUnavailable, match=r"Vercel API: no answer within 0\.\d+s"):
        await probe.check(time.monotonic() + 0.3)
    assert time.monotonic() - started < 1.5

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        refused = probe_of(hosting(f"http://127.0.0.1:{port}", token=TOKEN, project=PROJECT))
        error = await failed(refused)
    assert error.reason == f"Vercel API: connection refused by 127.0.0.1:{port}"


async def test_a_server_echoing_the_token_never_gets_it_shown(
        hostile: Callable[[Answer], Awaitable[Hostile]],
        probe_of: Callable[..., DeploymentsProbe]) -> None:
    echoed = deployment(TOKEN, 1)  # the token, as a deployment id
    cut = deployment("dpl_ok", 2) | {"state": f"{TOKEN[:20]}…"}

    async def api(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v9/projects/"):
            return web.json_response({"error": {"code": "internal",
                                                "message": f"token {TOKEN} broke"}},
                                     status=500)
        return web.json_response(listing(echoed, cut, deployment("dpl_prev", 30)))

    server = await hostile(api)
    reading = await probe_of(hosting(server.url, token=TOKEN, project=PROJECT)).check()
    shown = json.dumps(reading.details) + reading.summary
    assert TOKEN[:8] not in shown
    assert not any(TOKEN[i:i + 16] in shown for i in range(len(TOKEN) - 15))
    assert reading.details["uid"] == "dpl_prev"  # the echo and the cut token left out
    assert "project endpoint: Vercel API answered the request with 500: internal: token " \
        "[sha256:" in reading.summary


async def test_a_rollback_whose_answer_is_lost_may_have_happened(
        hostile: Callable[[Answer], Awaitable[Hostile]]) -> None:
    never = asyncio.Event()

    async def silent(_: web.Request) -> web.StreamResponse:
        await never.wait()
        raise AssertionError("unreachable")

    server = await hostile(silent)
    client = HostingClient(hosting(server.url, token=TOKEN, project=PROJECT), timeout=0.3)
    try:
        with pytest.raises(HostingError) as lost:
            await client.rollback(PROJECT, "dpl_x", "drill")
    finally:
        await client.aclose()
    assert lost.value.maybe_done is True and "no answer within" in lost.value.reason
    assert [s["path"] for s in server.seen] == [f"/v1/projects/{PROJECT}/rollback/dpl_x"]

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        refused = HostingClient(hosting(f"http://127.0.0.1:{port}", token=TOKEN,
                                        project=PROJECT), timeout=1.0)
        try:
            with pytest.raises(HostingError) as never_sent:
                await refused.rollback(PROJECT, "dpl_x", "drill")
        finally:
            await refused.aclose()
    assert never_sent.value.maybe_done is False


async def test_wait_until_live_stops_at_once_on_a_rejected_token(
        stand_in: StandIn) -> None:
    client = HostingClient(hosting(stand_in.vercel, token=TOKEN), timeout=2.0)
    started = time.monotonic()
    try:
        with pytest.raises(HostingError) as rejected:
            await client.wait_until_live("dpl_x", within=30.0, interval=0.05)
    finally:
        await client.aclose()
    assert rejected.value.status == 403 and time.monotonic() - started < 2.0


@pytest.mark.parametrize(("env", "message"), [
    (HostingEnvironment(api_url="http://127.0.0.1:9", project_id=PROJECT),
     "[environments.*.hosting] has no token"),
    (HostingEnvironment(api_url="http://127.0.0.1:9", project_id=PROJECT,
                        token="abc\r\nX-Injected: 1"),
     "the hosting token holds characters an HTTP header cannot carry"),
])
async def test_a_hosting_section_that_cannot_work_is_a_probe_problem(
        probe_of: Callable[..., DeploymentsProbe], env: HostingEnvironment,
        message: str) -> None:
    with pytest.raises(ProbeMisconfigured) as caught:
        await probe_of(env).check()
    assert str(caught.value).startswith(message)
    assert "abc" not in str(caught.value)


# --- check --json and build_probes ------------------------------------------------------------

def test_check_json_shows_the_documented_details(tmp_path: Path) -> None:
    from ppcockpit.rehearsal import start_stack

    with start_stack("calm", time_scale=10.0) as stack:
        result = subprocess.run(
            [sys.executable, "-m", "ppcockpit", "check", "--json", "--only", "deployments",
             "--config", str(stack.config_path)],
            capture_output=True, text=True, timeout=60, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        current = stack.current_deployment()
    assert result.returncode == 0, result.stderr
    probes = json.loads(result.stdout)["probes"]
    (reading,) = [p for p in probes if p["name"] == "deployments"]
    assert reading["status"] == "healthy"
    assert set(reading["details"]) == DETAIL_KEYS
    assert reading["details"]["uid"] == current["uid"]
    assert reading["details"]["sha"] == current["sha"]
    assert set(reading["details"]["previous"]) == {"uid", "url", "sha"}
    assert reading["metrics"] == {"age_s": reading["details"]["age_s"]}
    assert cred.VERCEL_TOKEN not in result.stdout


def test_without_a_hosting_section_the_probe_is_not_configured(tmp_path: Path) -> None:
    from ppcockpit.cli import build_probes
    from ppcockpit.config import load_config

    path = write_config(tmp_path, {"base_url": "http://127.0.0.1:9"})
    probes, fixed = build_probes(load_config(path, environ={}))
    assert "deployments" not in [p.name for p in probes]
    (skipped,) = [r for r in fixed if r.probe == "deployments"]
    assert skipped.status is Status.SKIPPED
    assert skipped.summary == "not configured: no [environments.*.hosting]"
    configured = write_config(tmp_path, {"base_url": "http://127.0.0.1:9", "hosting": {
        "project_id": PROJECT, "token": "${VERCEL_TOKEN}"}})
    probes, fixed = build_probes(load_config(configured, environ={"VERCEL_TOKEN": TOKEN}))
    assert "deployments" in [p.name for p in probes]
    assert "deployments" not in [r.probe for r in fixed]


# --- the rehearsal stack: the drill's bad deploy is undone by a rollback ----------------------

async def test_rolling_back_the_failure_spike_deploy_recovers_the_ratio_and_the_version(
        ) -> None:
    from ppcockpit.config import load_config
    from ppcockpit.rehearsal import start_stack
    from probes.posthog import PosthogProbe

    with start_stack(sc.FAILURE_SPIKE, time_scale=10.0) as stack:
        config = load_config(stack.config_path, environ={})
        env = config.environment
        assert env.hosting is not None and env.posthog is not None
        deployments = DeploymentsProbe(env.hosting, config.probes.deployments)
        posthog = PosthogProbe(env.posthog, config.probes.posthog, now=stack.clock.now)
        try:
            stack.advance(10 * 60)
            spiking = await posthog.check()
            assert spiking.status is Status.UNAVAILABLE, spiking.summary
            bad = stack.current_deployment()
            before = await deployments.check()
            assert before.details["uid"] == bad["uid"]
            target = before.details["previous"]["uid"]

            await deployments.client.rollback(env.hosting.project_id, target, "drill")
            await deployments.client.wait_until_live(target, within=5.0, interval=0.05)
            stack.advance(16 * 60)  # a whole window after the rollback
            recovered = await posthog.check()
            after = await deployments.check()
        finally:
            await deployments.aclose()
            await posthog.aclose()
        rollbacks = [r for r in stack.hosting_requests() if r["method"] == "POST"]
        assert [r["path"].rsplit("/", 1)[-1] for r in rollbacks] == [target]
        assert recovered.status is Status.HEALTHY, recovered.summary
        assert recovered.metrics["ratio"] < 0.02
        assert after.details["uid"] == target == stack.current_deployment()["uid"]
        assert sc.FAILURE_SPIKE not in stack.active_faults()
        async with httpx.AsyncClient() as http:
            health = await http.get(env.base_url + "/api/health")
        assert health.status_code == 200 and health.json()["data"]["status"] == "ok"
        assert health.headers["x-deployment-id"] == target
        assert health.headers["x-app-version"] == stack.current_deployment()["version"]
        assert health.headers["x-app-version"] != bad["version"]


async def test_the_rehearsal_staging_environment_reads_its_own_stand_ins() -> None:
    from ppcockpit.config import load_config
    from ppcockpit.rehearsal import start_stack
    from probes.posthog import PosthogProbe

    with start_stack(sc.FAILURE_SPIKE, time_scale=10.0) as stack:
        config = load_config(stack.config_path, environ={})
        staging = config.environment_config("staging")
        assert staging.hosting is not None and staging.posthog is not None
        assert staging.base_url == stack.endpoints["staging_app"]
        assert staging.posthog.project_id == cred.POSTHOG_STAGING_PROJECT_ID
        deployments = DeploymentsProbe(staging.hosting, config.probes.deployments)
        posthog = PosthogProbe(staging.posthog, config.probes.posthog, now=stack.clock.now)
        try:
            stack.advance(10 * 60)  # production spikes; staging has no such deploy
            soaked, ratio = await asyncio.gather(deployments.check(), posthog.check())
        finally:
            await deployments.aclose()
            await posthog.aclose()
        assert soaked.status is Status.HEALTHY, soaked.summary
        assert soaked.details["uid"] == stack.current_deployment("staging")["uid"]
        assert soaked.metrics["age_s"] > 86400  # "soaked in staging 24 h" passes in calm
        assert ratio.status is Status.HEALTHY, ratio.summary
        assert ratio.metrics["requests"] >= config.probes.posthog.min_requests
        async with httpx.AsyncClient() as http:
            health = await http.get(staging.base_url + "/api/health")
        assert health.status_code == 200
        assert health.headers["x-deployment-id"] == soaked.details["uid"]
