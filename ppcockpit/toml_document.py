"""TOML files the operator writes (cockpit.toml, runbook.toml): read them safely, turn them
into strict typed structs, and explain every mistake with the file, line, column and key.

Shared by every loader so that each error reads the same: `file:line: dotted.key: why`.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import msgspec

from ppcockpit.text import escape_controls

T = TypeVar("T")
MAX_FILE_BYTES = 4 * 1024 * 1024  # far above any real config, far below trouble
MAX_DEPTH = 24  # tables and arrays nested deeper than this are refused before anything walks them
MAX_ERRORS_SHOWN = 10


class ConfigError(Exception):
    """A configuration or command-line mistake, explained in one message (exit 2)."""


class ValueProblem(ConfigError):
    """A ConfigError about one value: where it is, and the value itself."""

    def __init__(self, message: str, loc: tuple[str, ...], value: Any) -> None:
        super().__init__(message)
        self.loc = loc
        self.value = value


class Document(msgspec.Struct):
    """A parsed TOML file: its path, its text and its data (and where each key is)."""

    path: Path
    text: str
    data: dict[str, Any]
    index: KeyIndex | None = None  # made from the text

    def __post_init__(self) -> None:
        self.index = KeyIndex(self.text)

    def where(self, loc: tuple[str, ...]) -> str:
        """`path:line` for the key at `loc` (just `path` when it cannot be found)."""
        line = self.index.line_of(loc)
        return f"{self.path}:{line}" if line else str(self.path)


def regular_file(path: Path, what: str) -> None:
    """ConfigError unless `path` is a regular file: a directory is not a file, and reading
    a FIFO or a device would wait forever."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path}: is not a regular file (a pipe or a device?); "
                          f"give the path of a {what}")


def read_text(path: Path, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The file's text as UTF-8, or a ConfigError that says why not."""
    regular_file(path, what)
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise ConfigError(f"{path}: the {what} is larger than {limit // (1024 * 1024)} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: the {what} is not UTF-8 text "
                          f"(byte 0x{raw[exc.start]:02x})") from None


def read_toml(path: Path, what: str = "configuration file") -> Document:
    text = read_text(path, what)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, text, exc)) from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    if _depth_over(data, MAX_DEPTH):
        raise ConfigError(f"{path}: tables or arrays are nested more than {MAX_DEPTH} deep")
    document = Document(path, text, data)
    _refuse_control_characters(document)
    return document


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _refuse_control_characters(document: Document) -> None:
    """A name or a text that reaches the screen (an environment, a step's title, an action)
    may not hold a terminal control character: it could move the cursor, retitle the
    terminal or forge a line in a CI log. Refused, named with the character made visible."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document.data, ())]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                here = (*loc, str(key))
                if _CONTROL.search(str(key)):
                    raise ConfigError(f"{document.where(here)}: the key {dotted(here)} holds a "
                                      "control character")
                stack.append((item, here))
        elif isinstance(value, list):
            stack.extend((item, (*loc, str(i))) for i, item in enumerate(value))
        elif isinstance(value, str) and _CONTROL.search(value):
            raise ConfigError(f"{document.where(loc)}: {dotted(loc)} holds a control "
                              f"character ({show(value)})")


def _depth_over(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _toml_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    reason = escape_controls(re.sub(r"\s*\(at line \d+, column \d+\)", "", message))
    if match:
        line, column = match.groups()
        return f"{path}:{line}:{column}: invalid TOML: {reason}"
    if "end of document" in message:
        return f"{path}:{text.count(chr(10)) + 1}: invalid TOML: {reason}"
    return f"{path}: invalid TOML: {reason}"


# --- where a key is written -----------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(r"^\s*((?:[A-Za-z0-9_\-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
                         r"(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*'))*)\s*=")


class KeyIndex:
    """Where each dotted key (and each table, and each element of an array of tables) is
    written, found in one pass over the text: looking keys up costs nothing per error."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        counts: dict[tuple[str, ...], int] = {}  # arrays of tables: index of the last element
        for number, line in enumerate(text.splitlines(), start=1):
            if match := _HEADER.match(line):
                parts = _split_key(match.group(2))
                if parts is None:
                    continue
                table = self._resolve(parts[:-1], counts)
                table += (parts[-1],)
                if match.group(1) == "[[":
                    counts[table] = counts.get(table, -1) + 1
                    self._lines.setdefault(table, number)
                    table += (str(counts[table]),)
                self._lines.setdefault(table, number)
            elif match := _ASSIGNMENT.match(line):
                parts = _split_key(match.group(1))
                if parts is not None:
                    self._lines.setdefault(table + parts, number)

    def _resolve(self, parts: tuple[str, ...], counts: Mapping[tuple[str, ...], int],
                 ) -> tuple[str, ...]:
        """A header's parent path, with the current element of each array of tables in it."""
        resolved: tuple[str, ...] = ()
        for part in parts:
            resolved += (part,)
            if resolved in counts:
                resolved += (str(counts[resolved]),)
        return resolved

    def line_of(self, loc: tuple[str, ...]) -> int | None:
        """The line of `loc`, else of the nearest enclosing key or table that is written."""
        for end in range(len(loc), 0, -1):
            line = self._lines.get(loc[:end])
            if line is not None:
                return line
        return None


