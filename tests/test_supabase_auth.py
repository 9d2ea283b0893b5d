"""The auth smoke against a loopback stand-in of GoTrue and PostgREST (shapes per contracts.md)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from aiohttp import web

from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, Status, TargetUnavailable
from probes.supabase_auth import SupabaseAuthProbe
from tests.support.http_stub import Serve

ANON_KEY = "eyJhbGciOiJIUzI1NiJ9.anon-key-planted-secret.sig"
PASSWORD = "correct-horse-battery-planted"
EMAIL = "smoke@example.test"
USER_TOKEN = "user-access-token-planted"
SECRETS = (ANON_KEY, PASSWORD, USER_TOKEN)
API_VERSION = {"X-Supabase-Api-Version": "2024-01-01"}



class FakeSupabase:
    """GoTrue + PostgREST as the contracts describe them; `mode` picks the bad case."""

    def __init__(self, mode: str = "good") -> None:
        self.mode = mode
        self.sign_ins = 0
        self.sign_outs: list[str] = []
        self.profile_auth: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/auth/v1/token", self.token)
        app.router.add_post("/auth/v1/logout", self.logout)
        app.router.add_get("/rest/v1/profiles", self.profiles)
        return app

    async def token(self, request: web.Request) -> web.Response:
        assert request.query["grant_type"] == "password"
        assert request.headers["apiKey"] == ANON_KEY
        self.sign_ins += 1
        if self.mode == "auth_503":
            return web.json_response({"message": "upstream unavailable"}, status=503)
        if self.mode == "hang":
            await asyncio.sleep(30)
        body = await request.json()
        if body.get("email") != EMAIL or body.get("password") != PASSWORD:
            return web.json_response(
                {"code": "invalid_credentials", "message": "Invalid login credentials"},
                status=400, headers=API_VERSION)
        now = int(time.time())
        return web.json_response({
            "access_token": USER_TOKEN, "token_type": "bearer", "expires_in": 3600,
            "expires_at": now + 3600, "refresh_token": "refresh-planted",
            "user": {"id": "8d0fd2b3-9ca7-4d9e-a95f-9e13dded323e", "aud": "authenticated",
                     "role": "authenticated", "email": EMAIL,
                     "created_at": "2025-10-01T11:52:53.000000Z",
                     "app_metadata": {"provider": "email"}, "user_metadata": {}},
        }, headers=API_VERSION)

    async def logout(self, request: web.Request) -> web.Response:
        self.sign_outs.append(request.query.get("scope", ""))
        return web.Response(status=204)

    async def profiles(self, request: web.Request) -> web.Response:
        assert request.query["select"] == "user_id"
        assert request.query["limit"] == "1"
        self.profile_auth.append(request.headers.get("Authorization", ""))
        if self.mode == "missing_table":
            return web.json_response({
                "code": "PGRST205", "details": None,
                "hint": "Perhaps you meant the table 'public.profile'",
                "message": "Could not find the table 'public.profiles' in the schema cache",
            }, status=404)
        if self.mode == "rest_503":
            return web.Response(status=503, text="<html>upstream down</html>")
        return web.json_response([{"user_id": "8d0fd2b3-9ca7-4d9e-a95f-9e13dded323e"}])


def make_probe(url: str, *, password: str = PASSWORD, timeout: str = "3s") -> SupabaseAuthProbe:
    env = SupabaseEnvironment(url=url, anon_key=ANON_KEY, test_user_email=EMAIL,
                              test_user_password=password)
    return SupabaseAuthProbe(env, SupabaseProbeConfig(timeout=timeout))


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in repr(text)


async def failure_reason(probe: SupabaseAuthProbe) -> str:
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    reason = caught.value.reason
    assert "\n" not in reason
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert_no_secret(reason, caught.value)
    return reason


async def test_good_sign_in_reads_one_profile_and_signs_out(serve: Serve) -> None:
    fake = FakeSupabase()
    url = await serve(fake.app())
    threads_before = set(threading.enumerate())
    reading = await make_probe(url).check()
    assert isinstance(reading, Reading)
    assert reading.probe == "supabase_auth" and reading.target == url
    assert reading.status is Status.HEALTHY
    assert reading.summary.startswith("test user signed in in ")
    assert "profiles read in" in reading.summary and "1 row visible" in reading.summary
    assert set(reading.metrics) == {"sign_in_ms", "query_ms"}
    assert all(v is not None and v >= 0 for v in reading.metrics.values())
    assert [row.key for row in reading.rows] == ["sign_in", "profiles"]
    # the read ran as the user, and the session was revoked afterwards (local scope)
    assert fake.profile_auth == [f"Bearer {USER_TOKEN}"]
    assert fake.sign_outs == ["local"]
    # No refresh timer thread left (the loop's own executor, for DNS, is not the probe's).
    started = [t for t in set(threading.enumerate()) - threads_before
               if not t.name.startswith("asyncio_")]
    assert started == []
    assert_no_secret(reading)
    await asyncio.sleep(0)
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                 and "schedule" in repr(t.get_coro())]
    assert leftovers == []  # no auto-refresh task scheduled


async def test_wrong_password_is_named_without_the_password(serve: Serve) -> None:
    fake = FakeSupabase()
    url = await serve(fake.app())
    reason = await failure_reason(make_probe(url, password="wrong-planted-password"))
    assert reason == "test user credentials rejected (invalid_credentials)"
    assert "wrong-planted-password" not in reason
    assert fake.sign_outs == []


async def test_wrong_password_from_a_server_without_error_codes(serve: Serve) -> None:
    async def token(request: web.Request) -> web.Response:
        return web.json_response({"error": "invalid_grant",
                                  "error_description": "Invalid login credentials"}, status=400)

    app = web.Application()
    app.router.add_post("/auth/v1/token", token)
    reason = await failure_reason(make_probe(await serve(app)))
    assert reason == "test user credentials rejected (invalid_credentials)"


async def test_missing_profiles_table(serve: Serve) -> None:
    fake = FakeSupabase("missing_table")
    url = await serve(fake.app())
    reason = await failure_reason(make_probe(url))
    assert reason == "table profiles not found (PGRST205)"
    assert fake.sign_outs == ["local"]  # signed out even though the read failed


async def test_auth_503(serve: Serve) -> None:
    fake = FakeSupabase("auth_503")
    url = await serve(fake.app())
    assert await failure_reason(make_probe(url)) == "Supabase auth answered 503"
    assert fake.sign_ins == 1  # reported, not retried


async def test_rest_503_without_a_postgrest_body_is_not_retried(serve: Serve) -> None:
    fake = FakeSupabase("rest_503")
    url = await serve(fake.app())
    assert await failure_reason(make_probe(url)) == "Supabase REST answered 503"
    assert len(fake.profile_auth) == 1


async def test_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reason = await failure_reason(make_probe(f"http://127.0.0.1:{port}"))
    assert reason == "Supabase auth: connection refused"


async def test_slow_auth_times_out_within_the_probe_timeout(serve: Serve) -> None:
    fake = FakeSupabase("hang")
    url = await serve(fake.app())
    started = time.perf_counter()
    reason = await failure_reason(make_probe(url, timeout="500ms"))
    assert reason == "Supabase auth: no answer within 0.5s"
    assert time.perf_counter() - started < 2


async def test_missing_settings_are_a_misconfiguration() -> None:
    probe = SupabaseAuthProbe(SupabaseEnvironment(url="http://127.0.0.1:9"),
                              SupabaseProbeConfig())
    with pytest.raises(ProbeMisconfigured, match="test_user_password"):
        await probe.check()


# --- bounded, and the password goes nowhere else ------------------------------------------

def test_a_gzip_bomb_costs_the_cap_not_its_size() -> None:
    # 200 MB of zeros in 200 KB. supabase-py inflated it whole (+400 MB of peak memory).
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "tests.support.auth_bomb", "200"], cwd=root,
                          capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout)
    assert result["reason"] == "Supabase auth answer is larger than 256 KiB"
    assert result["grown_kib"] < 32 * 1024, result  # peak resident memory, in KiB


async def test_a_redirect_never_takes_the_password_elsewhere(serve: Serve) -> None:
    elsewhere = FakeSupabase()
    other = await serve(elsewhere.app())

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{other}/auth/v1/token?grant_type=password")

    app = web.Application()
    app.router.add_post("/auth/v1/token", moved)
    reason = await failure_reason(make_probe(await serve(app)))
    assert reason == (f"Supabase auth answered 307: redirected to {other}/auth/v1/token?***, "
                      "not followed (credentials are never sent on)")
    assert elsewhere.sign_ins == 0


async def test_a_self_signed_certificate_says_so() -> None:
    import ssl

    import trustme

    from tests.support.http_stub import serve_app

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_context)
    async with serve_app(FakeSupabase().app(), ssl_context=server_context) as url:
        reason = await failure_reason(make_probe(url))
    assert reason.startswith("Supabase auth: TLS error: certificate verify failed (")


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 100_000, "Supabase auth answered badly: JSON nested too deeply"),
    (b"\xff\xfe", "Supabase auth answered badly: not UTF-8 text"),
    (b'{"token_type": "bearer"}', "Supabase auth signed in without a session"),
])
async def test_a_sign_in_answer_it_cannot_read_is_the_targets_fault(
        serve: Serve, body: bytes, reason: str) -> None:
    async def token(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/auth/v1/token", token)
    assert await failure_reason(make_probe(await serve(app))) == reason


async def test_credentials_in_the_url_are_never_shown() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = make_probe(f"http://ops:planted-url-pass@127.0.0.1:{port}")
    reason = await failure_reason(probe)
    assert "planted-url-pass" not in probe.target + reason
    assert probe.target == f"http://ops:***@127.0.0.1:{port}"
