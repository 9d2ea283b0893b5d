"""Supabase auth smoke: sign a test user in with the anon key, read one row of `profiles`.

supabase-py is imported inside `check()` (it is heavy). Each check builds a client on its
own httpx client, with token auto-refresh and session persistence off, signs the user out
again and closes the HTTP client, so no session, timer or connection outlives the check.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from typing import Any

import httpx

from ppcockpit import offloop
from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, Row, Status, TargetUnavailable
from ppcockpit.probe import time_left
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from probes.causes import exception_chain
from probes.http_client import new_client, warm_up
from probes.supabase_management import describe_transport_error

_MISSING_TABLE_CODES = {"42P01", "PGRST205"}
_SIGN_OUT_TIMEOUT = 2.0


def _http_cause(exc: BaseException) -> BaseException | None:
    """The httpx error behind a supabase-py error (they are raised `from` it)."""
    return next((cause for cause in exception_chain(exc, limit=5)
                 if isinstance(cause, httpx.HTTPError)), None)


def describe_sign_in_error(exc: Exception, timeout: float) -> str:
    """A one-line reason for a failed sign-in, never echoing the credentials."""
    cause = _http_cause(exc)
    if isinstance(cause, httpx.TransportError):
        return f"Supabase auth: {describe_transport_error(cause, timeout)}"
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or status == 0:
        status = (cause.response.status_code
                  if isinstance(cause, httpx.HTTPStatusError) else None)
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    legacy_rejection = (status == 400 and isinstance(message, str)
                        and "invalid login credentials" in message.lower())
    if code == "invalid_credentials" or legacy_rejection:
        return "test user credentials rejected (invalid_credentials)"
    if code == "email_not_confirmed":
        return "test user's email is not confirmed (email_not_confirmed)"
    if status == 401:
        return "Supabase anon key rejected (401)"
    if isinstance(status, int) and status >= 500:
        return f"Supabase auth answered {status}"
    if isinstance(status, int):
        detail = f"{code}" if isinstance(code, str) and code else "no error code"
        return f"Supabase auth refused the sign-in: {status} ({one_line(detail, limit=60)})"
    return f"Supabase auth sign-in failed ({type(exc).__name__})"


def describe_query_error(exc: Exception, timeout: float) -> str:
    """A one-line reason for a failed `profiles` read."""
    cause = _http_cause(exc)
    if isinstance(cause, httpx.TransportError):
        return f"Supabase REST: {describe_transport_error(cause, timeout)}"
    code = getattr(exc, "code", None)
    code = code if isinstance(code, str) else None
    if code in _MISSING_TABLE_CODES:
        return f"table profiles not found ({code})"
    if code and code.isdigit() and len(code) == 3:  # no PostgREST body: the HTTP status
        return f"Supabase REST answered {code}"
    if code and code.startswith("PGRST3"):
        return f"Supabase REST rejected the test user's token ({code})"
    if code == "42501":
        return "test user may not read profiles (42501 permission denied)"
    message = getattr(exc, "message", None)
    detail = one_line(message, limit=80) if isinstance(message, str) else ""
    return f"reading profiles failed: {code or type(exc).__name__}" + (
        f" {detail}" if detail else "")


class SupabaseAuthProbe:
    """Signs in the configured test user and reads one `profiles` row as that user."""

    name = "supabase_auth"

    def __init__(self, env: SupabaseEnvironment, settings: SupabaseProbeConfig) -> None:
        self.url = env.url or ""
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
        from supabase import AsyncClientOptions, acreate_client

        http = await new_client(timeout=time_left(deadline, self.timeout), follow_redirects=True)
        options = AsyncClientOptions(
            auto_refresh_token=False,  # else a refresh task outlives the check
            persist_session=False,
            postgrest_client_retry=False,  # a 503 must be reported, not retried for seconds
            httpx_client=http,
        )
        client: Any = None
        signed_in = False
        try:
            client = await acreate_client(self.url, self._anon_key, options=options)
            started = time.perf_counter()
            try:
                response = await client.auth.sign_in_with_password(
                    {"email": self._email, "password": self._password})
            except Exception as exc:
                raise TargetUnavailable(describe_sign_in_error(exc, self.timeout)) from None
            sign_in_ms = (time.perf_counter() - started) * 1000
            if response.session is None:
                raise TargetUnavailable("Supabase auth signed in without a session")
            signed_in = True

            started = time.perf_counter()
            try:
                result = await (client.table("profiles").select("user_id").limit(1)
                                .execute())
            except Exception as exc:
                raise TargetUnavailable(describe_query_error(exc, self.timeout)) from None
            query_ms = (time.perf_counter() - started) * 1000
        finally:
            if signed_in:
                await self._sign_out(client)
            await http.aclose()

        rows_seen = len(result.data) if isinstance(result.data, list) else 0
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

    @staticmethod
    async def _sign_out(client: Any) -> None:
        """Revoke this check's session (scope local: the test user's other sessions stay)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_SIGN_OUT_TIMEOUT):
                await client.auth.sign_out({"scope": "local"})

    async def prepare(self) -> None:
        """supabase-py takes ~0.6 s to import: off the loop, before the first timed check."""
        await warm_up()
        await offloop.once(importlib.import_module, "supabase")

    async def aclose(self) -> None:
        """Nothing to close: every check releases its own client."""
