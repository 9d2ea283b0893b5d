"""The redis-py pieces the Redis probe plugs in: a reply reader with a budget, and a TLS
connection on a context built off the event loop.

redis-py reads a bulk reply of whatever length the server announces ("$9999999999") and
builds a TLS context (reading CA files) on the loop at each connect. A server that is not
Redis, or is hostile, must cost a bounded read and a clear "answered badly", and the loop
must never wait on a file. Imported with redis.asyncio, never before the first frame.
"""

from __future__ import annotations

import ssl
from typing import Any

from redis._parsers.resp2 import _AsyncRESP2Parser
from redis.asyncio.connection import SSLConnection
from redis.exceptions import InvalidResponse

from ppcockpit.text import one_line
from ppcockpit.units import size

MAX_REPLY_BYTES = 1024 * 1024  # an INFO reply is ~6 KB; no reply the probe asks for is near
MAX_ARRAY = 1024  # the probe's commands answer with a string; no array of theirs is near


class BoundedReplyParser(_AsyncRESP2Parser):
    """RESP2, with at most MAX_REPLY_BYTES read for any one reply (lines, bulk strings and
    the elements of arrays all count) and at most MAX_ARRAY elements announced for an array:
    an announced length or count is never believed beyond the budget."""

    max_reply_bytes = MAX_REPLY_BYTES
    max_array = MAX_ARRAY

    async def read_response(self, disable_decoding: bool = False) -> Any:
        self._budget = self.max_reply_bytes
        return await super().read_response(disable_decoding=disable_decoding)

    def _spend(self, count: int) -> None:
        self._budget -= count
        if self._budget < 0:
            raise InvalidResponse(f"reply larger than {size(self.max_reply_bytes)}")

    async def _read(self, length: int) -> bytes:
        if length < 0:
            raise InvalidResponse(f"negative length {length}")
        self._spend(length + 2)  # before reading: the announced length is not believed
        return await super()._read(length)

    async def _readline(self) -> bytes:
        line = await super()._readline()
        self._spend(len(line) + 2)
        if line[:1] == b"*" and line[1:].isdigit() and int(line[1:]) > self.max_array:
            raise InvalidResponse(f"array of {one_line(line[1:20].decode(), 20)} elements")
        return line


class PreparedTLSConnection(SSLConnection):
    """An SSLConnection on a context built beforehand (in a thread, by `probes.tls`)."""

    def __init__(self, *, prepared_ssl_context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ssl_context.context = prepared_ssl_context  # RedisSSLContext.get() returns it
