"""Small pieces every loopback stand-in server shares."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from typing import Any

from aiohttp import web

SHUTDOWN_TIMEOUT = 1.0  # seconds a stopping server waits for requests in flight


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve `app` on a free 127.0.0.1 port; the socket is bound before anyone can take it."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        site = web.SockSite(runner, sock)
        await site.start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return runner, sock.getsockname()[1]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  ) -> web.Response:
    return web.Response(text=json.dumps(body, separators=(",", ":")), status=status,
                        content_type="application/json", headers=headers)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def json_body(request: web.Request) -> Any:
    """The request's JSON, or None when it is missing or not JSON."""
    try:
        return json.loads(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


class RateWindow:
    """At most `limit` calls per `period` seconds (real time); says how long to wait."""

    def __init__(self, limit: int, period: float = 60.0) -> None:
        self.limit = limit
        self.period = period
        self._calls: deque[float] = deque(maxlen=limit)

    def wait(self, now: float | None = None) -> float:
        """0 and the call is counted, or the seconds until one is allowed."""
        now = time.monotonic() if now is None else now
        if len(self._calls) == self.limit and now - self._calls[0] < self.period:
            return self.period - (now - self._calls[0])
        self._calls.append(now)
        return 0.0

    def remaining(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return self.limit - sum(1 for t in self._calls if now - t < self.period)


class RequestLog:
    """A bounded, thread-safe record of what clients asked (read from other threads)."""

    def __init__(self, capacity: int = 200) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._items.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._items]
