"""Raw log lines into `LogLine`s: the app's JSON lines become columns, anything else stays as
it came. Pure: no I/O. Whatever comes in, a safe line comes out (never an exception, never a
control character, never longer than the cap plus the cut marker, never a secret value)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ppcockpit.logs import Level, LogBuffer, LogLine, cut_marker
from ppcockpit.text import strip_controls

_raw_decode = json.JSONDecoder().raw_decode


def _json_decode(text: str) -> Any:
    value, end = _raw_decode(text)  # the text starts and ends with a brace: no whitespace
    if end != len(text):
        raise ValueError("extra data after the JSON value")
    return value


try:  # msgspec decodes the app's lines about twice as fast; the stdlib does the same job
    import msgspec

    _fast_decode: Callable[[str], Any] | None = msgspec.json.Decoder().decode
    _FAST_ERRORS: tuple[type[BaseException], ...] = (msgspec.MsgspecError, RecursionError)
except ImportError:  # pragma: no cover - depends on the environment
    _fast_decode, _FAST_ERRORS = None, ()


def _decode(text: str) -> Any:
    """JSON as the stdlib reads it (msgspec first, when installed: it refuses a few inputs
    the stdlib accepts, NaN and lone surrogates, and those go to the stdlib)."""
    if _fast_decode is not None:
        try:
            return _fast_decode(text)
        except _FAST_ERRORS:
            pass
    return _json_decode(text)


DEFAULT_MAX_LINE_BYTES = 16 * 1024
SECRET_PREFIX = 4  # the Redactor's shortest secret
PREFIX_LIMIT = 160  # `kubectl logs --timestamps` and `fly logs` put a prefix before the JSON
MAX_DEPTH = 32  # JSON nested deeper is shown raw

_LEVELS: dict[str, Level] = {
    "debug": "debug", "trace": "debug", "verbose": "debug",
    "info": "info", "information": "info", "notice": "info",
    "warn": "warn", "warning": "warn",
    "error": "error", "err": "error", "fatal": "error", "critical": "error", "crit": "error",
    "panic": "error", "alert": "error", "emerg": "error", "emergency": "error",
}
_UNSAFE_AFTER_STRIP = re.compile("[\t\n\u2028\u2029\ud800-\udfff]")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ](\d\d:\d\d:\d\d)(\.\d{1,3})?")


def identity(text: str) -> str:
    return text


def clean(text: str) -> str:
    """Outside text fit for one screen row: escapes and control characters gone, tabs and
    newlines as spaces, lone surrogates (from JSON escapes) replaced."""
    if text.isprintable():  # the common case, and ten times cheaper than the regexes
        return text
    text = strip_controls(text)
    return _UNSAFE_AFTER_STRIP.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    return "\ufffd" if "\ud800" <= match.group(0) <= "\udfff" else " "


def short_time(timestamp: str) -> str:
    """`2026-11-28T10:00:00.123Z` → `10:00:00.123`; anything else as it is, shortened."""
    if (len(timestamp) >= 20 and timestamp[10] == "T" and timestamp[19] == "."
            and timestamp[20:23].isdigit()):
        return timestamp[11:23]  # the app's own form, without a regex
    match = _ISO_TIME.match(timestamp)
    if match:
        return match.group(1) + (match.group(2) or "")
    return timestamp if len(timestamp) <= 23 else timestamp[:22] + "…"


class _Unexpected(Exception):
    """A JSON line whose columns are not the app's types: shown raw."""


