"""Shared fixtures: real services on loopback, and nothing from the developer's machine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from ppcockpit.redis_server import RedisServer
from tests.support.http_stub import Serve, serve_app


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No developer config, Redis URL, proxy or terminal size leaks into a test (pytest-xdist
    workers, for one, set COLUMNS)."""
    proxies = [f"{scheme}_proxy" for scheme in ("http", "https", "all", "no")]
    for name in ("PPCOCKPIT_CONFIG", "REDIS_URL", "POSTHOG_PERSONAL_API_KEY",
                 "POSTHOG_API_KEY", "STAGING_REDIS_URL", "POSTHOG_CAPTURE_MODE", "COLUMNS",
                 "LINES",
                 *proxies, *(p.upper() for p in proxies)):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USER", "oncall")
    # Journals and release logs of tests stay in the test's own directory.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free port with maxmemory 16mb."""
    server = RedisServer.start(maxmemory="16mb")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve aiohttp apps on loopback until the test ends: `base_url = await serve(app)`."""
    async with contextlib.AsyncExitStack() as stack:
        async def start(app: web.Application) -> str:
            return await stack.enter_async_context(serve_app(app))

        yield start
