"""Supabase auth smoke: sign a test user in with the anon key, read one row of `profiles`.

The three requests (sign-in, the read, the sign-out) go through the cockpit's own HTTP
client, exactly as contracts.md describes them, not through supabase-py: supabase-py reads
whole bodies (a gzip bomb costs its full size) and follows redirects with the password. Here
every body is capped before it is decompressed, and a request that carries a credential is
never redirected. Each check uses its own client and signs the user out again, so no session
or connection outlives the check.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, Row, Status, TargetUnavailable
from ppcockpit.probe import time_left
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from ppcockpit.units import size
from probes.body import UnreadableBody, parse_json
from probes.http_client import new_client, read_limited, warm_up
from probes.supabase_management import describe_transport_error, refuse_credentialed_redirect

if TYPE_CHECKING:
    import httpx  # imported where used: not before the cockpit's first frame

API_VERSION = "2024-01-01"
MAX_BODY_BYTES = 256 * 1024  # a session is ~2 KB, one profiles row less
_MISSING_TABLE_CODES = {"42P01", "PGRST205"}
_SIGN_OUT_TIMEOUT = 2.0


def _error_fields(body: bytes) -> dict[str, Any]:
    """The JSON object of an error body, or an empty one when it is not one."""
    try:
        data = parse_json(body)
    except UnreadableBody:
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object, limit: int = 80) -> str:
    return one_line(value, limit=limit) if isinstance(value, str) else ""


def describe_sign_in_refusal(status: int, headers: httpx.Headers, body: bytes) -> str:
    """A one-line reason for a refused sign-in, never echoing the credentials."""
    fields = _error_fields(body)
    # GoTrue's `code` is only to be read when the reply carries its API version.
    code = _text(fields.get("code") or fields.get("error_code"), 60) \
        if headers.get("x-supabase-api-version") else ""
    message = _text(fields.get("msg") or fields.get("message")
                    or fields.get("error_description"))
    if code == "invalid_credentials" or (
            status == 400 and "invalid login credentials" in message.lower()):
        return "test user credentials rejected (invalid_credentials)"
    if code == "email_not_confirmed":
        return "test user's email is not confirmed (email_not_confirmed)"
    if status == 401:
        return "Supabase anon key rejected (401)"
    if status >= 500:
        return f"Supabase auth answered {status}"
    return f"Supabase auth refused the sign-in: {status} ({code or 'no error code'})"


def describe_query_refusal(status: int, body: bytes) -> str:
    """A one-line reason for a failed `profiles` read (PostgREST's error body)."""
    fields = _error_fields(body)
    code = _text(fields.get("code"), 40)
    if not code:  # no PostgREST body: the HTTP status says it all
        return f"Supabase REST answered {status}"
    if code in _MISSING_TABLE_CODES:
        return f"table profiles not found ({code})"
    if code.startswith("PGRST3"):
        return f"Supabase REST rejected the test user's token ({code})"
    if code == "42501":
        return "test user may not read profiles (42501 permission denied)"
    detail = _text(fields.get("message"))
    return f"reading profiles failed: {code}" + (f" {detail}" if detail else "")


class SupabaseAuthProbe:
    """Signs in the configured test user and reads one `profiles` row as that user."""

    name = "supabase_auth"

    def __init__(self, env: SupabaseEnvironment, settings: SupabaseProbeConfig) -> None:
        self.url = str(env.url or "").rstrip("/")
        self._anon_key = env.anon_key
        self._email = env.test_user_email
        self._password = env.test_user_password
        self.interval = settings.interval
        self.timeout = settings.timeout
        self.target = redact_url(self.url) if self.url else "Supabase (no url)"

    async def check(self, deadline: float | None = None) -> Reading:
        if not (self.url and self._anon_key and self._email and self._password):
            raise ProbeMisconfigured(
                "Supabase url, anon_key, test_user_email and test_user_password are all needed")
        http = await new_client(timeout=time_left(deadline, self.timeout), follow_redirects=False)
        token: str | None = None
        try:
            started = time.perf_counter()
            token = await self._sign_in(http)
            sign_in_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            rows_seen = await self._read_profiles(http, token)
            query_ms = (time.perf_counter() - started) * 1000
        finally:
            if token is not None:
                await self._sign_out(http, token)
            await http.aclose()

        visible = "1 row visible" if rows_seen else "no row visible to the test user"
        return Reading(
            probe=self.name,
            target=self.target,
            status=Status.HEALTHY,
            summary=(f"test user signed in in {sign_in_ms:.0f}ms · profiles read in "
                     f"{query_ms:.0f}ms ({visible})"),
            metrics={"sign_in_ms": round(sign_in_ms, 1), "query_ms": round(query_ms, 1)},
            details={"rows_returned": rows_seen},
            rows=(
                Row(key="sign_in", label="Sign in", status=Status.HEALTHY,
                    latency_ms=sign_in_ms, message="test user signed in"),
                Row(key="profiles", label="Read profiles", status=Status.HEALTHY,
                    latency_ms=query_ms, message=visible),
            ),
        )

    # --- the three requests -------------------------------------------------------------

    def _headers(self, bearer: str) -> dict[str, str]:
        return {"apikey": self._anon_key or "", "Authorization": f"Bearer {bearer}",
                "X-Supabase-Api-Version": API_VERSION, "Accept": "application/json"}

    async def _sign_in(self, http: httpx.AsyncClient) -> str:
        """POST /auth/v1/token?grant_type=password → the user's access token."""
        status, headers, body = await self._send(
            http, "Supabase auth", "POST", "/auth/v1/token",
            params={"grant_type": "password"}, headers=self._headers(self._anon_key or ""),
            json={"email": self._email, "password": self._password})
        if not 200 <= status < 300:
            raise TargetUnavailable(describe_sign_in_refusal(status, headers, body)) from None
        try:
            session = parse_json(body)
        except UnreadableBody as exc:
            raise TargetUnavailable(f"Supabase auth answered badly: {exc}") from None
        token = session.get("access_token") if isinstance(session, dict) else None
        if not isinstance(token, str) or not token:
            raise TargetUnavailable("Supabase auth signed in without a session") from None
        return token

    async def _read_profiles(self, http: httpx.AsyncClient, token: str) -> int:
        """GET /rest/v1/profiles?select=user_id&limit=1 as the user → rows seen (0 or 1)."""
        status, _, body = await self._send(
            http, "Supabase REST", "GET", "/rest/v1/profiles",
            params={"select": "user_id", "limit": "1"}, headers=self._headers(token))
        if not 200 <= status < 300:
            raise TargetUnavailable(describe_query_refusal(status, body)) from None
        try:
            rows = parse_json(body)
        except UnreadableBody as exc:
            raise TargetUnavailable(f"Supabase REST answered badly: {exc}") from None
        if not isinstance(rows, list):
            raise TargetUnavailable("Supabase REST answered profiles with something other "
                                    "than a list of rows") from None
        return min(len(rows), 1)

    async def _sign_out(self, http: httpx.AsyncClient, token: str) -> None:
        """Revoke this check's session (scope local: the test user's other sessions stay)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_SIGN_OUT_TIMEOUT):
                await self._send(http, "Supabase auth", "POST", "/auth/v1/logout",
                                 params={"scope": "local"}, headers=self._headers(token))

    async def _send(self, http: httpx.AsyncClient, what: str, method: str, path: str,
                    **options: Any) -> tuple[int, httpx.Headers, bytes]:
        """One request: never redirected, the body capped, every failure one safe line."""
        import httpx

        try:
            async with asyncio.timeout(self.timeout), http.stream(
                    method, self.url + path, **options) as response:
                refuse_credentialed_redirect(response, what)
                body = await read_limited(response, MAX_BODY_BYTES)
                if body is None:
                    raise TargetUnavailable(
                        f"{what} answer is larger than {size(MAX_BODY_BYTES)}")
                return response.status_code, response.headers, body
        except TargetUnavailable as exc:
            raise exc from None  # nothing of the library's, which may quote a request
        except (TimeoutError, httpx.TimeoutException):
            raise TargetUnavailable(f"{what}: no answer within {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise TargetUnavailable(
                f"{what}: {describe_transport_error(exc, self.timeout)}") from None
        except UnreadableBody as exc:
            raise TargetUnavailable(f"{what} answered badly: {exc}") from None
        except httpx.HTTPError as exc:
            raise TargetUnavailable(f"{what} request failed ({type(exc).__name__})") from None

    async def prepare(self) -> None:
        """Imports and the TLS context, off the loop, before the first timed check."""
        await warm_up()

    async def aclose(self) -> None:
        """Nothing to close: every check releases its own client."""
