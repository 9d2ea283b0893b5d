"""What `ppcockpit check` prints: valid JSON whatever the env file holds, no secret in any
escaped form, and no GO without evidence."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import tomli_w
from aiohttp import web

from tests.support.http_stub import Serve

ROOT = Path(__file__).resolve().parent.parent
ALL_PROBES_OFF = {name: {"enabled": False} for name in
                  ("health", "redis", "posthog", "supabase", "pwa", "secrets")}


async def run_check(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ppcockpit", "check", *args, cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_nothing_checked_is_no_go(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps({
        "environments": {"production": {"base_url": "https://a.example"}},
        "probes": ALL_PROBES_OFF}))
    code, out, _ = await run_check("--config", str(config), "--json")
    assert code == 1
    assert json.loads(out)["verdict"] == "no-go"
    code, out, _ = await run_check("--config", str(config))
    assert code == 1 and "nothing was checked" in out


async def test_json_stays_valid_when_env_file_values_are_ordinary_words(
        tmp_path: Path, serve: Serve) -> None:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"success": True, "data": {
            "status": "ok", "dependencies": {
                "supabase": {"status": "ok", "latencyMs": 1, "message": None},
                "analytics": {"status": "ok"},
                "aiProviders": {"configuration": {"openai": "configured"}, "selection": None,
                                "stats": {"openai": {"status": "healthy", "latencyMs": 3}}}}}})

    app = web.Application()
    app.router.add_get("/api/health", health)
    base = await serve(app)
    env_file = tmp_path / "rehearsal.env"
    env_file.write_text("APP_ENV=rehearsal\nPORT=3000\nFEATURE=true\nNAME=openai\n"
                        "HEALTHY=healthy\n")
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps({
        "environments": {"rehearsal": {"base_url": base}},
        "probes": {**ALL_PROBES_OFF, "health": {"enabled": True}}}))
    code, out, err = await run_check("--config", str(config), "--json", "--env-file",
                                     str(env_file))
    document = json.loads(out)
    assert document["environment"] == "rehearsal", err
    providers = document["probes"][0]["details"]["providers"]
    assert providers["openai"]["status"] == "healthy"
    assert providers["openai"]["configured"] is True
    assert code == 0


async def test_a_secret_that_json_escapes_never_shows(tmp_path: Path, serve: Serve) -> None:
    token = 'phx_planted"quote\tand\\backslash'

    async def rejecting(request: web.Request) -> web.Response:
        said = request.headers.get("Authorization", "")
        return web.json_response({"type": "authentication_error", "code": "authentication_failed",
                                  "detail": f"Invalid token {said}", "attr": None,
                                  "echo": {"token": said}}, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rejecting)
    base = await serve(app)
    env_file = tmp_path / "prod.env"
    env_file.write_text(f"POSTHOG_PERSONAL_API_KEY='{token}'\n")
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps({
        "environments": {"production": {"base_url": base, "posthog": {
            "host": base, "project_id": "1", "api_key": "${POSTHOG_PERSONAL_API_KEY}"}}},
        "probes": {**ALL_PROBES_OFF, "posthog": {"enabled": True}}}))
    for args in (["--json"], []):
        code, out, err = await run_check("--config", str(config), "--env-file", str(env_file),
                                         *args)
        for form in (token, json.dumps(token)[1:-1], "planted"):
            assert form not in out + err
        assert code == 1
