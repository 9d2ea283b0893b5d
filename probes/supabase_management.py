"""A small client for the Supabase Management API, shared by the backups and migrations probes.

It turns every way a request can go wrong (refused, timed out, 401, 429, 5xx, a body that is
not JSON) into a one-line `TargetUnavailable` that never carries the access token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ppcockpit.config_model import SupabaseEnvironment
from ppcockpit.model import ProbeMisconfigured, TargetUnavailable
from ppcockpit.text import one_line
from probes.http_client import new_client, read_limited

if TYPE_CHECKING:
    import httpx  # imported where used: not before the cockpit's first frame

MAX_BODY_BYTES = 4 * 1024 * 1024  # a backup or migration list is a few KB; never read more
_MAX_RETRY_AFTER = 3600.0
_REQUEST_ID_HEADERS = ("sb-request-id", "x-request-id", "cf-ray")


def rate_limit_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds to wait before asking again, from X-RateLimit-Reset (or Retry-After).

    The reset is documented as "seconds"; a value that looks like a unix time is read as one.
    """
    for name in ("x-ratelimit-reset", "retry-after"):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            continue
        if value != value or value < 0:  # NaN or negative
            continue
        if value > 1_000_000_000:  # an epoch timestamp, not a delay
            value -= now
        return min(max(value, 1.0), _MAX_RETRY_AFTER)
    return None


def describe_transport_error(exc: httpx.TransportError, timeout: float) -> str:
    """A short reason for a failed request, without the URL (it may carry a token)."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "refused" in text or "all connection attempts failed" in text:
            return "connection refused"
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
            return "host name not found"
        return "cannot connect"
    return f"connection failed ({type(exc).__name__})"


def _request_id(response: httpx.Response) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return one_line(value, limit=80)
    return None


def _error_message(body: bytes) -> str:
    """The `message` of an error body (unconfirmed shape), shortened; empty when absent."""
    try:
        data = json.loads(body)
    except ValueError:
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
        host = urlsplit(self.base_url).netloc or self.base_url
        return f"Supabase project {self.project_ref} ({host})"

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
                body = await read_limited(response, MAX_BODY_BYTES)
                if body is None:
                    raise TargetUnavailable(
                        f"Supabase Management API answer is larger than {MAX_BODY_BYTES} bytes")
        except httpx.TransportError as exc:
            reason = describe_transport_error(exc, self._timeout)
            raise TargetUnavailable(f"Supabase Management API: {reason}") from None
        self._raise_for_status(response, body)
        try:
            return json.loads(body)
        except ValueError:
            raise TargetUnavailable(
                f"Supabase Management API answered {resource} with a body that is not JSON",
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
