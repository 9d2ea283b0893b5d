"""The PostHog probe against a loopback stand-in that answers like PostHog's query API."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web

from ppcockpit.config_model import PosthogEnvironment, PosthogProbeConfig
from ppcockpit.model import Failure, ProbeMisconfigured, Reading, Status, TargetUnavailable
from ppcockpit.runner import ProbeRunner
from probes.posthog import PosthogProbe, build_query
from tests.support.http_stub import serve_app

KEY = "phx_SuperSecretPersonalKey0123456789"
PROJECT = "4242"
# The stand-in and the probe's clock run on "accelerated time" three hours ahead, as in a
# rehearsal (the probe is given the environment's clock; it never takes the server's word).
AHEAD = 3 * 3600
END = (datetime.now(UTC) + timedelta(seconds=AHEAD)).replace(second=0, microsecond=0)


def ahead() -> float:
    """The probe's clock: half a minute into END, whenever the test runs."""
    return END.timestamp() + 30


def at(offset: int) -> datetime:
    return END + timedelta(minutes=offset)


def rows(spec: dict[int, tuple[int, int]]) -> list[list[Any]]:
    """{minute offset from END: (completed, failed)} as PostHog rows, newest first."""
    return [[at(off).strftime("%Y-%m-%dT%H:%M:%SZ"), c, f]
            for off, (c, f) in sorted(spec.items(), reverse=True)]


def spread(completed: int, failed: int,
           minutes: range = range(-10, 0)) -> dict[int, tuple[int, int]]:
    """Totals spread over `minutes` (default: the newest ten whole ones: END is filling)."""
    n = len(minutes)
    return {off: (completed // n + (i < completed % n), failed // n + (i < failed % n))
            for i, off in enumerate(minutes)}


def drf(status: int, code: str, detail: str, kind: str = "validation_error",
        headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"type": kind, "code": code, "detail": detail, "attr": None},
                             status=status, headers=headers)