def _split_key(text: str) -> tuple[str, ...] | None:
    """A TOML dotted key as its parts (quoted parts unescaped by tomllib itself)."""
    if '"' not in text and "'" not in text:
        return tuple(part.strip() for part in text.split("."))
    try:
        parsed: Any = tomllib.loads(f"{text} = 0")
    except tomllib.TOMLDecodeError:
        return None
    parts: list[str] = []
    while isinstance(parsed, dict) and len(parsed) == 1:
        key, parsed = next(iter(parsed.items()))
        parts.append(key)
    return tuple(parts)


# --- strict conversion into structs ---------------------------------------------------------

Origins = Mapping[tuple[str, ...], str]  # where a value came from a ${VAR}: its name
DecHook = Callable[[type, Any], Any]


def dotted(loc: tuple[str, ...]) -> str:
    """A key path as the operator would write it, every control character made visible."""
    return ".".join(escape_controls(part) for part in loc) or "(top level)"


def convert(document: Document, data: Any, kind: type[T], loc: tuple[str, ...] = (), *,
            origins: Origins | None = None, dec_hook: DecHook | None = None,
            skip: Callable[[tuple[str, ...]], bool] | None = None) -> T:
    """`data` (found at `loc` in `document`) as a `kind` struct, or a ConfigError naming
    every unknown key (up to MAX_ERRORS_SHOWN) or the first wrong value."""
    unknown = list(_unknown_keys(data, kind, loc, skip))
    if unknown:
        lines = [_unknown_key_message(document, key, valid) for key, valid in
                 unknown[:MAX_ERRORS_SHOWN]]
        if len(unknown) > MAX_ERRORS_SHOWN:
            lines.append(f"{document.path}: … and {len(unknown) - MAX_ERRORS_SHOWN} more "
                         "unknown keys")
        raise ConfigError("\n".join(lines))
    try:
        return msgspec.convert(data, kind, strict=True, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        where, message = _validation_message(document, data, loc, str(exc), origins or {})
        raise ValueProblem(message, where, _value_at(data, where[len(loc):])) from None


def struct_fields(kind: Any) -> Mapping[str, Any] | None:
    """A struct type's fields and their types (None when `kind` is not a struct)."""
    kind = _unwrap(kind)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return _fields_of(kind)
    return None


@functools.cache
def _fields_of(kind: type[msgspec.Struct]) -> Mapping[str, Any]:
    """Worked out once per struct type: msgspec evaluates every annotation again at each
    call, and a runbook's steps asked it once per step (half of loading a runbook)."""
    return MappingProxyType({f.encode_name: f.type for f in msgspec.structs.fields(kind)})


def _unwrap(kind: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` as X."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
            continue
        if origin in (Union, UnionType):
            args = [a for a in get_args(kind) if a is not type(None)]
            if len(args) == 1:
                kind = args[0]
                continue
        return kind


def _unknown_keys(data: Any, kind: Any, loc: tuple[str, ...],
                  skip: Callable[[tuple[str, ...]], bool] | None,
                  ) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """Every key in `data` that `kind` has no field for, with the keys that are valid there.
    One walk, no recursion (depth is bounded by read_toml already)."""
    stack = [(data, kind, loc)]
    while stack:
        value, expected, here = stack.pop()
        expected = _unwrap(expected)
        if skip is not None and skip(here):
            continue
        fields = struct_fields(expected)
        if fields is not None and isinstance(value, dict):
            for key in value:
                if key not in fields:
                    yield (*here, str(key)), list(fields)
            stack.extend((value[key], fields[key], (*here, key))
                         for key in reversed(list(value)) if key in fields)
        elif get_origin(expected) is dict and isinstance(value, dict):
            item_type = get_args(expected)[1]
            stack.extend((v, item_type, (*here, str(k))) for k, v in reversed(value.items()))
        elif get_origin(expected) in (list, tuple) and isinstance(value, list):
            args = get_args(expected)
            item_type = args[0] if args else Any
            stack.extend((v, item_type, (*here, str(i))) for i, v in reversed(list(
                enumerate(value))))
    return


def _unknown_key_message(document: Document, loc: tuple[str, ...], valid: list[str]) -> str:
    import difflib  # only when there is a mistake to explain

    near = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
    hint = f'; did you mean "{dotted((*loc[:-1], near[0]))}"?' if near else ""
    options = f" (valid here: {', '.join(valid)})" if valid and not near else ""
    return f"{document.where(loc)}: unknown key {dotted(loc)}{hint}{options}"


_AT = re.compile(r" - at `\$(.*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_TYPE_WORDS = {"float": "a valid number", "int": "an integer", "str": "a string",
               "bool": "true or false", "array": "a list", "object": "a table",
               "null": "nothing"}


def _validation_message(document: Document, data: Any, base: tuple[str, ...], message: str,
                        origins: Origins) -> tuple[tuple[str, ...], str]:
    at = _AT.search(message)
    loc = base
    if at:
        message = message[: at.start()]
        for name, index in _PATH_PART.findall(at.group(1)):
            loc += (name or index,)
    where = document.where(loc)
    if missing := re.match(r"Object missing required field `(.+)`$", message):
        return loc, f"{where}: {dotted((*loc, missing.group(1)))} is required but missing"
    if unknown := re.match(r"Object contains unknown field `(.+)`$", message):
        return loc, f"{where}: unknown key {dotted((*loc, unknown.group(1)))}"
    reason = _plain_reason(message)
    got = _got(_value_at(data, loc[len(base):]), loc, origins, reason)
    return loc, f"{where}: {dotted(loc)}: {escape_controls(reason)}{got}"


def _plain_reason(message: str) -> str:
    if typed := re.match(r"Expected `(\w+)`, got `(\w+)`$", message):
        return f"expected {_TYPE_WORDS.get(typed.group(1), typed.group(1))}"
    if bound := re.match(r"Expected `(\w+)` (<=|>=|<|>) (\S+)$", message):
        words = {"<=": "less than or equal to", ">=": "greater than or equal to",
                 "<": "less than", ">": "greater than"}[bound.group(2)]
        number = bound.group(3).removesuffix(".0")
        return f"must be {words} {number}"
    if length := re.match(r"Expected `(\w+)` of length (>=|<=) (\d+)$", message):
        word = "at least" if length.group(2) == ">=" else "at most"
        return f"must hold {word} {length.group(3)}"
    if choice := re.match(r"Invalid enum value (.+)$", message):
        return f"not one of the allowed values (got {choice.group(1)})"
    return message


_NOTHING = object()


def _value_at(data: Any, rel: tuple[str, ...]) -> Any:
    value: Any = data
    for part in rel:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _NOTHING
    return value


def _got(value: Any, loc: tuple[str, ...], origins: Origins, reason: str) -> str:
    """` (got …)` for a wrong scalar; a value that came from a ${VAR} is named by its
    variable, never shown (it may be a secret)."""
    if loc in origins:
        return f" (from ${{{origins[loc]}}})"
    if value is _NOTHING or isinstance(value, dict | list) or "got" in reason:
        return ""
    return f" (got {show(value)})"


def show(value: object, limit: int = 40) -> str:
    """A value in a message: repr, control characters visible, cut short with a mark."""
    text = escape_controls(repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
