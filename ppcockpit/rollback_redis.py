"""The rollback's Redis work: count the keys a pattern matches (read-only), remove them
with SCAN + UNLINK in batches, or FLUSHALL when the plan allows it.

One short-lived connection per piece of work, named `ppcockpit-rollback` (the probe's is
`ppcockpit`), closed after. Keys are read as bytes (any key a server holds can be
counted and removed) and never shown: only their number. redis-py is imported on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from ppcockpit.model import TargetUnavailable
from ppcockpit.secrets import Redactor, redact_url

CLIENT_NAME = "ppcockpit-rollback"
MAX_COUNTED = 200_000  # distinct keys remembered while counting; beyond: "at least"
SOCKET_TIMEOUT = 5.0
CLOSE_TIMEOUT = 1.0
MAX_SCAN_REPLY_BYTES = 16 * 1024 * 1024
MAX_SCAN_ARRAY = 100_000  # SCAN's COUNT is a hint; a reply may hold somewhat more


@dataclass(frozen=True, slots=True)
class KeyCount:
    keys: int
    capped: bool = False  # counting stopped at MAX_COUNTED

    def text(self) -> str:
        word = "key" if self.keys == 1 else "keys"
        return f"at least {self.keys:,} {word}" if self.capped else f"{self.keys:,} {word}"


@dataclass(frozen=True, slots=True)
class FlushResult:
    removed: int
    remaining: KeyCount  # what matches the pattern once it is done (written meanwhile)


@cache
def _scan_parser() -> type:
    from probes.redis_wire import BoundedReplyParser

    class ScanReplyParser(BoundedReplyParser):
        max_reply_bytes = MAX_SCAN_REPLY_BYTES
        max_array = MAX_SCAN_ARRAY

    return ScanReplyParser


class RedisKeys:
    """The keys of the Redis at `url`, for the rollback."""

    def __init__(self, url: str, *, socket_timeout: float = SOCKET_TIMEOUT) -> None:
        from probes.redis import endpoint_and_password

        self.url = url
        self.shown = redact_url(url)
        self.endpoint, password = endpoint_and_password(url)
        self._redact = Redactor([password] if password else [])
        self._socket_timeout = socket_timeout

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Any]:
        from probes.redis import explain, open_client

        client = await open_client(self.url, client_name=CLIENT_NAME,
                                   socket_timeout=self._socket_timeout,
                                   decode_responses=False, parser_class=_scan_parser())
        try:
            yield client
        except (TargetUnavailable, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise explain(exc, self.endpoint, self._redact) from None
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await client.aclose()

    async def count(self, pattern: str, batch: int) -> KeyCount:
        """How many keys match `pattern` (SCAN MATCH COUNT batch: read-only)."""
        async with self._client() as client:
            return await _count(client, pattern, batch)

    async def dbsize(self) -> int:
        async with self._client() as client:
            return int(await client.dbsize())

    async def unlink_matching(self, pattern: str, batch: int,
                              progress: Callable[[int], None]) -> FlushResult:
        """SCAN MATCH `pattern` COUNT `batch`, UNLINK what each round returns: only keys
        the server says match. `progress(removed so far)` after every round."""
        removed = 0
        async with self._client() as client:
            cursor = 0
            while True:
                cursor, keys = await client.scan(cursor, match=pattern, count=batch)
                if keys:
                    removed += int(await client.unlink(*keys))
                progress(removed)
                if int(cursor) == 0:
                    break
            remaining = await _count(client, pattern, batch)
        return FlushResult(removed, remaining)

    async def flushall(self) -> int:
        """FLUSHALL ASYNC; the number of keys there were just before."""
        async with self._client() as client:
            before = int(await client.dbsize())
            await client.flushall(asynchronous=True)
            return before


async def _count(client: Any, pattern: str, batch: int) -> KeyCount:
    seen: set[bytes] = set()  # SCAN may return a key twice: count each once
    cursor = 0
    while True:
        cursor, keys = await client.scan(cursor, match=pattern, count=batch)
        seen.update(keys)
        if len(seen) >= MAX_COUNTED:
            return KeyCount(len(seen), capped=True)
        if int(cursor) == 0:
            return KeyCount(len(seen))