class PostHogStandIn:
    """Answers /query/ and /annotations/ exactly like the contract; counts what it saw."""

    def __init__(self) -> None:
        self.results: list[list[Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.query_reply: Callable[[], web.StreamResponse] | None = None  # an error instead
        self.annotation_reply: Callable[[], web.StreamResponse] | None = None
        self.queries: list[dict[str, Any]] = []
        self.annotation_requests = 0
        self.authorizations: set[str] = set()
        self.hanging = False  # queries wait until the test ends
        self.hang = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/api/projects/{PROJECT}/query/", self.query)
        app.router.add_get(f"/api/projects/{PROJECT}/annotations/", self.annotation_list)
        return app

    async def query(self, request: web.Request) -> web.StreamResponse:
        self.authorizations.add(request.headers.get("Authorization", ""))
        self.queries.append(await request.json())
        if self.hanging:
            await self.hang.wait()
        if self.query_reply is not None:
            return self.query_reply()
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return drf(401, "authentication_failed", "Invalid personal API key.",
                       "authentication_error")
        return web.json_response({
            "results": self.results, "columns": ["minute", "completed", "failed"],
            "types": [["minute", "DateTime('UTC')"], ["completed", "UInt64"],
                      ["failed", "UInt64"]],
            "hasMore": False, "limit": 32, "offset": 0,
            "hogql": self.queries[-1]["query"]["query"], "is_cached": False,
            "last_refresh": END.isoformat(), "next_allowed_client_refresh": END.isoformat(),
        })

    async def annotation_list(self, request: web.Request) -> web.StreamResponse:
        self.annotation_requests += 1
        if self.annotation_reply is not None:
            return self.annotation_reply()
        assert request.query.get("limit") == "20"
        return web.json_response({"count": len(self.annotations), "next": None,
                                  "previous": None, "results": self.annotations})


@pytest.fixture
async def posthog() -> AsyncIterator[tuple[PostHogStandIn, str]]:
    stand_in = PostHogStandIn()
    async with serve_app(stand_in.app()) as base_url:
        yield stand_in, base_url
        stand_in.hang.set()


def make_probe(base_url: str, clock: Callable[[], float] = ahead,
               **settings: Any) -> PosthogProbe:
    env = PosthogEnvironment(host=base_url, project_id=PROJECT, api_key=KEY)
    return PosthogProbe(env, PosthogProbeConfig.from_dict(settings), now=clock)


def all_text(item: Reading | BaseException) -> str:
    return repr(item) + str(item)


# -- the good cases ------------------------------------------------------------------------

async def test_healthy(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(476, 4))
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is Status.HEALTHY and reading.failure is Failure.NONE
    assert reading.probe == "posthog" and reading.target == f"{url} project {PROJECT}"
    assert reading.summary == "failure ratio 0.8% · 4/480 failed (15m)"
    assert reading.metrics == {"ratio": 4 / 480, "completed": 476, "failed": 4, "requests": 480,
                               "ratio_before": None, "ratio_after": None, "delta": None,
                               "data_age_s": 0.0}
    series = reading.details["series"]
    assert len(series) == 30 and series[-1]["minute"] == END.isoformat()
    assert [s["minute"] for s in series] == sorted(s["minute"] for s in series)
    assert reading.details | {"series": None} == reading.details | {
        "series": None, "deploy_at": None, "window_s": 900.0, "ratio_warn": 0.02,
        "ratio_crit": 0.05, "cached": False, "stale": False, "retry_after_s": None}
    # One HogQL query, the documented body, our own LIMIT, twice the window.
    (sent,) = stand_in.queries
    assert sent["refresh"] == "blocking" and sent["query"]["kind"] == "HogQLQuery"
    hogql = sent["query"]["query"]
    assert "INTERVAL 30 MINUTE" in hogql and "LIMIT 32" in hogql
    assert "'i_chat_completed'" in hogql and "'i_request_failed'" in hogql
    assert stand_in.authorizations == {f"Bearer {KEY}"}


@pytest.mark.parametrize(("completed", "failed", "status", "summary"), [
    (485, 15, Status.DEGRADED, "failure ratio 3% > 2% · 15/500 requests failed (15m)"),
    (463, 37, Status.UNAVAILABLE, "failure ratio 7.4% > 5% · 37/500 requests failed (15m)"),
    (12, 0, Status.UNKNOWN, "inconclusive: 12 requests in 15m (fewer than 20)"),
    (0, 0, Status.UNKNOWN, "inconclusive: 0 requests in 15m (fewer than 20)"),
    (5, 10, Status.UNKNOWN, "inconclusive: 15 requests in 15m (fewer than 20)"),
])
async def test_thresholds(posthog, completed: int, failed: int, status: Status,
                          summary: str) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(completed, failed)) if completed + failed else []
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is status and reading.summary == summary
    assert reading.failure is Failure.NONE
    assert reading.metrics["requests"] == completed + failed
    if status is Status.UNKNOWN:
        assert reading.metrics["ratio"] is None  # never a reassuring 0%


async def test_the_minute_still_filling_cannot_tip_the_verdict_alone(posthog) -> None:
    # A quiet quarter hour, 30 requests without a failure; the minute begun 30 s ago holds
    # 2 failures in 6 requests. Counted, 2/34 (5.9%) would be a NO-GO from half a minute.
    stand_in, url = posthog
    stand_in.results = rows(spread(30, 0, range(-15, 0)) | {0: (4, 2)})
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is Status.HEALTHY and reading.label is None
    assert reading.summary == "failure ratio 0% · 0/30 failed (15m)"
    assert reading.details["series"][-1] == {"minute": END.isoformat(), "completed": 4,
                                             "failed": 2, "filling": True}


async def test_a_breach_says_which_line_only_while_it_is_the_verdict(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(463, 37))
    probe = make_probe(url)
    critical = await probe.check()
    assert (critical.status, critical.label) == (Status.UNAVAILABLE, "failures > 5%")
    stand_in.query_reply = lambda: drf(429, "throttled", "slow down", "throttled",
                                       headers={"Retry-After": "30"})
    limited = await probe.check()  # the cached verdict, still over the line
    assert (limited.status, limited.label) == (Status.UNAVAILABLE, "failures > 5%")
    down = make_probe(url)
    stand_in.query_reply = None
    await down.check()
    stand_in.query_reply = lambda: drf(500, "server_error", "boom", "server_error")
    failed = await down.check()  # PostHog is down: that, not the old ratio, is the status
    await probe.aclose()
    await down.aclose()
    assert failed.status is Status.UNAVAILABLE and failed.label is None


async def test_recovering_is_said_with_its_wait(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(400, 100, range(-15, -10)) | spread(990, 10, range(-10, 0)))
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    # 110/1500: over 5% for two more minutes, the first ending 30 s from now.
    assert reading.status is Status.UNAVAILABLE and reading.label == "failures > 5%"
    assert reading.summary.startswith(
        "failure ratio 7.3% > 5% · recovering: last 3m at 1%; 15m window ≤ 5% "
        "in ~2m · 110/1500")


async def test_requests_before_the_window_do_not_count(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(900, 0, range(-29, -15)) | spread(4, 0, range(-4, 0)))
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is Status.UNKNOWN and reading.metrics["requests"] == 4
    assert sum(m["completed"] for m in reading.details["series"]) == 904


async def test_event_names_and_window_come_from_the_config(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(100, 1, range(-5, 0)) | spread(900, 900, range(-10, -5)))
    probe = make_probe(url, success_event="reply's done", failure_event="oops",
                       window="5m", min_requests=10)
    reading = await probe.check()
    await probe.aclose()
    hogql = stand_in.queries[0]["query"]["query"]
    assert "'reply\\'s done'" in hogql and "'oops'" in hogql and "INTERVAL 10 MINUTE" in hogql
    assert len(reading.details["series"]) == 10 and reading.details["window_s"] == 300.0
    assert reading.summary.endswith("(5m)") and reading.metrics["requests"] == 101


async def test_the_window_ends_at_the_local_clock_when_the_server_is_not_ahead(posthog) -> None:
    stand_in, url = posthog
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    stand_in.results = [[(now - timedelta(minutes=k)).isoformat(), 50, 1] for k in range(2, 7)]
    stand_in.results.append([(now - timedelta(minutes=40)).isoformat(), 999, 999])  # too old
    probe = make_probe(url, clock=time.time)
    reading = await probe.check()
    await probe.aclose()
    assert reading.metrics["requests"] == 255 and reading.metrics["failed"] == 5
    assert reading.details["series"][-1]["minute"] >= now.isoformat()


# -- the deploy marker and before/after -----------------------------------------------------

async def test_before_after_from_the_newest_deploy_annotation(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(990, 10, range(-10, -5)) | spread(940, 60, range(-5, 0)))
    stand_in.annotations = [
        {"id": 1, "content": "deploy v41", "date_marker": at(-12).isoformat(), "scope": "project"},
        {"id": 2, "content": "Deploy v42 (sha 1a2b3c)",
         "date_marker": at(-5).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "scope": "project"},
        {"id": 3, "content": "coffee break", "date_marker": at(-1).isoformat()},
        {"id": 4, "content": "Deploy bad date", "date_marker": "soon"},
        "not an annotation",
    ]
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.details["deploy_at"] == at(-5).isoformat()
    assert reading.metrics["ratio_before"] == 0.01 and reading.metrics["ratio_after"] == 0.06
    assert reading.metrics["delta"] == pytest.approx(0.05)
    assert reading.status is Status.DEGRADED
    assert reading.summary == ("failure ratio 3.5% > 2% · 70/2000 requests failed (15m)"
                               " · after deploy 6% vs 1% before")
    assert stand_in.annotation_requests == 1


async def test_mark_deploy_and_the_newer_marker_wins(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(600, 0, range(-5, -2)) | spread(570, 30, range(-2, 1)))
    probe = make_probe(url)
    probe.mark_deploy(at(-2) + timedelta(seconds=20))
    reading = await probe.check()
    assert reading.details["deploy_at"] == (at(-2) + timedelta(seconds=20)).isoformat()
    assert reading.metrics["ratio_before"] == 0.0 and reading.metrics["ratio_after"] == 0.05
    assert "after deploy 5% vs 0% before" in reading.summary
    # A newer annotation wins over the recorded deploy; an older one does not.
    stand_in.annotations = [{"id": 9, "content": "DEPLOY hotfix", "date_marker": at(-1)
                             .replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")}]
    assert (await probe.check()).details["deploy_at"] == at(-1).isoformat()
    probe.mark_deploy((at(0) + timedelta(seconds=5)).replace(tzinfo=None))
    assert (await probe.check()).details["deploy_at"] == (at(0) + timedelta(seconds=5)).isoformat()
    await probe.aclose()


@pytest.mark.parametrize("reply", [
    lambda: web.Response(status=500, text="<html>oops</html>", content_type="text/html"),
    lambda: web.json_response({"results": "nope"}),
    lambda: web.Response(text="not json"),
])
async def test_a_broken_annotation_list_only_loses_the_marker(posthog, reply) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(480, 4))
    stand_in.annotation_reply = reply
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is Status.HEALTHY and reading.details["deploy_at"] is None


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "hint"), [(401, ""), (403, "query:read")])
async def test_a_rejected_key_is_asked_about_once(posthog, status: int, hint: str) -> None:
    stand_in, url = posthog
    stand_in.query_reply = lambda: drf(status, "authentication_failed",
                                       f"Invalid personal API key {KEY}.",
                                       "authentication_error")
    probe = make_probe(url)
    runner = ProbeRunner([probe])
    readings = [await runner.run_once(probe) for _ in range(4)]
    await probe.aclose()
    assert len(stand_in.queries) == 1 and stand_in.annotation_requests == 0
    for reading in readings:
        assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
        assert reading.summary.startswith("PostHog key rejected") and hint in reading.summary
        assert KEY not in all_text(reading)


