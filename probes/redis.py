"""The Redis probe: memory against maxmemory, clients and throughput from one INFO.

It keeps exactly one connection, named `ppcockpit`, for its whole life. After any failure
the client is thrown away and the next check connects afresh, so a restarted server is
picked up and a half-read reply can never confuse a later check.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from ppcockpit import offloop
from ppcockpit.config_model import RedisProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, TargetUnavailable
from ppcockpit.probe import time_left
from ppcockpit.secrets import Redactor, redact_url
from ppcockpit.text import one_line
from probes import tls
from probes.causes import connection_refused, tls_failure
from probes.redis_info import Counters, UnexpectedInfo, summarize_info

CLIENT_NAME = "ppcockpit"
_SCHEMES = ("redis", "rediss", "unix")
# Socket timeouts a little under the runner's, so the probe can say which step hung.
_SOCKET_TIMEOUT_SHARE = 0.9
_CLOSE_TIMEOUT = 1.0
# What redis-py raises when it cannot make sense of the bytes a server sent back.
_UNREADABLE = (ValueError, IndexError, KeyError, TypeError, RecursionError, OverflowError)


class RedisProbe:
    """Watches one Redis server through a single persistent, named connection."""

    def __init__(self, url: str, settings: RedisProbeConfig, *, name: str = "redis",
                 ssl_ca_file: str | None = None) -> None:
        self.name = name
        self.target = redact_url(url)
        self.interval = settings.interval
        self.timeout = settings.timeout
        self._url = url
        self._settings = settings
        self._ssl_ca_file = ssl_ca_file
        self._endpoint, password = endpoint_and_password(url)
        # Anything we word ourselves from library errors goes through this first.
        self._redact = Redactor([v for v in (password, unquote(password or "")) if v])
        self._client: Any = None  # redis.asyncio.Redis, imported lazily
        self._in_doubt = False  # a command was interrupted: the connection state is unknown
        self._counters: Counters | None = None

    async def check(self, deadline: float | None = None) -> Reading:
        if self._in_doubt:
            await self._drop_client()
        client = self._client or await self._new_client(deadline)
        self._in_doubt = True
        try:
            info = await client.info()
        except Exception as exc:
            await self._drop_client()
            raise self._explain(exc) from None
        self._in_doubt = False
        result = summarize_info(info, self._settings.memory_warn, self._settings.memory_crit,
                                self._counters)
        if isinstance(result, UnexpectedInfo):
            raise TargetUnavailable(result.reason)
        self._counters = result.counters
        return Reading(probe=self.name, target=self.target, status=result.status,
                       label=result.label, summary=result.summary, metrics=result.metrics,
                       details=result.details)

    async def prepare(self) -> None:
        """redis-py's import is slow when cold: off the loop, before the first timed check."""
        await offloop.once(importlib.import_module, "redis.asyncio")

    async def aclose(self) -> None:
        await self._drop_client()

    async def _new_client(self, deadline: float | None) -> Any:
        socket_timeout = time_left(deadline, self.timeout) * _SOCKET_TIMEOUT_SHARE
        self._client = await open_client(self._url, client_name=CLIENT_NAME,
                                         socket_timeout=socket_timeout,
                                         ssl_ca_file=self._ssl_ca_file)
        return self._client

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._in_doubt = False
        if client is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await client.aclose()

    def _explain(self, exc: BaseException) -> Exception:
        """The one-line, secret-free reason for a failed check."""
        return explain(exc, self._endpoint, self._redact)

    def _safe(self, text: object) -> str:
        return self._redact(one_line(text))


