"""Planted secret values never appear: not on screen, not in `check`, not in a log line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from aiohttp import web

from ppcockpit.app import make_app
from ppcockpit.cli import build_runner
from ppcockpit.config import load_config
from ppcockpit.redis_server import free_port
from tests.support.http_stub import serve_app
from tests.support.screen_text import screen_text

ROOT = Path(__file__).resolve().parent.parent

PLANTED = {
    "REDIS_URL": "redis://:Planted-Redis-Pass-771@127.0.0.1:{port}/0",
    "POSTHOG_PERSONAL_API_KEY": "phx_planted_personal_key_5521",
    "SUPABASE_ACCESS_TOKEN": "sbp_planted_access_token_0042",
}
STAGING = {
    "NEXT_PUBLIC_SUPABASE_URL": "https://stagingref.supabase.co",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY": "eyJplantedSameAnonKeyInBoth.x.y",
    "SUPABASE_SERVICE_ROLE_KEY": "eyJplantedStagingServiceRole.a.b",
    "OPENAI_API_KEY": "sk-plantedStagingOpenAI123",
    "ANTHROPIC_API_KEY": "sk-ant-plantedStagingAnthropic",
    "TOGETHER_API_KEY": "planted-together-staging-777",
    "RESEND_API_KEY": "re_plantedStagingResend",
    "POSTHOG_API_KEY": "phc_plantedStagingPosthog",
    "REDIS_URL": "rediss://:plantedStagingRedisPw@staging-redis:6380",
}
PRODUCTION = {
    **STAGING,
    "NEXT_PUBLIC_SUPABASE_URL": "http://plantedprodref.supabase.co",  # malformed: not https
    "SUPABASE_SERVICE_ROLE_KEY": "eyJplantedProdServiceRole.c.d",
    "OPENAI_API_KEY": "plantedProdOpenAIWithoutPrefix",  # malformed prefix
    "REDIS_URL": "rediss://:plantedProdRedisPw@prod-redis:6380",
}


def planted_values(port: int) -> list[str]:
    values = [v.format(port=port) for v in PLANTED.values()]
    values += list(STAGING.values()) + list(PRODUCTION.values())
    return [*values, "Planted-Redis-Pass-771"]


async def rejecting(request: web.Request) -> web.Response:
    # Echo the credential back, as a careless server might: it must still not leak.
    said = request.headers.get("Authorization", "")
    return web.json_response({"type": "authentication_error", "code": "authentication_failed",
                              "detail": f"Invalid token {said}", "attr": None}, status=401)


def write_setup(tmp_path: Path, base: str, port: int) -> tuple[Path, Path]:
    (tmp_path / ".env.staging").write_text("".join(f"{k}={v}\n" for k, v in STAGING.items()))
    (tmp_path / ".env.production").write_text(
        "".join(f"{k}={v}\n" for k, v in PRODUCTION.items()))
    env_file = tmp_path / "cockpit.env"
    env_file.write_text("".join(f"{k}={v.format(port=port)}\n" for k, v in PLANTED.items()))
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps({
        "environments": {"production": {
            "base_url": base,
            "redis_url": "${REDIS_URL}",
            "posthog": {"host": base, "project_id": "1", "api_key": "${POSTHOG_PERSONAL_API_KEY}"},
            "supabase": {"management_url": base, "project_ref": "abcdefghijklmnopqrst",
                         "access_token": "${SUPABASE_ACCESS_TOKEN}"},
        }},
        "probes": {"secrets": {"reference": ".env.staging", "candidate": ".env.production"},
                   "pwa": {"enabled": False}},
    }))
    return config, env_file


@pytest.fixture
async def careless_server():
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rejecting)
    async with serve_app(app) as base:
        yield base


async def test_check_output_never_holds_a_secret(tmp_path: Path, careless_server: str) -> None:
    port = free_port()
    config, env_file = write_setup(tmp_path, careless_server, port)
    for extra in ([], ["--json"]):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ppcockpit", "check", "--config", str(config),
            "--env-file", str(env_file), *extra, cwd=ROOT, env=dict(os.environ),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
        output = (stdout + stderr).decode()
        assert proc.returncode == 1, output
        for value in planted_values(port):
            assert value not in output, f"{value!r} leaked into check {extra}"
        if extra:
            probes = {p["name"]: p for p in json.loads(stdout)["probes"]}
            assert probes["secrets"]["status"] == "unavailable"
            assert "sha256:" in json.dumps(probes["secrets"])


async def test_screen_and_logs_never_hold_a_secret(tmp_path: Path, careless_server: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    config_path, env_file = write_setup(tmp_path, careless_server, port)
    config = load_config(config_path, env_file=str(env_file), environ={})
    app = make_app(config, build_runner(config))
    async with app.run_test(size=(160, 48)) as pilot:
        async with asyncio.timeout(20):
            while len(app.session.state.readings) < len(app.runner.names):
                await pilot.pause(0.05)
        app.redraw_now()
        await pilot.pause()
        screen = screen_text(app)
        toasts = " ".join(f"{n.title} {n.message}" for n in app._notifications)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = screen_text(app)
    assert "secrets" in screen and "sha256:" in json.dumps(
        [r.message for r in app.session.state.readings["secrets"].rows])
    logs = "\n".join(record.getMessage() for record in caplog.records)
    for value in planted_values(port):
        for where, text in (("screen", screen), ("toasts", toasts), ("help", help_screen),
                            ("logs", logs)):
            assert value not in text, f"{value!r} leaked into the {where}"
