"""Supabase stand-in for supabase-py: GoTrue password sign-in and PostgREST `profiles`."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web

from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.clock import iso_ms
from ppcockpit.rehearsal.credentials import (
    SUPABASE_ANON_KEY,
    TEST_USER_EMAIL,
    TEST_USER_ID,
    TEST_USER_PASSWORD,
)
from ppcockpit.rehearsal.http_common import bearer, json_body, json_response
from ppcockpit.rehearsal.world import World

API_VERSION = "2024-01-01"
SESSION_SECONDS = 3600
MAX_SESSIONS = 1000
PROFILES: tuple[dict[str, Any], ...] = (
    {"user_id": TEST_USER_ID, "display_name": "On-call drill", "persona": "marcus-aurelius",
     "timezone": "UTC", "onboarded": True, "created_at": "2025-10-01T11:52:53.000Z"},
)
PROFILE_COLUMNS = tuple(PROFILES[0])


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _postgrest_error(status: int, code: str, message: str, details: str | None = None,
                     hint: str | None = None) -> web.Response:
    return json_response({"code": code, "details": details, "hint": hint, "message": message},
                         status)


def _auth_error(status: int, code: str, message: str) -> web.Response:
    return json_response({"code": code, "message": message}, status,
                         headers={"X-Supabase-Api-Version": API_VERSION})


def _invalid_api_key() -> web.Response:
    return json_response({"message": "Invalid API key",
                          "hint": "Double check your Supabase `anon` or `service_role` API key."},
                         401)


class Sessions:
    """Access tokens handed out by sign-in (bounded: the oldest are forgotten first)."""

    def __init__(self) -> None:
        self._by_token: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._refresh: OrderedDict[str, str] = OrderedDict()

    def issue(self, now: float) -> dict[str, Any]:
        expires = int(now) + SESSION_SECONDS
        claims = {"aud": "authenticated", "exp": expires, "iat": int(now), "sub": TEST_USER_ID,
                  "email": TEST_USER_EMAIL, "role": "authenticated", "session_id":
                  secrets.token_hex(8)}
        token = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_hex(16)}"
        refresh = secrets.token_urlsafe(16)
        self._by_token[token] = (TEST_USER_ID, expires)
        self._refresh[refresh] = TEST_USER_ID
        for store in (self._by_token, self._refresh):
            while len(store) > MAX_SESSIONS:
                store.popitem(last=False)
        return {"access_token": token, "token_type": "bearer", "expires_in": SESSION_SECONDS,
                "expires_at": expires, "refresh_token": refresh, "user": _user(now)}

    def user_for(self, token: str | None, now: float) -> str | None:
        found = self._by_token.get(token or "")
        return found[0] if found and found[1] > now else None

    def revoke(self, token: str | None) -> None:
        self._by_token.pop(token or "", None)

    def refresh(self, refresh_token: object) -> bool:
        return isinstance(refresh_token, str) and \
            self._refresh.pop(refresh_token, None) is not None


def _user(now: float) -> dict[str, Any]:
    return {
        "id": TEST_USER_ID, "aud": "authenticated", "role": "authenticated",
        "email": TEST_USER_EMAIL, "email_confirmed_at": "2025-10-01T12:00:00.000Z",
        "phone": "", "confirmed_at": "2025-10-01T12:00:00.000Z",
        "last_sign_in_at": iso_ms(now), "app_metadata": {"provider": "email",
                                                         "providers": ["email"]},
        "user_metadata": {}, "identities": [], "created_at": "2025-10-01T11:52:53.000Z",
        "updated_at": iso_ms(now), "is_anonymous": False,
    }


def build_app(world: World) -> web.Application:
    sessions = Sessions()

    def api_key_ok(request: web.Request) -> bool:
        key = request.headers.get("apikey") or request.query.get("apikey")
        return key == SUPABASE_ANON_KEY

    async def token(request: web.Request) -> web.Response:
        if not api_key_ok(request):
            return _invalid_api_key()
        grant = request.query.get("grant_type", "")
        body = await json_body(request)
        if not isinstance(body, dict):
            return _auth_error(400, "bad_json", "Could not parse request body as JSON")
        if sc.DB_DOWN in world.faults:
            return _auth_error(500, "unexpected_failure", "Database error querying schema")
        now = time.time()
        if grant == "password":
            if body.get("email") != TEST_USER_EMAIL or body.get("password") != \
                    TEST_USER_PASSWORD:
                return _auth_error(400, "invalid_credentials", "Invalid login credentials")
            return json_response(sessions.issue(now),
                                 headers={"X-Supabase-Api-Version": API_VERSION})
        if grant == "refresh_token":
            if not sessions.refresh(body.get("refresh_token")):
                return _auth_error(400, "refresh_token_not_found",
                                   "Invalid Refresh Token: Refresh Token Not Found")
            return json_response(sessions.issue(now),
                                 headers={"X-Supabase-Api-Version": API_VERSION})
        return _auth_error(400, "validation_failed", "unsupported_grant_type")

    async def logout(request: web.Request) -> web.Response:
        if not api_key_ok(request):
            return _invalid_api_key()
        sessions.revoke(bearer(request))
        return web.Response(status=204, headers={"X-Supabase-Api-Version": API_VERSION})

    async def user(request: web.Request) -> web.Response:
        if not api_key_ok(request):
            return _invalid_api_key()
        if sessions.user_for(bearer(request), time.time()) is None:
            return _auth_error(403, "bad_jwt", "invalid JWT: unable to parse or verify "
                                               "signature, token is malformed")
        return json_response(_user(time.time()), headers={"X-Supabase-Api-Version":
                                                          API_VERSION})

    async def table(request: web.Request) -> web.Response:
        if not (request.headers.get("apikey") or request.query.get("apikey")):
            return json_response({"message": "No API key found in request",
                                  "hint": "No `apikey` request header or url param was "
                                          "found."}, 401)
        if not api_key_ok(request):
            return _invalid_api_key()
        name = request.match_info["table"]
        if name != "profiles":
            return _postgrest_error(404, "PGRST205",
                                    f"Could not find the table 'public.{name}' in the "
                                    "schema cache",
                                    hint="Perhaps you meant the table 'public.profiles'")
        if sc.DB_DOWN in world.faults:
            return _postgrest_error(
                503, "PGRST001", "Database client error. Retrying the connection.",
                details='connection to server at "db.rehearsal" (10.12.0.5), port 5432 '
                        "failed: Connection refused")
        token = bearer(request)
        user_id = sessions.user_for(token, time.time())
        if token not in (None, SUPABASE_ANON_KEY) and user_id is None:
            return _postgrest_error(401, "PGRST301", "JWSError JWSInvalidSignature")
        return _select(request, user_id)

    app = web.Application()
    app.router.add_post("/auth/v1/token", token)
    app.router.add_post("/auth/v1/logout", logout)
    app.router.add_get("/auth/v1/user", user)
    app.router.add_get("/rest/v1/{table}", table)
    return app


def _select(request: web.Request, user_id: str | None) -> web.Response:
    """PostgREST's GET: `select`, `limit`, `offset` and `column=eq.value`, under RLS."""
    select = request.query.get("select", "*")
    columns = PROFILE_COLUMNS if select.strip() == "*" else tuple(
        c.strip() for c in select.split(",") if c.strip())
    for column in columns:
        if column not in PROFILE_COLUMNS:
            return _postgrest_error(400, "42703", f"column profiles.{column} does not exist")
    try:
        limit = int(request.query.get("limit", "1000"))
        offset = int(request.query.get("offset", "0"))
    except ValueError:
        return _postgrest_error(400, "PGRST102", "limit and offset must be integers")
    rows = [p for p in PROFILES if p["user_id"] == user_id]  # RLS: a user sees their own row
    for key, value in request.query.items():
        if key in PROFILE_COLUMNS and value.startswith("eq."):
            rows = [r for r in rows if str(r[key]) == value[3:]]
    page = [{c: r[c] for c in columns} for r in rows[offset: offset + max(0, limit)]]
    end = offset + len(page) - 1
    content_range = f"{offset}-{end}/*" if page else "*/*"
    return json_response(page, headers={"Content-Range": content_range})
