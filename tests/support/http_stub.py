"""Serve an aiohttp.web Application on loopback for the length of a test.

    async with serve_app(app) as base_url:          # "http://127.0.0.1:PORT"
        ...
    async with serve_handler(handler) as base_url:  # one handler answers every path
        ...

The port is chosen by the kernel (port 0), so there is no free-port race. Handlers are
cancelled when their client goes away, so a handler that streams forever or waits on an
event that never comes does not hold up the test's teardown.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[[web.Application], Awaitable[str]]  # the `serve` fixture: app -> base URL


@asynccontextmanager
async def serve_app(app: web.Application, *, host: str = "127.0.0.1",
                    ssl_context: ssl.SSLContext | None = None,
                    shutdown_timeout: float = 0.5) -> AsyncIterator[str]:
    """Run `app` on a free port of `host`; yield its base URL (https when ssl_context)."""
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                           shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
        await site.start()
        port = runner.addresses[0][1]
        scheme = "https" if ssl_context is not None else "http"
        yield f"{scheme}://{host}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve_handler(handler: Handler, *, host: str = "127.0.0.1",
                        ssl_context: ssl.SSLContext | None = None,
                        shutdown_timeout: float = 0.5) -> AsyncIterator[str]:
    """Run one handler for every method and path; otherwise as serve_app."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with serve_app(app, host=host, ssl_context=ssl_context,
                         shutdown_timeout=shutdown_timeout) as base_url:
        yield base_url