class LineParser:
    """Turns raw lines into LogLines. `redact` replaces configured secret values; give it a
    `ppcockpit.secrets.Redactor` (its `values` also let the parser drop the start of a secret
    that a cut line would otherwise end with)."""

    def __init__(self, *, redact: Callable[[str], str] = identity,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 64:
            raise ValueError("max_line_bytes must be at least 64")
        self.redact = redact
        self.max_line_bytes = max_line_bytes
        self.marker = cut_marker(max_line_bytes)
        self._prefixes: tuple[str, ...] | None = None  # None: redact every line
        self._escapes: tuple[str, ...] | None = None

    def parse(self, raw: bytes | str, seq: int = 0, received_at: float = 0.0) -> LogLine:
        """Never raises: a line the parser cannot read is shown as raw text."""
        self._refresh_prefixes()
        return self._parse(raw, seq, received_at)

    def parse_into(self, raws: Sequence[bytes | str], buffer: LogBuffer,
                   now: float | None = None) -> None:
        """Parse a batch and append it to `buffer`, numbered in arrival order."""
        if not raws:
            return
        self._refresh_prefixes()
        now = buffer.clock() if now is None else now
        parse = self._parse
        first = buffer.allocate(len(raws))
        buffer.extend([parse(raw, first + i, now) for i, raw in enumerate(raws)], now)

    def _refresh_prefixes(self) -> None:
        """The first characters of every secret the redactor knows (read again for each
        batch, so values added later count): a line holding none of them holds no secret,
        and skips the redactor's regex, a third of the cost of a line."""
        values = getattr(self.redact, "values", None)
        if values is None:
            self._prefixes = self._escapes = None
            return
        self._prefixes = tuple({value[:SECRET_PREFIX] for value in values})
        # JSON escapes that could spell a character of some secret (\\uXXXX always could)
        self._escapes = ("\\u", *(f"\\{char}" for char in '"\\/'
                                   if any(char in value for value in values)))

    def _parse(self, raw: bytes | str, seq: int, received_at: float) -> LogLine:
        text, cut = self._text(raw)
        shown = text + self.marker if cut else text
        if not cut and (text.startswith("{") or " {" in text[:PREFIX_LIMIT]):
            try:
                line = self._json(text, seq, received_at)
            except (_Unexpected, RecursionError):
                line = None
            if line is not None:
                return line
            return LogLine(seq, received_at, shown, level=_level_of(text), cut=cut)
        return LogLine(seq, received_at, shown, cut=cut)

    # --- text ------------------------------------------------------------------------------

    def _text(self, raw: bytes | str) -> tuple[str, bool]:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        cap = self.max_line_bytes
        cut = len(raw) > cap
        if cut:
            raw = raw[:cap]
        text = clean(raw.decode("utf-8", "replace"))
        if cut:
            text = self._drop_partial_secret(text)
        prefixes = self._prefixes
        if prefixes is None:
            text = self.redact(text)
        else:
            for prefix in prefixes:
                if prefix in text:
                    text = self.redact(text)
                    break
        if len(text) > cap:  # a fingerprint is longer than a short secret
            text, cut = text[:cap], True
        return text, cut

    def _may_hide_secret(self, body: str) -> bool:
        """Whether the JSON's escapes could spell a secret the raw text did not show: any
        \\u escape; `\\"`, `\\\\` or `\\/` only when some secret holds that character (a
        redactor that does not list its values: any escape at all)."""
        if self.redact is identity:
            return False
        escapes = self._escapes
        if escapes is None:
            return True
        return any(escape in body for escape in escapes)

    def _drop_partial_secret(self, text: str) -> str:
        """A cut can fall inside a secret: its first characters must not stay on the line."""
        for value in getattr(self.redact, "values", ()):
            for size in range(min(len(value) - 1, len(text)), 0, -1):
                if text.endswith(value[:size]):
                    text = text[:-size]
                    break
        return text

    # --- JSON ------------------------------------------------------------------------------

    def _json(self, text: str, seq: int, received_at: float) -> LogLine | None:
        prefix, body = "", text
        if not text.startswith("{"):
            start = text.find(" {", 0, PREFIX_LIMIT)
            prefix, body = text[:start], text[start + 1:]
        if not body.endswith("}"):
            return None
        try:
            record = _decode(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(record, dict):
            return None
        raw = text
        if "\\" in body:
            # Escapes can hide control characters, and some escapes secrets, from the
            # checks made on the raw text: clean (and then redact) the decoded strings.
            redact = self.redact if self._may_hide_secret(body) else None
            if _clean_tree(record, redact, 0):  # the raw text holds it in escaped form
                raw = (prefix + " " if prefix else "") + json.dumps(
                    record, ensure_ascii=False, separators=(",", ":"))
        return self._columns(record, raw, prefix, seq, received_at)

    def _columns(self, record: dict[str, Any], raw: str, prefix: str, seq: int,
                 received_at: float) -> LogLine:
        get = record.get  # the columns stay in the record: extra_items() skips them
        level, message = get("level"), get("message")
        if type(level) is not str or type(message) is not str:
            raise _Unexpected
        normal = _LEVELS.get(level) or _LEVELS.get(level.lower())
        if normal is None:
            raise _Unexpected
        timestamp, route, method, request_id = (get("timestamp"), get("route"), get("method"),
                                                get("requestId"))
        if ((timestamp is not None and type(timestamp) is not str)
                or (route is not None and type(route) is not str)
                or (method is not None and type(method) is not str)
                or (request_id is not None and type(request_id) is not str)):
            raise _Unexpected
        provider = None
        metadata = get("metadata")
        if metadata is not None:
            if type(metadata) is not dict:
                raise _Unexpected
            provider = metadata.get("providerId")
            if provider is not None and type(provider) is not str:
                raise _Unexpected
        if timestamp:
            time_text = short_time(timestamp)
        elif prefix:
            stamp = _ISO_TIME.match(prefix)
            time_text = stamp.group(1) + (stamp.group(2) or "") if stamp else ""
        else:
            time_text = ""
        if prefix:
            record["prefix"] = prefix
        return LogLine(seq, received_at, raw, time_text, normal, route or "", method or "",
                       provider or "", message, request_id or "", record, True)


def _clean_tree(node: dict[str, Any] | list[Any], redact: Callable[[str], str] | None,
                depth: int) -> bool:
    """Clean (and redact, when `redact` is given) every string in the decoded JSON, in
    place; whether redaction replaced anything."""
    if depth > MAX_DEPTH:
        raise _Unexpected
    hit = False
    if isinstance(node, dict):
        for key, value in node.items():
            if type(value) is str:
                new = value if value.isprintable() else clean(value)
                if redact is not None:
                    redacted = redact(new)
                    hit = hit or redacted != new
                    new = redacted
                if new is not value:
                    node[key] = new
            elif isinstance(value, dict | list):
                hit = _clean_tree(value, redact, depth + 1) or hit
        if redact is not None or not all(key.isprintable() for key in node):
            keys = list(node)
            cleaned = [clean(key) for key in keys]
            if redact is not None:
                redacted = [redact(key) for key in cleaned]
                hit = hit or redacted != cleaned
                cleaned = redacted
            if cleaned != keys:
                values = list(node.values())
                node.clear()
                node.update(zip(cleaned, values, strict=True))
    else:
        for index, value in enumerate(node):
            if type(value) is str:
                new = value if value.isprintable() else clean(value)
                if redact is not None:
                    redacted = redact(new)
                    hit = hit or redacted != new
                    new = redacted
                node[index] = new
            elif isinstance(value, dict | list):
                hit = _clean_tree(value, redact, depth + 1) or hit
    return hit


_LEVEL_FIELD = re.compile(r'"level"\s*:\s*"([A-Za-z]{3,11})"')


def _level_of(text: str) -> Level | None:
    """The level of a JSON line shown raw, when it states one plainly (it still counts)."""
    match = _LEVEL_FIELD.search(text, 0, 4096)
    if match is None:
        return None
    word = match.group(1)
    return _LEVELS.get(word) or _LEVELS.get(word.lower())


class LineSplitter:
    """Chunks of bytes into lines (newline removed). Memory stays bounded: a line longer than
    the cap is passed on as its first cap+1 bytes (so the parser marks it cut) and the rest
    is skipped up to the next newline."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._partial = b""
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if not chunk:
            return []
        keep = self.max_line_bytes + 1
        if self._skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                return []
            chunk = chunk[newline + 1:]
            self._skipping = False
        data = self._partial + chunk if self._partial else chunk
        lines = data.split(b"\n")
        partial = lines.pop()
        if len(partial) > self.max_line_bytes:
            lines.append(partial[:keep])
            partial = b""
            self._skipping = True
        self._partial = partial
        for index, line in enumerate(lines):
            if len(line) > keep:
                lines[index] = line[:keep]
            elif line.endswith(b"\r"):
                lines[index] = line[:-1]
        return lines

    def flush(self) -> list[bytes]:
        """At the end of the stream: the last line, if it had no newline."""
        partial, self._partial, self._skipping = self._partial, b"", False
        return [partial] if partial else []


def parse_all(raws: Iterable[bytes | str], parser: LineParser | None = None) -> list[LogLine]:
    """Convenience for tests and benches: every line, numbered from 1."""
    parser = parser or LineParser()
    return [parser.parse(raw, seq) for seq, raw in enumerate(raws, 1)]
