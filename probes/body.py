"""Bodies from outside: counted against a cap as they arrive, decompressed within that cap,
and parsed as JSON so that no failure escapes as anything but `UnreadableBody`.

One reader for every HTTP client the probes use (httpx's raw stream, aiohttp's with
auto-decompression off): a gzip bomb (10 MB of zeros in 10 KB) costs at most the cap, because
zlib is never asked for more than the cap has room for.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from ppcockpit.text import one_line

# Only what BodyCap can decompress within its cap (no br/zstd: their decoders may not be
# installed, and a server that sends one anyway is answered with a clear UnreadableBody).
ACCEPT_ENCODING = "gzip, deflate"
MAX_ENCODINGS = 2  # "gzip, gzip" is legal; a stack of twenty is an attack


class BodyTooLarge(Exception):
    """The body, decompressed, is larger than the cap."""


class UnreadableBody(ValueError):
    """The body cannot be read: an unknown encoding, a corrupt stream, JSON that is not."""


class _Inflater:
    """One zlib stream (gzip or deflate; members back to back are read in turn)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._decoder = zlib.decompressobj(self._wbits)
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """What `data` inflates to, but never more than `room` + 1 bytes (the caller then
        knows the cap is passed)."""
        out = bytearray()
        while data and len(out) <= room:
            try:
                out += self._decoder.decompress(data, room + 1 - len(out))
            except zlib.error:
                if self.encoding == "deflate" and self._first:
                    # Some servers send raw deflate without the zlib header.
                    self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise UnreadableBody(f"corrupt {self.encoding} stream") from None
            self._first = False
            if self._decoder.unconsumed_tail:
                data = self._decoder.unconsumed_tail
            elif self._decoder.eof and self._decoder.unused_data:
                data = self._decoder.unused_data  # another gzip member follows
                self._decoder = zlib.decompressobj(self._wbits)
            else:
                data = b""
        return bytes(out)

    def flush(self, room: int) -> bytes:
        try:
            return self._decoder.flush(max(1, min(room + 1, 64 * 1024)))
        except zlib.error:
            raise UnreadableBody(f"corrupt {self.encoding} stream") from None


def _decoders(content_encoding: str | None) -> list[_Inflater]:
    names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    if len(names) > MAX_ENCODINGS:
        raise UnreadableBody(f"{len(names)} content encodings stacked")
    decoders = []
    for name in reversed(names):  # the last encoding applied is the first undone
        if name in ("gzip", "x-gzip"):
            decoders.append(_Inflater("gzip"))
        elif name == "deflate":
            decoders.append(_Inflater("deflate"))
        else:
            raise UnreadableBody(f"unsupported Content-Encoding {one_line(name, 30)!r}")
    return decoders


class BodyCap:
    """Feed it the raw chunks of one body as they arrive; `finish()` gives the decoded body.

    `feed` raises BodyTooLarge the moment the decoded body passes `limit` bytes, and
    UnreadableBody for an encoding it cannot read. Memory held: at most `limit` + 1 decoded
    bytes, plus the chunk being fed.
    """

    def __init__(self, limit: int, content_encoding: str | None = None) -> None:
        self.limit = limit
        self.received = 0  # raw bytes fed, as they came off the wire
        self._decoders = _decoders(content_encoding)
        self._body = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        for index, decoder in enumerate(self._decoders):
            room = self._stage_room(index)
            chunk = decoder.feed(chunk, room)
            if len(chunk) > room:
                raise BodyTooLarge
        self._append(chunk)

    def finish(self) -> bytes:
        data = b""
        for index, decoder in enumerate(self._decoders):  # what each holds goes on down
            room = self._stage_room(index)
            out = decoder.feed(data, room) if data else b""
            data = out + decoder.flush(max(0, room - len(out)))
            if len(data) > room:
                raise BodyTooLarge
        self._append(data)
        return bytes(self._body)

    def _stage_room(self, index: int) -> int:
        """Room for what decoder `index` gives: the body's own room for the last one; for one
        whose output is still compressed, what could still inflate to fit (deflate never takes
        more than about twice the bytes it inflates to, plus its headers)."""
        if index == len(self._decoders) - 1:
            return self._room
        return 2 * self._room + 1024

    @property
    def size(self) -> int:
        return len(self._body)

    @property
    def _room(self) -> int:
        return self.limit - len(self._body)

    def _append(self, data: bytes) -> None:
        if len(data) > self._room:
            raise BodyTooLarge
        self._body += data


def parse_json(body: bytes) -> Any:
    """The JSON value of a body (UTF-8, a BOM allowed), or UnreadableBody saying why in a few
    words: nothing a hostile body holds (nesting 100,000 deep, a 5,000-digit number, bytes
    that are not UTF-8) escapes as another exception."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableBody("not UTF-8 text") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise UnreadableBody("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise UnreadableBody(f"not JSON ({exc.msg.lower()} at byte {exc.pos})") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python will convert
        raise UnreadableBody(f"unreadable JSON: {one_line(exc, 60)}") from None


def json_kind(value: Any) -> str:
    """What kind of JSON value `value` is, in a few words for a message: "a number",
    "a list", "null", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