async def test_rate_limited_with_a_cached_answer_shows_it_stale(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(476, 4))
    probe = make_probe(url)
    fresh = await probe.check()
    stand_in.query_reply = lambda: drf(429, "throttled", "Request was throttled.", "throttled",
                                       headers={"Retry-After": "30"})
    limited = await probe.check()
    assert limited.status is Status.HEALTHY and limited.retry_after == 30
    assert limited.details["stale"] is True and limited.details["cached"] is True
    assert limited.details["retry_after_s"] == 30
    assert limited.details["series"] == fresh.details["series"]
    assert limited.summary.startswith(fresh.summary)
    assert limited.summary.endswith(" · from the cache (rate limited, retry in 30s)")
    assert "stale" not in limited.summary  # the age is said where it can grow: freshness
    assert 0 <= limited.metrics["data_age_s"] < 5
    # Asked again before Retry-After has passed: the cache, without a new request.
    again = await probe.check()
    await probe.aclose()
    assert len(stand_in.queries) == 2
    assert again.details["stale"] is True and 0 < (again.retry_after or 0) <= 30


async def test_rate_limited_without_cache(posthog) -> None:
    stand_in, url = posthog
    when = datetime.now(UTC) + timedelta(seconds=120)
    stand_in.query_reply = lambda: drf(429, "throttled", "slow down", "throttled",
                                       headers={"Retry-After": format_datetime(when, usegmt=True)})
    probe = make_probe(url)
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    await probe.aclose()
    assert caught.value.reason == "rate limited by PostHog"
    assert 100 <= (caught.value.retry_after or 0) <= 121


