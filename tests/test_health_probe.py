"""HealthProbe against real HTTP stand-ins on 127.0.0.1 that answer like the app does."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
from aiohttp import web

from ppcockpit.config_model import HealthProbeConfig
from ppcockpit.model import Failure, Reading, Status, TargetUnavailable
from ppcockpit.probe import Probe
from ppcockpit.redis_server import free_port
from probes.health import HealthProbe
from tests.support.http_stub import Handler, serve_app, serve_handler
from tests.test_health_parse import EXAMPLE_200, example_payload

RID = "req-7f3a"


def config(**overrides: Any) -> HealthProbeConfig:
    return HealthProbeConfig.from_dict({"interval": "5s", "timeout": "2s", **overrides})


def json_response(body: Any, status: int = 200, request_id: str = RID,
                  content_type: str = "application/json") -> web.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return web.Response(text=text, status=status, content_type=content_type,
                        headers={"X-Request-ID": request_id})


def answering(body: Any, status: int = 200, **options: Any) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return json_response(body, status, **options)
    return handler


@asynccontextmanager
async def probe_for(handler: Handler, **overrides: Any) -> AsyncIterator[HealthProbe]:
    async with serve_handler(handler) as base_url:
        probe = HealthProbe(base_url, config(**overrides))
        try:
            yield probe
        finally:
            await probe.aclose()


async def check_once(handler: Handler, **overrides: Any) -> Reading:
    async with probe_for(handler, **overrides) as probe:
        return await probe.check()


def stats(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["dependencies"]["aiProviders"]["stats"]


def assert_one_line(text: str | None) -> None:
    assert text and "\n" not in text and "Traceback" not in text


# --- the app's own answers ------------------------------------------------------------------


async def test_documented_200_example() -> None:
    seen: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["path"], seen["accept"] = request.path, request.headers.get("Accept", "")
        return json_response(EXAMPLE_200)

    async with probe_for(handler) as probe:
        assert isinstance(probe, Probe)
        assert probe.target.endswith("/api/health") and probe.interval == 5 and probe.timeout == 2
        reading = await probe.check()
    assert seen == {"path": "/api/health", "accept": "application/json, application/health+json"}
    assert reading.status is Status.DEGRADED
    assert reading.summary == "degraded · anthropic degraded: rate limited"
    assert reading.failure is Failure.NONE and reading.error is None
    assert reading.request_id == RID
    assert [r.key for r in reading.rows] == [
        "supabase", "analytics", "ai:openai", "ai:anthropic", "ai:together", "ai:ollama"]
    openai = reading.rows[2]
    assert openai.extra == {"configured": True, "ignored": False, "successCount": 4,
                            "failureCount": 1, "degradedCount": 0}
    assert reading.metrics == {"http_status": 200, "providers_total": 4,
                               "providers_unavailable": 0, "providers_degraded": 1,
                               "alerting": 0}
    assert reading.details["format"] == "pocket-philosopher"
    assert reading.details["request_id"] == RID
    assert reading.details["dependencies"] == {"supabase": "healthy", "analytics": "healthy"}
    assert reading.details["providers"]["ollama"] == {
        "status": "skipped", "configured": False, "latency_ms": None,
        "consecutive_unavailable": 0, "alerting": False, "ignored": False}
    assert reading.details["providers"]["openai"]["latency_ms"] == 48
    json.dumps(reading.details)  # plain data, fit for check --json


async def test_all_healthy_summary_counts_providers() -> None:
    payload = example_payload()
    stats(payload)["anthropic"]["status"] = "healthy"
    reading = await check_once(answering({"success": True, "data": payload}))
    assert reading.status is Status.HEALTHY
    assert reading.summary == "ok · 4 providers (2 not configured)"


async def test_missing_provider_is_not_an_outage() -> None:
    payload = example_payload()
    stats(payload)["anthropic"]["status"] = "healthy"
    stats(payload)["together"] = {"status": "unavailable", "error": "no key"}
    reading = await check_once(answering({"success": True, "data": payload}))
    assert reading.status is Status.HEALTHY
    assert {r.key: r.status for r in reading.rows}["ai:together"] is Status.SKIPPED
    assert reading.metrics["providers_unavailable"] == 0


async def test_503_with_details_names_status_and_failing_dependency() -> None:
    payload = example_payload()
    payload["status"] = "degraded"
    payload["dependencies"]["supabase"] = {"status": "error", "latencyMs": None,
                                           "message": "connection refused"}
    stats(payload)["anthropic"]["status"] = "healthy"
    body = {"success": False, "error": "Health check failed", "details": payload}
    reading = await check_once(answering(body, 503, request_id="req-503"))
    assert reading.status is Status.UNAVAILABLE
    assert reading.failure is Failure.TARGET
    assert reading.summary == (
        "HTTP 503 · supabase error: connection refused · openai, anthropic healthy")
    assert reading.error == reading.summary
    assert reading.request_id == "req-503" and reading.details["request_id"] == "req-503"
    assert len(reading.rows) == 6
    assert reading.details["dependencies"]["supabase"] == "unavailable"
    assert reading.details["providers"]["openai"]["status"] == "healthy"
    assert reading.metrics["http_status"] == 503


async def test_500_without_dependencies() -> None:
    body = {"success": False, "error": "Service role client unavailable",
            "details": {"message": "Missing SUPABASE_SERVICE_ROLE_KEY"}}
    reading = await check_once(answering(body, 500))
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.summary == (
        "HTTP 500: Service role client unavailable — Missing SUPABASE_SERVICE_ROLE_KEY")
    assert reading.rows == () and reading.request_id == RID


async def test_404_is_unavailable() -> None:
    async def not_found(request: web.Request) -> web.Response:
        return web.Response(status=404, text="<html><title>404</title></html>",
                            content_type="text/html", headers={"X-Request-ID": "nf"})

    reading = await check_once(not_found)
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.summary == "HTTP 404 from /api/health"
    assert reading.request_id == "nf"


async def test_ignored_provider_shows_its_status_but_never_counts() -> None:
    payload = example_payload()
    stats(payload)["anthropic"]["status"] = "healthy"
    stats(payload)["openai"].update(status="unavailable", error={"message": "401 bad key"})
    async with probe_for(answering({"success": True, "data": payload}),
                         ignore_providers=["openai"]) as probe:
        readings = [await probe.check() for _ in range(4)]
    last = readings[-1]
    assert all(r.status is Status.HEALTHY for r in readings)
    openai = {r.key: r for r in last.rows}["ai:openai"]
    assert openai.status is Status.UNAVAILABLE and openai.extra["ignored"] is True
    assert openai.consecutive_failures == 4 and openai.alerting is False
    assert last.details["providers"]["openai"]["ignored"] is True
    assert last.metrics["providers_unavailable"] == 0 and last.metrics["alerting"] == 0
    assert last.summary == "ok · 4 providers (1 unavailable, 2 not configured, 1 ignored)"


async def test_consecutive_unavailable_alerts_on_the_third_check_and_resets() -> None:
    state = {"openai": "unavailable"}

    async def handler(request: web.Request) -> web.Response:
        payload = example_payload()
        stats(payload)["anthropic"]["status"] = "healthy"
        stats(payload)["openai"].update(status=state["openai"], error="timeout")
        return json_response({"success": True, "data": payload})

    async with probe_for(handler) as probe:
        readings = [await probe.check() for _ in range(3)]
        state["openai"] = "healthy"
        recovered = await probe.check()
    openai_rows = [{r.key: r for r in reading.rows}["ai:openai"] for reading in readings]
    assert [r.consecutive_failures for r in openai_rows] == [1, 2, 3]
    assert [r.alerting for r in openai_rows] == [False, False, True]
    # The go/no-go sees the outage at once; alerting is the separate team rule.
    assert all(r.status is Status.UNAVAILABLE for r in readings)
    assert readings[0].summary == "unavailable · openai unavailable: timeout"
    assert readings[2].metrics["alerting"] == 1
    assert readings[2].details["providers"]["openai"]["consecutive_unavailable"] == 3
    assert readings[2].details["providers"]["openai"]["alerting"] is True
    rows = {r.key: r for r in recovered.rows}
    assert rows["ai:openai"].consecutive_failures == 0 and not rows["ai:openai"].alerting
    assert recovered.status is Status.HEALTHY


async def test_a_failed_check_leaves_streaks_alone() -> None:
    state = {"broken": False}

    async def handler(request: web.Request) -> web.Response:
        if state["broken"]:
            return json_response("<html>oops</html>", content_type="text/html")
        payload = example_payload()
        stats(payload)["openai"]["status"] = "unavailable"
        return json_response({"success": True, "data": payload})

    async with probe_for(handler) as probe:
        await probe.check()
        state["broken"] = True
        broken = await probe.check()
        state["broken"] = False
        after = await probe.check()
    assert broken.rows == ()
    assert {r.key: r for r in after.rows}["ai:openai"].consecutive_failures == 2


async def test_control_characters_are_stripped() -> None:
    payload = example_payload()
    stats(payload)["anthropic"]["error"] = {"message": "rate\x1b[2J limited\nagain\x1b]0;pwn\x07"}
    reading = await check_once(answering({"success": True, "data": payload}))
    assert reading.summary == "degraded · anthropic degraded: rate limited again"
    assert {r.key: r for r in reading.rows}["ai:anthropic"].message == "rate limited again"


# --- other apps -----------------------------------------------------------------------------


async def test_ietf_health_json() -> None:
    body = {"status": "warn", "checks": {
        "db:responseTime": [{"componentId": "primary", "observedValue": 12,
                             "observedUnit": "ms", "status": "pass"},
                            {"componentId": "replica", "observedValue": 900,
                             "observedUnit": "ms", "status": "warn", "output": "lagging"}]}}
    reading = await check_once(answering(body, content_type="application/health+json"))
    assert reading.details["format"] == "ietf"
    assert reading.status is Status.DEGRADED
    assert [r.label for r in reading.rows] == ["db:responseTime (primary)",
                                               "db:responseTime (replica)"]
    assert reading.summary == "degraded · db:responseTime (replica) warn: lagging"
    assert reading.rows[0].latency_ms == 12


async def test_spring_boot_actuator() -> None:
    body = {"status": "DOWN", "components": {
        "db": {"status": "DOWN", "details": {"error": "org.postgresql.util.PSQLException"}},
        "ping": {"status": "UP"}}}
    reading = await check_once(answering(body, 503))
    assert reading.details["format"] == "spring"
    assert reading.status is Status.UNAVAILABLE
    assert reading.summary == "HTTP 503 · db DOWN: org.postgresql.util.PSQLException"
    assert reading.details["dependencies"] == {"db": "unavailable", "ping": "healthy"}


async def test_spring_all_up() -> None:
    reading = await check_once(answering({"status": "UP", "components": {"ping": {
        "status": "UP"}}}))
    assert reading.status is Status.HEALTHY and reading.summary == "ok · 1 component"


# --- bad answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "content_type", "summary"), [
    ("<html><head><title>Just a moment...</title></head></html>", "text/html",
     "not JSON (text/html): Just a moment..."),
    (EXAMPLE_200[:300], "application/json", "truncated JSON"),
    ('["ok"]', "application/json", "unexpected JSON shape: a list, expected an object"),
    ('{"success": true, "data": null}', "application/json",
     "unexpected JSON shape: data is null, expected an object"),
])
async def test_bad_bodies_are_one_line_unavailable(body: str, content_type: str,
                                                   summary: str) -> None:
    reading = await check_once(answering(body, content_type=content_type))
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.summary == summary and reading.error == summary
    assert reading.details["format"] == "invalid" and reading.request_id == RID


async def test_502_html_names_the_status() -> None:
    reading = await check_once(answering("<html><title>502 Bad Gateway</title></html>", 502,
                                         content_type="text/html"))
    assert reading.summary == "HTTP 502: not JSON (text/html): 502 Bad Gateway"


async def test_body_over_max_body_stops_reading() -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "X-Request-ID": "big"})
        await response.prepare(request)  # chunked: no Content-Length to warn the probe
        for _ in range(32):  # 2 MiB, then hold the connection open forever
            await response.write(b" " * 65536)
        await asyncio.Event().wait()
        return response

    started = time.monotonic()
    reading = await check_once(endless)
    elapsed = time.monotonic() - started
    assert reading.summary == "body larger than 1 MiB"
    assert reading.status is Status.UNAVAILABLE and reading.request_id == "big"
    # Reading on would hit the 2 s timeout ("timed out"): it stopped past 1 MiB instead.
    assert elapsed < 1.5


async def test_declared_content_length_over_max_body_is_not_read() -> None:
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    reading = await check_once(big, max_body=65536)
    assert reading.summary == "body larger than 64 KiB"


# --- transport failures ---------------------------------------------------------------------


async def expect_unavailable(base_url: str, **overrides: Any) -> TargetUnavailable:
    probe = HealthProbe(base_url, config(**overrides))
    try:
        with pytest.raises(TargetUnavailable) as caught:
            await probe.check()
    finally:
        await probe.aclose()
    assert_one_line(caught.value.reason)
    return caught.value


async def test_connection_refused() -> None:
    port = free_port()
    failure = await expect_unavailable(f"http://user:hunter2secret@127.0.0.1:{port}")
    assert failure.reason == f"connection refused by 127.0.0.1:{port}"
    assert "hunter2secret" not in str(failure)


async def test_the_environment_proxy_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # An engineer behind a corporate proxy: the request goes to the proxy, absolute URL and all.
    asked: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        asked.append(str(request.url))
        return json_response(EXAMPLE_200)

    async with serve_handler(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        probe = HealthProbe("http://app.pocketphilosopher.invalid", config())
        try:
            reading = await probe.check()
        finally:
            await probe.aclose()
    assert reading.request_id == RID
    assert asked == ["http://app.pocketphilosopher.invalid/api/health"]


async def test_no_proxy_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    reading = await check_once(answering(EXAMPLE_200))
    assert reading.request_id == RID


async def test_target_hides_credentials() -> None:
    probe = HealthProbe("http://user:hunter2secret@127.0.0.1:1", config())
    assert "hunter2secret" not in probe.target
    await probe.aclose()


async def test_dns_failure() -> None:
    failure = await expect_unavailable("http://nonexistent.invalid")
    assert failure.reason == "DNS lookup failed for nonexistent.invalid"


async def test_tls_to_a_plain_http_server() -> None:
    async with serve_handler(answering(EXAMPLE_200)) as base_url:
        failure = await expect_unavailable(base_url.replace("http://", "https://"))
    assert failure.reason.startswith("TLS error: ")


async def test_tls_certificate_from_an_untrusted_ca() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    async with serve_handler(answering(EXAMPLE_200), ssl_context=server_context) as base_url:
        failure = await expect_unavailable(base_url)
    assert failure.reason.startswith("TLS error: certificate verify failed (")


async def test_redirect_loop() -> None:
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/api/health")

    async with serve_handler(loop) as base_url:
        failure = await expect_unavailable(base_url)
    assert failure.reason == "redirect loop: more than 5 redirects"


async def test_a_redirect_off_http_is_the_targets_fault_and_hides_its_password() -> None:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://deploy:hunter2secret@files.example/health")

    async with serve_handler(handler) as base_url:
        failure = await expect_unavailable(base_url)
    assert failure.reason.startswith("redirected to ftp://deploy:***@files.example/health: "
                                     "another origin than http://127.0.0.1:")
    assert failure.reason.endswith(", not followed") and "hunter2secret" not in failure.reason


async def test_a_few_redirects_are_followed() -> None:
    async def hop(request: web.Request) -> web.Response:
        step = int(request.query.get("n", "0"))
        if step < 3:
            raise web.HTTPFound(f"/api/health?n={step + 1}")
        return json_response(EXAMPLE_200)

    reading = await check_once(hop)
    assert reading.status is Status.DEGRADED


async def test_slow_body_times_out_and_keeps_the_request_id() -> None:
    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"X-Request-ID": "slow-1"})
        await response.prepare(request)
        await response.write(b'{"success": ')
        await asyncio.Event().wait()
        return response

    async with serve_handler(stall) as base_url:
        failure = await expect_unavailable(base_url, timeout="300ms")
    assert failure.reason == "timed out after 0.3s"
    assert failure.request_id == "slow-1"


async def test_answer_cut_short_keeps_the_request_id() -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"X-Request-ID": "cut-1",
                                               "Content-Length": "5000"})
        await response.prepare(request)
        await response.write(b'{"success": true')
        request.transport.close()  # hang up mid-body
        return response

    async with serve_handler(cut) as base_url:
        failure = await expect_unavailable(base_url)
    assert failure.reason.startswith("answer cut short after 16 bytes")
    assert failure.request_id == "cut-1"


async def test_client_is_reopened_after_aclose() -> None:
    app = web.Application()
    app.router.add_get("/health", answering({"status": "UP"}))
    async with serve_app(app) as base_url:
        probe = HealthProbe(base_url, config(path="/health"))
        first = await probe.check()
        await probe.aclose()
        second = await probe.check()
        await probe.aclose()
        await probe.aclose()  # closing twice is harmless
    assert first.status is second.status is Status.HEALTHY


# --- redirects stay on the configured origin; bodies stay within their cap -----------------

async def test_a_redirect_to_another_host_is_reported_never_followed() -> None:
    seen: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.path)
        return json_response(EXAMPLE_200)

    async with serve_handler(elsewhere) as other:
        async def moved(request: web.Request) -> web.Response:
            raise web.HTTPMovedPermanently(f"{other}/api/health?token=planted-query-secret")

        async with serve_handler(moved) as base_url:
            failure = await expect_unavailable(base_url)
    assert failure.reason == (f"redirected to {other}/api/health?***: another origin than "
                              f"{base_url}, not followed")
    assert seen == []  # that host's answer is never taken for the app's


async def test_a_redirect_on_the_same_origin_is_followed_with_its_request_id() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/api/health":
            raise web.HTTPFound("/v2/health", headers={"X-Request-ID": "hop-1"})
        return json_response(EXAMPLE_200, request_id="final-2")

    reading = await check_once(handler)
    assert reading.status is Status.DEGRADED and reading.request_id == "final-2"


async def test_a_gzip_bomb_is_cut_off_at_max_body() -> None:
    import gzip
    import tracemalloc

    bomb = gzip.compress(b" " * (10 * 1024 * 1024) + b"{}")  # 10 MB of blanks, ~10 KB sent

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})

    async with serve_handler(handler) as base_url:
        probe = HealthProbe(base_url, config(max_body=65536))
        tracemalloc.start()
        try:
            reading = await probe.check()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await probe.aclose()
    assert reading.status is Status.UNAVAILABLE
    assert reading.summary == "body larger than 64 KiB"
    assert peak < 2 * 1024 * 1024  # the 10 MB were never inflated


async def test_a_gzipped_answer_is_read() -> None:
    import gzip

    async def handler(request: web.Request) -> web.Response:
        assert "br" not in request.headers.get("Accept-Encoding", "")
        return web.Response(body=gzip.compress(EXAMPLE_200.encode()),
                            headers={"Content-Encoding": "gzip",
                                     "Content-Type": "application/json"})

    reading = await check_once(handler)
    assert reading.status is Status.DEGRADED and reading.details["format"] == "pocket-philosopher"


async def test_an_encoding_it_cannot_read_is_the_targets_fault() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01", headers={"Content-Encoding": "br"})

    async with serve_handler(handler) as base_url:
        failure = await expect_unavailable(base_url)
    assert failure.reason == "answered badly: unsupported Content-Encoding 'br'"


async def test_credentials_in_the_base_url_are_never_shown() -> None:
    port = free_port()
    probe = HealthProbe(f"http://ops:planted-base-pass@127.0.0.1:{port}", config())
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    await probe.aclose()
    assert "planted-base-pass" not in probe.target + caught.value.reason
    assert probe.target == f"http://ops:***@127.0.0.1:{port}/api/health"
