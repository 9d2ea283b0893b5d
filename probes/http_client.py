"""HTTP clients for the probes, all sharing one TLS context, and the rules they share.

Loading the CA bundle costs ~50 ms of CPU. Done per client, 200 health targets would spend
ten seconds of the event loop on it; done once, in a thread (`probes.tls`), it costs nothing
anyone sees. Bodies are read through `probes.body` (capped, decompressed within the cap),
and a redirect is followed only within the configured origin (`same_origin`).
"""

from __future__ import annotations

import importlib
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ppcockpit import offloop
from ppcockpit.model import TargetUnavailable
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from probes import tls
from probes.body import ACCEPT_ENCODING, BodyCap, BodyTooLarge

if TYPE_CHECKING:
    import httpx  # imported where used: not before the cockpit's first frame

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def tls_context() -> ssl.SSLContext:
    """The process-wide client TLS context (httpx's defaults: SSL_CERT_FILE, SSL_CERT_DIR,
    certifi), for a worker thread: waits a bounded time, never on a lock."""
    return tls.context_blocking()


def load_transport() -> None:
    """Everything an httpx probe's first request would do on the event loop (blocking: run it
    in a worker thread). SSL_CERT_FILE is checked before anything TLS is imported."""
    tls.ensure_environment()
    tls_context()
    # What httpx imports lazily on a client's first request, imported here instead.
    for module in ("httpx", "httpcore", "h11", "anyio._backends._asyncio"):
        importlib.import_module(module)


async def warm_up() -> None:
    """load_transport(), in a thread."""
    await offloop.once(load_transport)


async def new_client(**options: Any) -> httpx.AsyncClient:
    """An AsyncClient on the shared TLS context (awaited, never built on the loop). It asks
    only for encodings `probes.body` can decompress within its cap."""
    context = await tls.context()
    import httpx

    headers = {"Accept-Encoding": ACCEPT_ENCODING, **options.pop("headers", {})}
    return httpx.AsyncClient(verify=context, headers=headers, **options)


class KeptClient:
    """One AsyncClient kept across a probe's checks (keep-alive): built on first use from
    the options given here, warmed up off the loop, closed with the probe."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._client: httpx.AsyncClient | None = None

    async def prepare(self) -> None:
        """Imports and the TLS context, off the loop, before the first timed check."""
        await warm_up()

    async def get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = await new_client(**dict(self._options))
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


async def read_limited(response: httpx.Response, limit: int) -> bytes | None:
    """The body, decompressed, or None as soon as it is known to be larger than `limit`
    bytes (declared, arrived or decompressed): leaving the stream reads no more.

    Raises `probes.body.UnreadableBody` (a ValueError) for an encoding that cannot be read.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    cap = BodyCap(limit, response.headers.get("content-encoding"))
    try:
        async for chunk in response.aiter_raw():
            cap.feed(chunk)
        return cap.finish()
    except BodyTooLarge:
        return None


# --- origins and redirects ----------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; ValueError if bad."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def same_origin(url: str, other: str) -> bool:
    """Both URLs are on the same scheme, host and port (an unreadable URL is on none)."""
    try:
        return origin(url) == origin(other)
    except ValueError:
        return False


def refuse_redirect(response: httpx.Response, what: str, why: str,
                    request_id: str | None = None) -> None:
    """A redirect answer is the target's doing, reported, never followed with what the
    request carried: TargetUnavailable naming where it pointed (password hidden)."""
    location = redirect_location(response.status_code, response.headers.get("location"),
                                 str(response.request.url))
    if location is not None:
        raise TargetUnavailable(
            f"{what} answered {response.status_code}: redirected to "
            f"{one_line(redact_url(location), 80)}, not followed ({why})",
            request_id=request_id)


def redirect_location(status: int, location: str | None, current: str) -> str | None:
    """The absolute URL a redirect answer points at; None when the answer is no redirect."""
    if status not in REDIRECT_STATUSES or not location:
        return None
    return urljoin(current, location.strip())