async def test_server_error_keeps_the_cached_series(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(463, 37))
    probe = make_probe(url)
    fresh = await probe.check()
    stand_in.query_reply = lambda: drf(500, "server_error", "A server error occurred.",
                                       "server_error")
    failed = await probe.check()
    assert failed.status is Status.UNAVAILABLE and failed.failure is Failure.TARGET
    assert failed.error == "PostHog answered HTTP 500: server_error"
    assert failed.details["series"] == fresh.details["series"]
    assert failed.details["stale"] is True and failed.metrics["failed"] == 37
    assert failed.summary.startswith("PostHog answered HTTP 500: server_error · last "
                                     "answer, from the cache: failure ratio 7.4% > 5%")
    # Without a cached answer there is nothing to show but the reason.
    with pytest.raises(TargetUnavailable, match="HTTP 500"):
        await make_probe(url).check()
    await probe.aclose()


async def test_a_hung_query_times_out_and_keeps_the_cached_series(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(476, 4))
    probe = make_probe(url, interval="1s", timeout="300ms")
    fresh = await probe.check()
    stand_in.hanging = True
    runner = ProbeRunner([probe])
    reading = await runner.run_once(probe)  # the runner's own timeout must not fire first
    await probe.aclose()
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.error is not None and reading.error.startswith("PostHog did not answer within")
    assert reading.details["series"] == fresh.details["series"]
    assert reading.details["stale"] is True


