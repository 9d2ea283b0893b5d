"""One GET of a health route with aiohttp, and one line that says why it failed when it did.

aiohttp rather than httpx for this probe alone: it is the probe a fleet runs by the hundred
in one sweep, and aiohttp's C parser spends half the CPU per request that httpx does, which
is the difference between a sweep of 200 targets taking as long as the slowest one and
taking half as long again (bench/fanout.py). Imported by the probe's prepare(), in a thread,
never before the cockpit's first frame.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from ppcockpit.model import ProbeMisconfigured, TargetUnavailable
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from probes import tls
from probes.body import ACCEPT_ENCODING, BodyCap, BodyTooLarge, UnreadableBody
from probes.causes import connection_refused, exception_chain, tls_failure
from probes.http_client import REDIRECT_STATUSES, same_origin

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes | None  # None: larger than the limit, and no more of it was read
    request_id: str | None


class HealthSession:
    """A kept aiohttp session (keep-alive across checks) for one health URL.

    Redirects are followed by hand, and only within the configured origin (scheme, host,
    port): an answer from another host is never reported as the app's. Bodies arrive
    undecompressed and go through `probes.body.BodyCap`, so a gzip bomb costs the cap.
    """

    def __init__(self, *, timeout: float, headers: dict[str, str], max_redirects: int) -> None:
        self.timeout = timeout
        self.headers = {"Accept-Encoding": ACCEPT_ENCODING, **headers}
        self.max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None
        self._proxy: tuple[URL | None, aiohttp.BasicAuth | None] | None = None

    def _open(self, context: ssl.SSLContext) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context, limit=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers=self.headers,
                auto_decompress=False,  # BodyCap decompresses, within the cap
            )
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def get(self, url: str, limit: int) -> Answer:
        """The answer, whatever its HTTP status; TargetUnavailable when there is none."""
        session = self._open(await tls.context())
        hops = _Hops(url, self.max_redirects)
        try:
            async with asyncio.timeout(self.timeout):
                if self._proxy is None:
                    # HTTP(S)_PROXY / NO_PROXY, read once: aiohttp's trust_env would read them
                    # (and ~/.netrc) again on every request, a third of a 200-target sweep.
                    self._proxy = await asyncio.to_thread(_env_proxy, URL(url))
                while True:
                    answer, location = await self._get_once(session, hops, limit)
                    if location is None:
                        return answer
                    hops.follow(location)
        except TimeoutError as exc:
            raise TargetUnavailable(f"timed out after {self.timeout:g}s",
                                    request_id=hops.request_id) from exc

    async def _get_once(self, session: aiohttp.ClientSession, hops: _Hops,
                        limit: int) -> tuple[Answer, str | None]:
        """One request, no redirect followed: the answer, and where it redirects to."""
        url = hops.current
        request_id: str | None = None
        proxy, proxy_auth = self._proxy or (None, None)
        try:
            async with session.get(url, allow_redirects=False, proxy=proxy,
                                   proxy_auth=proxy_auth) as response:
                request_id = one_line(response.headers.get("x-request-id", ""), 100) or None
                hops.request_id = request_id  # kept should the body then time out
                location = response.headers.get("location")
                if response.status in REDIRECT_STATUSES and location:
                    return Answer(response.status, "", b"", request_id), location
                content_type = response.headers.get("content-type", "")
                body = await _read_capped(response, limit, request_id)
                return Answer(response.status, content_type, body, request_id), None
        except TimeoutError:
            raise  # the whole exchange's timeout, worded by get()
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            raise ProbeMisconfigured(
                f"cannot request {_shown(url)}: not an http(s) URL") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TargetUnavailable(_connect_reason(exc), request_id=request_id) from exc
        except aiohttp.ClientError as exc:
            reason = tls_failure(exc) or one_line(exc, 120) or type(exc).__name__
            raise TargetUnavailable(f"HTTP error from {_host_port(URL(url))}: {reason}",
                                    request_id=request_id) from exc


class _Hops:
    """Where a chain of redirects has got to, and the rules for the next one."""

    def __init__(self, url: str, max_redirects: int) -> None:
        self.first = url
        self.current = url
        self.max_redirects = max_redirects
        self.count = 0
        self.request_id: str | None = None

    def follow(self, location: str) -> None:
        request_id = self.request_id
        try:
            target = str(URL(self.current).join(URL(location.strip())))
        except (ValueError, TypeError):
            raise TargetUnavailable(
                f"redirected to an unreadable address: {one_line(location, 60)}",
                request_id=request_id) from None
        if not same_origin(target, self.first):
            raise TargetUnavailable(
                f"redirected to {_shown(target)}: another origin than "
                f"{_shown(_origin_of(self.first))}, not followed", request_id=request_id)
        self.count += 1
        if self.count > self.max_redirects:
            raise TargetUnavailable(f"redirect loop: more than {self.max_redirects} redirects",
                                    request_id=request_id)
        self.current = target


async def _read_capped(response: aiohttp.ClientResponse, limit: int,
                       request_id: str | None) -> bytes | None:
    """The body, decompressed, or None as soon as it is known to be larger than `limit`."""
    declared = response.content_length
    if declared is not None and declared > limit:
        response.close()  # the connection goes: none of the body is read
        return None
    try:
        cap = BodyCap(limit, response.headers.get("content-encoding"))
    except UnreadableBody as exc:
        response.close()
        raise TargetUnavailable(f"answered badly: {exc}", request_id=request_id) from None
    try:
        async for chunk in response.content.iter_chunked(CHUNK):
            cap.feed(chunk)
        return cap.finish()
    except BodyTooLarge:
        response.close()
        return None
    except UnreadableBody as exc:
        response.close()
        raise TargetUnavailable(f"answered badly: {exc}", request_id=request_id) from None
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        if isinstance(exc, aiohttp.ServerTimeoutError):
            raise
        raise TargetUnavailable(
            f"answer cut short after {cap.received} bytes: {one_line(exc, 80)}",
            request_id=request_id) from exc


def _shown(url: str) -> str:
    """A URL fit to show: password and query hidden, one short line."""
    return one_line(redact_url(url), 80)


def _origin_of(url: str) -> str:
    parts = URL(url)
    return str(parts.origin()) if parts.absolute else url


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
    tls_reason = tls_failure(exc.os_error) or tls_failure(exc)
    if tls_reason:
        return tls_reason
    if any(isinstance(c, socket.gaierror) for c in exception_chain(exc, 20)):
        return f"DNS lookup failed for {host}"
    if connection_refused(exc.os_error) or connection_refused(exc):
        return f"connection refused by {where}"
    return f"cannot connect to {where}: {one_line(exc.os_error, 100) or type(exc).__name__}"


def _host_port(url: URL) -> str:
    return _where(url.host or "?", url.port or (443 if url.scheme == "https" else 80))


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
