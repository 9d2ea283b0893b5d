"""Every HTTP probe, against the same hostile loopback server: each class of fault is closed
in all of them, not only where it was first found.

- a body that cannot be parsed (nested 100,000 deep, not UTF-8) is the target's failure;
- a gzip bomb costs the cap, never its size;
- a redirect off the configured origin is reported, never followed (nor credentials sent);
- a self-signed certificate says "TLS error: certificate verify failed (...)";
- a refused connection says so (found by errno, not by the message's words);
- a password in a configured URL is never shown.
"""

from __future__ import annotations

import gzip
import ssl
import tracemalloc
from collections.abc import Callable

import pytest
import trustme
from aiohttp import web

from ppcockpit.config_model import (
    HealthProbeConfig,
    PosthogEnvironment,
    PosthogProbeConfig,
    PwaProbeConfig,
    SupabaseEnvironment,
    SupabaseProbeConfig,
)
from ppcockpit.model import Failure, Reading, Status
from ppcockpit.probe import Probe
from ppcockpit.redis_server import free_port
from ppcockpit.runner import ProbeRunner
from probes.health import HealthProbe
from probes.posthog import PosthogProbe
from probes.pwa import PwaProbe
from probes.supabase_auth import SupabaseAuthProbe
from probes.supabase_backups import SupabaseBackupsProbe
from probes.supabase_migrations import SupabaseMigrationsProbe
from tests.support.http_stub import serve_handler

KEY = "phx_classPlantedKey0123456789"
TOKEN = "sbp_classPlantedToken0123456789"
PASSWORD = "class-planted-password"
SUPABASE = SupabaseProbeConfig(timeout="3s")


def all_http_probes(base: str) -> dict[str, Probe]:
    """Every probe that speaks HTTP, each pointed at `base` for everything it asks."""
    management = SupabaseEnvironment(management_url=base, project_ref="abcdefghijklmnopqrst",
                                     access_token=TOKEN)
    auth = SupabaseEnvironment(url=base, anon_key="anon-planted-key",
                               test_user_email="smoke@example.test",
                               test_user_password=PASSWORD)
    return {
        "health": HealthProbe(base, HealthProbeConfig(timeout="3s")),
        "pwa": PwaProbe(base, PwaProbeConfig(timeout="3s")),
        "posthog": PosthogProbe(PosthogEnvironment(host=base, project_id="1", api_key=KEY),
                                PosthogProbeConfig(timeout="3s")),
        "supabase_backups": SupabaseBackupsProbe(management, SUPABASE),
        "supabase_migrations": SupabaseMigrationsProbe(management, SUPABASE,
                                                       migrations_dir=None),
        "supabase_auth": SupabaseAuthProbe(auth, SUPABASE),
    }


async def readings_from(handler: Callable[[web.Request], object], *,
                        ssl_context: ssl.SSLContext | None = None) -> dict[str, Reading]:
    async with serve_handler(handler, ssl_context=ssl_context) as base:
        return await readings_at(base)


async def readings_at(base: str) -> dict[str, Reading]:
    probes = all_http_probes(base)
    runner = ProbeRunner(probes.values())
    try:
        return {name: await runner.run_once(probe) for name, probe in probes.items()}
    finally:
        await runner.stop()


def text_of(reading: Reading) -> str:
    return repr(reading)


def assert_targets_failure(readings: dict[str, Reading]) -> None:
    for name, reading in readings.items():
        assert reading.failure is not Failure.PROBE, (name, reading.summary)
        assert reading.status is Status.UNAVAILABLE, (name, reading.summary)
        assert "probe failed" not in reading.summary, name


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe\x00garbage"],
                         ids=["nested-100k", "not-utf8"])
async def test_an_unreadable_body_is_the_targets_failure_everywhere(body: bytes) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    assert_targets_failure(await readings_from(handler))


async def test_a_gzip_bomb_costs_the_cap_everywhere() -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # 64 MB in ~64 KB

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})

    async with serve_handler(handler) as base:
        probes = all_http_probes(base)
        runner = ProbeRunner(probes.values())
        for name, probe in probes.items():
            tracemalloc.start()
            try:
                reading = await runner.run_once(probe)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert reading.failure is not Failure.PROBE, (name, reading.summary)
            assert reading.status is not Status.HEALTHY, (name, reading.summary)
            assert peak < 24 * 1024 * 1024, (name, peak)  # the largest cap is 8 MiB
        await runner.stop()


async def test_a_redirect_off_the_origin_is_never_followed_anywhere() -> None:
    asked: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response({})

    async with serve_handler(elsewhere) as other:
        async def moved(request: web.Request) -> web.Response:
            raise web.HTTPTemporaryRedirect(f"{other}{request.path_qs}")

        readings = await readings_from(moved)
    assert asked == []
    for name, reading in readings.items():
        assert reading.status is Status.UNAVAILABLE, (name, reading.summary)
        assert f"redirected to {other}" in reading.summary, (name, reading.summary)
        for secret in (KEY, TOKEN, PASSWORD):
            assert secret not in text_of(reading), name


async def test_a_self_signed_certificate_says_so_everywhere() -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_context)

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    readings = await readings_from(handler, ssl_context=server_context)
    for name, reading in readings.items():
        assert reading.status is Status.UNAVAILABLE, name
        assert "TLS error: certificate verify failed (" in reading.summary, (name,
                                                                             reading.summary)


async def test_a_refused_connection_says_so_everywhere() -> None:
    readings = await readings_at(f"http://127.0.0.1:{free_port()}")
    for name, reading in readings.items():
        assert reading.status is Status.UNAVAILABLE, name
        assert "refused" in reading.summary, (name, reading.summary)


async def test_a_password_in_a_configured_url_is_never_shown_anywhere() -> None:
    readings = await readings_at(f"http://ops:url-planted-pass@127.0.0.1:{free_port()}")
    for name, reading in readings.items():
        assert "url-planted-pass" not in text_of(reading), name
        assert "ops:***@127.0.0.1" in reading.target, (name, reading.target)