async def test_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    probe = make_probe(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    await probe.aclose()
    assert caught.value.reason == (f"cannot reach PostHog at http://127.0.0.1:{closed_port}: "
                                   "connection refused")


async def test_a_hung_query_times_out_inside_the_probe_budget() -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post(f"/api/projects/{PROJECT}/query/", hang)
    async with serve_app(app) as url:
        probe = make_probe(url, interval="1s", timeout="300ms")
        started = time.monotonic()
        with pytest.raises(TargetUnavailable, match="did not answer within") as caught:
            await probe.check()
        assert time.monotonic() - started < 0.3  # before the runner's own timeout
        release.set()
        await probe.aclose()
    assert "\n" not in caught.value.reason


@pytest.mark.parametrize(("reply", "exception", "reason"), [
    (lambda: drf(400, "validation_error", "Unknown table `evnts`.\x1b[2J"), ProbeMisconfigured,
     "HogQL error: Unknown table `evnts`."),
    (lambda: drf(400, "invalid_input", "Unknown table `evnts`."), ProbeMisconfigured,
     "HogQL error: Unknown table `evnts`."),  # what PostHog sends: type validation_error
    (lambda: drf(400, "invalid_input", "bad", "invalid_request"), ProbeMisconfigured,
     "PostHog refused the query (HTTP 400): bad"),
    (lambda: drf(404, "not_found", "Not found.", "invalid_request"), ProbeMisconfigured,
     f"PostHog has no project {PROJECT}"),
    (lambda: web.Response(text="<!doctype html><h1>Login</h1>", content_type="text/html"),
     TargetUnavailable, "PostHog answered with an HTML page that is not JSON (text/html)"),
    (lambda: web.Response(status=502, text="<html>Bad gateway</html>",
                          content_type="text/html"),
     TargetUnavailable, "PostHog answered HTTP 502"),
    (lambda: web.json_response(["a", "list"]), TargetUnavailable,
     "PostHog answered a JSON list, not an object"),
    (lambda: web.json_response({"detail": "?"}), TargetUnavailable,
     "PostHog answer has no 'results' list"),
    (lambda: web.json_response({"results": [["never", 1, 2], "x", [None, None, None]]}),
     TargetUnavailable, "none of the 3 rows PostHog sent could be read"),
    (lambda: drf(500, "server_error", f"boom {KEY}", "server_error"), TargetUnavailable,
     "PostHog answered HTTP 500: server_error"),
])
async def test_bad_answers_give_one_clear_line(posthog, reply, exception, reason: str) -> None:
    stand_in, url = posthog
    stand_in.query_reply = reply
    probe = make_probe(url)
    with pytest.raises(exception) as caught:
        await probe.check()
    runner_reading = await ProbeRunner([probe]).run_once(probe)
    await probe.aclose()
    message = str(caught.value)
    assert message.startswith(reason)
    assert "\n" not in message and "\x1b" not in message and KEY not in message
    assert "Traceback" not in runner_reading.summary and KEY not in all_text(runner_reading)
    expected = Status.UNKNOWN if exception is ProbeMisconfigured else Status.UNAVAILABLE
    assert runner_reading.status is expected


async def test_timestamps_with_and_without_zone_and_malformed_rows(posthog) -> None:
    stand_in, url = posthog
    plus_two = at(-1).astimezone(timezone(timedelta(hours=2)))
    stand_in.results = [
        [at(0).isoformat(), 100, 1],  # +00:00
        [plus_two.isoformat(), 100, 2],  # +02:00, the same instant as at(-1)
        [at(-2).replace(tzinfo=None).isoformat(), 100, 3],  # no zone: UTC
        [at(-3).strftime("%Y-%m-%d %H:%M:%S"), "100", 4],  # ClickHouse style, string count
        [at(-4).isoformat().replace("+00:00", "Z"), 100.0, 5],
        ["garbage", 1, 1], [at(-5).isoformat(), -3, 0], [at(-6).isoformat()], "row", None,
    ]
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    by_minute = {m["minute"]: m for m in reading.details["series"]}
    for offset, failed in ((0, 1), (-1, 2), (-2, 3), (-3, 4), (-4, 5)):
        filling = {"filling": True} if offset == 0 else {}
        assert by_minute[at(offset).isoformat()] == {"minute": at(offset).isoformat(),
                                                     "completed": 100, "failed": failed,
                                                     **filling}
    # The minute still filling (END, half a minute in) is shown, not counted.
    assert reading.metrics["requests"] == 414 and reading.details["skipped_rows"] == 5


async def test_window_longer_than_a_day_is_a_configuration_error(posthog) -> None:
    _, url = posthog
    probe = make_probe(url, window="25h", interval="1h")
    with pytest.raises(ProbeMisconfigured, match="longer than 24h"):
        await probe.check()


@pytest.mark.parametrize("reply", [
    lambda: drf(429, "throttled", KEY, "throttled", headers={"Retry-After": "1"}),
    lambda: drf(503, KEY, f"upstream said {KEY}", "server_error"),
    lambda: web.json_response({"results": [[KEY, KEY, KEY]]}),
])
async def test_the_key_never_appears_in_any_reading(posthog, reply) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(476, 4))
    probe = make_probe(url)
    runner = ProbeRunner([probe])
    good = await runner.run_once(probe)
    stand_in.query_reply = reply
    cached = await runner.run_once(probe)
    await probe.aclose()
    assert good.status is Status.HEALTHY and cached.details["stale"] is True
    assert KEY not in all_text(good) and KEY not in all_text(cached)


