"""A small client for the Supabase Management API, shared by the backups and migrations probes.

It turns every way a request can go wrong (refused, timed out, 401, 429, 5xx, a body that is
not JSON) into a one-line `TargetUnavailable` that never carries the access token.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ppcockpit.config_model import SupabaseEnvironment
from ppcockpit.model import ProbeMisconfigured, TargetUnavailable
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from ppcockpit.units import size
from probes.body import UnreadableBody, parse_json
from probes.causes import connection_refused, exception_chain, tls_failure
from probes.http_client import new_client, read_limited, refuse_redirect
from probes.retry_after import wait_from_headers

if TYPE_CHECKING:
    import httpx  # imported where used: not before the cockpit's first frame

MAX_BODY_BYTES = 4 * 1024 * 1024  # a backup or migration list is a few KB; never read more
_REQUEST_ID_HEADERS = ("sb-request-id", "x-request-id", "cf-ray")
# The reset is documented as "seconds"; a value that looks like a unix time is read as one.
_RATE_LIMIT_HEADERS = ("x-ratelimit-reset", "retry-after")


def rate_limit_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds to wait before asking again, from X-RateLimit-Reset (or Retry-After)."""
    return wait_from_headers(headers, now, _RATE_LIMIT_HEADERS)


def describe_transport_error(exc: httpx.TransportError, timeout: float) -> str:
    """A short reason for a failed request, without the URL (it may carry a token). Causes
    are found by type and errno through the chain, never by the message's words."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g}s"
    tls = tls_failure(exc)
    if tls:
        return tls
    if isinstance(exc, httpx.ConnectError):
        if connection_refused(exc):
            return "connection refused"
        if any(isinstance(c, socket.gaierror) for c in exception_chain(exc, 20)):
            return "host name not found"
        return "cannot connect"
    return f"connection failed ({type(exc).__name__})"


def refuse_credentialed_redirect(response: httpx.Response, what: str) -> None:
    """A request that carries a credential is never redirected: the redirect is reported
    as the target's answer, the credential is sent nowhere else."""
    refuse_redirect(response, what, "credentials are never sent on",
                    request_id=_request_id(response))


def _request_id(response: httpx.Response) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return one_line(value, limit=80)
    return None


def _error_message(body: bytes) -> str:
    """The `message` of an error body (unconfirmed shape), shortened; empty when absent."""
    try:
        data = parse_json(body)
    except UnreadableBody:
        return ""
    if isinstance(data, dict):
        for key in ("message", "error", "msg"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return one_line(value, limit=120)
    return ""


class ManagementClient:
    """GET JSON from `{management_url}/v1/projects/{ref}/...` with the access token."""

    def __init__(self, env: SupabaseEnvironment, *, timeout: float,
                 now: Callable[[], float] = time.time) -> None:
        self.project_ref = env.project_ref or ""
        self.base_url = env.management_url.rstrip("/")
        self._token = env.access_token
        self._timeout = timeout
        self._now = now
        self._client: httpx.AsyncClient | None = None

    @property
    def target(self) -> str:
        return f"Supabase project {self.project_ref} ({redact_url(self.base_url)})"

    async def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = await new_client(
                base_url=self.base_url,
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._token}",
                         "Accept": "application/json"},
                follow_redirects=False,
            )
        return self._client

    async def get_project_json(self, resource: str) -> Any:
        """The parsed JSON of GET /v1/projects/{ref}/{resource}, or TargetUnavailable."""
        if not self.project_ref or not self._token:
            raise ProbeMisconfigured("Supabase project_ref and access_token are both needed")
        path = f"/v1/projects/{self.project_ref}/{resource}"
        import httpx

        try:
            async with (await self._http()).stream("GET", path) as response:
                refuse_credentialed_redirect(response, "Supabase Management API")
                body = await read_limited(response, MAX_BODY_BYTES)
                if body is None:
                    raise TargetUnavailable(
                        f"Supabase Management API answer is larger than {size(MAX_BODY_BYTES)}",
                        request_id=_request_id(response))
        except httpx.TransportError as exc:
            reason = describe_transport_error(exc, self._timeout)
            raise TargetUnavailable(f"Supabase Management API: {reason}") from None
        except UnreadableBody as exc:
            raise TargetUnavailable(f"Supabase Management API answered badly: {exc}",
                                    request_id=_request_id(response)) from None
        self._raise_for_status(response, body)
        try:
            return parse_json(body)
        except UnreadableBody as exc:
            raise TargetUnavailable(
                f"Supabase Management API answered {resource} with a body that is not JSON"
                + ("" if str(exc).startswith("not JSON") else f" ({exc})"),
                request_id=_request_id(response)) from None


    def _raise_for_status(self, response: httpx.Response, body: bytes) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        request_id = _request_id(response)
        if status == 401:
            raise TargetUnavailable("Supabase access token rejected", request_id=request_id)
        if status == 403:
            raise TargetUnavailable(
                f"Supabase access token may not read project {self.project_ref} (403)",
                request_id=request_id)
        if status == 404:
            raise TargetUnavailable(
                f"Supabase project {self.project_ref} not found (404)", request_id=request_id)
        if status == 429:
            wait = rate_limit_wait(response.headers, self._now())
            hint = f"; retry in {wait:.0f}s" if wait else ""
            raise TargetUnavailable(f"Supabase Management API rate limit reached{hint}",
                                    request_id=request_id, retry_after=wait)
        message = _error_message(body)
        # The token is never echoed by the API, but be sure no error text can carry it.
        if self._token in message:
            message = ""
        suffix = f": {message}" if message else ""
        raise TargetUnavailable(f"Supabase Management API answered {status}{suffix}",
                                request_id=request_id)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