def explain(exc: BaseException, where: str, redact: Callable[[str], str]) -> Exception:
    """The one-line, secret-free reason a Redis command failed (`where` names the
    server: host:port or the socket path)."""
    from redis import exceptions as errors

    def safe(text: object) -> str:
        return redact(one_line(text))

    tls_reason = tls_failure(exc)
    if tls_reason:
        return TargetUnavailable(safe(tls_reason))
    if connection_refused(exc):
        return TargetUnavailable(f"connection refused by {where}")
    if isinstance(exc, errors.AuthenticationError):
        if getattr(exc, "status_code", None) == "NOAUTH":
            return TargetUnavailable(f"authentication failed: password required by {where}")
        return TargetUnavailable("authentication failed: wrong password")
    if isinstance(exc, errors.TimeoutError | TimeoutError):
        return TargetUnavailable(f"timed out talking to {where}")
    if isinstance(exc, errors.BusyLoadingError):
        return TargetUnavailable(f"{where} is loading its dataset")
    if isinstance(exc, errors.NoPermissionError):
        return TargetUnavailable(f"permission denied: {safe(exc)}")
    if isinstance(exc, errors.ConnectionError):
        return TargetUnavailable(f"cannot talk to {where}: {safe(exc)}")
    if isinstance(exc, errors.ResponseError):
        return TargetUnavailable(f"unexpected reply from {where}: {safe(exc)}")
    if isinstance(exc, OSError):
        return TargetUnavailable(f"cannot connect to {where}: {safe(exc)}")
    if isinstance(exc, ProbeMisconfigured):
        return exc
    if isinstance(exc, (errors.RedisError, *_UNREADABLE)):
        # Bytes that are not a Redis reply (an HTTP server on the port, a hostile one):
        # the target answered badly, the probe is fine.
        detail = safe(exc) or type(exc).__name__
        return TargetUnavailable(f"{where} answered badly: not a Redis reply ({detail})")
    return RuntimeError(f"Redis probe failed: {type(exc).__name__}: {safe(exc)}")


async def open_client(url: str, *, client_name: str, socket_timeout: float,
                      ssl_ca_file: str | None = None, decode_responses: bool = True,
                      parser_class: type | None = None) -> Any:
    """One named Redis connection (redis.asyncio.Redis, a single connection of its own, no
    retries, bounded replies, RESP2), the TLS context built off the loop. Nothing is sent
    until the first command. ProbeMisconfigured for a URL that cannot work. Shared by the
    probe and by what else must talk to the same Redis (the rollback's flush: keys are
    bytes there, and its SCAN replies are larger, so it brings its own reply parser)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise ProbeMisconfigured(
            f"Redis URL must start with redis://, rediss:// or unix://, got {scheme!r}")
    context = None
    if scheme == "rediss":  # built in a thread, never by redis-py on the loop
        context = await tls.context("Redis", ssl_ca_file)
    import redis.asyncio
    from redis.asyncio.connection import ConnectionPool, parse_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from probes.redis_wire import BoundedReplyParser, PreparedTLSConnection

    options: dict[str, Any] = {
        "client_name": client_name,
        "decode_responses": decode_responses,
        # RESP2: every Redis speaks it (HELLO needs 6.0+) and INFO reads the same.
        "protocol": 2,
        "parser_class": parser_class or BoundedReplyParser,
        "socket_timeout": socket_timeout,
        # The caller paces retries (the runner with backoff); the library must not add its own.
        "retry": Retry(NoBackoff(), 0),
    }
    if scheme != "unix":
        options["socket_connect_timeout"] = socket_timeout
    try:
        # What Redis.from_url does (the URL's options win), with our TLS connection.
        options.update(parse_url(url))
        if context is not None:
            options["connection_class"] = PreparedTLSConnection
            options["prepared_ssl_context"] = context
        pool = ConnectionPool(**options)
    except (ValueError, TypeError) as exc:
        _, password = endpoint_and_password(url)
        redact = Redactor([v for v in (password, unquote(password or "")) if v])
        raise ProbeMisconfigured(
            f"invalid Redis URL {redact_url(url)}: {redact(one_line(exc))}") from None
    client = redis.asyncio.Redis(connection_pool=pool, single_connection_client=True)
    client.auto_close_connection_pool = True  # the pool is this client's alone
    return client


def endpoint_and_password(url: str) -> tuple[str, str | None]:
    """"host:port" (or the socket path) to name in messages, and the URL's password."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return parts.path or "the Unix socket", parts.password
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}", parts.password
    except ValueError:
        return "the configured Redis", None