def test_query_text() -> None:
    query = build_query("a'b\\c", "fail", 30, 32)
    assert "'a\\'b\\\\c'" in query and "ORDER BY minute DESC LIMIT 32" in query


# -- fail closed: rows from the future, redirects, credentials, TLS, bombs ----------------

async def test_a_row_from_the_future_cannot_move_the_window(posthog) -> None:
    # A 50% failure window, and one row dated tomorrow: never "0%, GO".
    stand_in, url = posthog
    stand_in.results = rows(spread(250, 250) | {24 * 60: (1000, 0)})
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is Status.UNAVAILABLE, reading.summary
    assert reading.metrics["ratio"] == 0.5
    assert reading.summary.endswith(" · 1 row from the future ignored")
    assert reading.details["future_rows"] == 1
    assert reading.details["series"][-1]["minute"] == END.isoformat()


async def test_rows_from_the_future_make_a_good_window_degraded(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(476, 4) | {30: (5, 5), 60: (5, 5)})
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is Status.DEGRADED
    assert "failure ratio 0.8%" in reading.summary
    assert reading.summary.endswith("2 rows from the future ignored")


async def test_a_row_within_the_clock_skew_allowance_is_kept(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(476, 4) | {1: (10, 0)})  # one minute ahead
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert reading.status is Status.HEALTHY and reading.details["future_rows"] == 0
    # Kept and shown, but not counted before its minute is over by the environment's clock.
    assert reading.details["series"][-1] == {"minute": at(1).isoformat(), "completed": 10,
                                             "failed": 0, "filling": True}
    assert reading.metrics["requests"] == 480


async def test_a_deploy_annotation_from_the_future_is_ignored(posthog) -> None:
    stand_in, url = posthog
    stand_in.results = rows(spread(476, 4))
    stand_in.annotations = [{"id": 9, "content": "Deploy v99", "scope": "project",
                             "date_marker": at(24 * 60).isoformat()}]
    probe = make_probe(url)
    reading = await probe.check()
    await probe.aclose()
    assert probe.deploy_at is None
    assert reading.details["series"][-1]["minute"] == END.isoformat()


async def test_credentials_in_the_host_are_never_shown() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = make_probe(f"http://deploy:planted-host-pass@127.0.0.1:{port}")
    reading = await ProbeRunner([probe]).run_once(probe)
    await probe.aclose()
    assert "planted-host-pass" not in all_text(reading)
    assert reading.target == f"http://deploy:***@127.0.0.1:{port} project {PROJECT}"
    assert reading.summary == (f"cannot reach PostHog at http://deploy:***@127.0.0.1:{port}: "
                               "connection refused")


async def test_a_redirect_is_reported_and_the_key_never_sent_on(posthog) -> None:
    elsewhere = PostHogStandIn()
    async with serve_app(elsewhere.app()) as other:
        stand_in, url = posthog
        stand_in.query_reply = lambda: web.Response(
            status=307, headers={"Location": f"{other}/api/projects/{PROJECT}/query/?t=x"})
        probe = make_probe(url)
        with pytest.raises(TargetUnavailable) as caught:
            await probe.check()
        await probe.aclose()
    assert caught.value.reason == (
        f"PostHog answered 307: redirected to {other}/api/projects/{PROJECT}/query/?***, "
        f"not followed (the key is only ever sent to {url})")
    assert elsewhere.queries == [] and elsewhere.authorizations == set()


async def test_a_self_signed_certificate_says_so() -> None:
    import ssl

    import trustme

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_context)
    stand_in = PostHogStandIn()
    async with serve_app(stand_in.app(), ssl_context=server_context) as url:
        probe = make_probe(url)
        with pytest.raises(TargetUnavailable) as caught:
            await probe.check()
        await probe.aclose()
    assert caught.value.reason.startswith(
        f"cannot reach PostHog at {url}: TLS error: certificate verify failed (")


async def test_a_gzip_bomb_is_cut_off_at_the_cap(posthog) -> None:
    import gzip

    bomb = gzip.compress(b'{"results": [' + b" " * (64 * 1024 * 1024) + b"]}")
    stand_in, url = posthog
    stand_in.query_reply = lambda: web.Response(
        body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    probe = make_probe(url)
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    await probe.aclose()
    assert caught.value.reason == "PostHog answer is larger than 4 MiB"
