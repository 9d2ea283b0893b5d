"""HTTP clients for the probes, all sharing one TLS context.

Loading the CA bundle costs ~50 ms of CPU. Done per client, 200 health targets would spend
ten seconds of the event loop on it; done once, in a thread, it costs nothing anyone sees.
"""

from __future__ import annotations

import importlib
import ssl
import threading
from typing import TYPE_CHECKING, Any

from ppcockpit import offloop

if TYPE_CHECKING:
    import httpx  # imported where used: not before the cockpit's first frame


_context: ssl.SSLContext | None = None
_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """The process-wide client TLS context (httpx's defaults: certifi, SSL_CERT_FILE)."""
    global _context
    import httpx

    with _lock:
        if _context is None:
            _context = httpx.create_ssl_context()
        return _context


def _load_transport() -> None:
    tls_context()
    # What httpx imports lazily on a client's first request, imported here instead.
    for module in ("httpcore", "h11", "anyio._backends._asyncio"):
        importlib.import_module(module)


async def warm_up() -> None:
    """Everything an HTTP probe's first request would do on the event loop, in a thread."""
    await offloop.once(_load_transport)


async def new_client(**options: Any) -> httpx.AsyncClient:
    """An AsyncClient on the shared TLS context; the first call builds it off the loop."""
    if _context is None:
        await offloop.once(tls_context)
    import httpx

    return httpx.AsyncClient(verify=tls_context(), **options)


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
            self._client = await new_client(**self._options)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


async def read_limited(response: httpx.Response, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be larger than `limit` bytes (the
    declared Content-Length, or what has arrived): leaving the stream reads no more."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
