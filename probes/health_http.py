"""One GET of a health route with aiohttp, and one line that says why it failed when it did.

aiohttp rather than httpx for this probe alone: it is the probe a fleet runs by the hundred
in one sweep, and aiohttp's C parser spends half the CPU per request that httpx does, which
is the difference between a sweep of 200 targets taking as long as the slowest one and
taking half as long again (bench/fanout.py). Imported by the probe's prepare(), in a thread,
never before the cockpit's first frame.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from dataclasses import dataclass

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from ppcockpit.model import ProbeMisconfigured, TargetUnavailable
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from probes.causes import exception_chain
from probes.http_client import tls_context

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes | None  # None: larger than the limit, and no more of it was read
    request_id: str | None


class HealthSession:
    """A kept aiohttp session (keep-alive across checks) for one health URL."""

    def __init__(self, *, timeout: float, headers: dict[str, str], max_redirects: int) -> None:
        self.timeout = timeout
        self.headers = headers
        self.max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None
        self._proxy: tuple[URL | None, aiohttp.BasicAuth | None] | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls_context(), limit=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers=self.headers,
            )
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def get(self, url: str, limit: int) -> Answer:
        """The answer, whatever its HTTP status; TargetUnavailable when there is none."""
        request_id: str | None = None
        if self._proxy is None:
            # HTTP(S)_PROXY / NO_PROXY, read once: aiohttp's trust_env would read them (and
            # ~/.netrc) again on every request, a third of a 200-target sweep's CPU.
            self._proxy = await asyncio.to_thread(_env_proxy, URL(url))
        proxy, proxy_auth = self._proxy
        try:
            async with self._open().get(url, max_redirects=self.max_redirects, proxy=proxy,
                                        proxy_auth=proxy_auth) as response:
                request_id = one_line(response.headers.get("x-request-id", ""), 100) or None
                content_type = response.headers.get("content-type", "")
                body = await _read_capped(response, limit, request_id)
                return Answer(response.status, content_type, body, request_id)
        except TimeoutError as exc:
            raise TargetUnavailable(f"timed out after {self.timeout:g}s",
                                    request_id=request_id) from exc
        except aiohttp.TooManyRedirects as exc:
            raise TargetUnavailable(f"redirect loop: more than {self.max_redirects} redirects",
                                    request_id=request_id) from exc
        except aiohttp.RedirectClientError as exc:  # the target's doing, not the config's
            where = _shown_url(exc)
            raise TargetUnavailable(f"redirected to {where}, which cannot be followed",
                                    request_id=request_id) from exc
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            where = _shown_url(exc)
            raise ProbeMisconfigured(f"cannot request {where}: not an http(s) URL") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TargetUnavailable(_connect_reason(exc), request_id=request_id) from exc
        except aiohttp.ClientError as exc:
            reason = one_line(exc, 120) or type(exc).__name__
            raise TargetUnavailable(f"HTTP error from {_host_port(URL(url))}: {reason}",
                                    request_id=request_id) from exc


async def _read_capped(response: aiohttp.ClientResponse, limit: int,
                       request_id: str | None) -> bytes | None:
    """The body, or None as soon as it is known to be larger than `limit` bytes."""
    declared = response.content_length
    if declared is not None and declared > limit:
        response.close()  # the connection goes: none of the body is read
        return None
    body = bytearray()
    try:
        async for chunk in response.content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > limit:
                response.close()
                return None
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        if isinstance(exc, aiohttp.ServerTimeoutError):
            raise
        raise TargetUnavailable(
            f"answer cut short after {len(body)} bytes: {one_line(exc, 80)}",
            request_id=request_id) from exc
    return bytes(body)


def _shown_url(exc: aiohttp.ClientError) -> str:
    """The URL an aiohttp URL error is about, password and query hidden."""
    url = getattr(exc, "url", None) or (exc.args[0] if exc.args else "?")
    return one_line(redact_url(str(url)), 80)


def _env_proxy(url: URL) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    try:
        return get_env_proxy_for_url(url)
    except LookupError:
        return None, None


def _connect_reason(exc: aiohttp.ClientConnectorError) -> str:
    host = exc.host
    where = _where(host, exc.port)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed for {host}"
    for cause in (exc.os_error, *exception_chain(exc, limit=10)):
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = one_line(cause.verify_message or cause.reason or "", 80)
            return (f"TLS error: certificate verify failed ({detail})" if detail
                    else "TLS error: certificate verify failed")
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or one_line(cause, 80)
            return f"TLS error: {one_line(reason, 80).lower().replace('_', ' ')}"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {host}"
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == \
                errno.ECONNREFUSED:
            return f"connection refused by {where}"
    return f"cannot connect to {where}: {one_line(exc.os_error, 100) or type(exc).__name__}"


def _host_port(url: URL) -> str:
    return _where(url.host or "?", url.port or (443 if url.scheme == "https" else 80))


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
