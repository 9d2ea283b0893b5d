"""Filling `{name}` placeholders into a runbook command line, safely. Pure: no I/O.

A placeholder is `{` + a name (letters, digits, `_`, `-`; not starting with a digit or
`-`) + `}`. Its value is shell-quoted (shlex.quote), so whatever an operator typed stays
one word and can never add shell syntax. For that quoting to hold, a placeholder must stand
outside quotes: `--url={deployment_url}` is fine, `'{sha}'` and `"{sha}"` are refused.
`{{` and `}}` are literal braces. Anything else is the shell's and is left alone: `${VAR}`
(expanded by the shell from the step's environment), `{}` (find -exec), `{print $1}` (awk),
comments, backslash escapes.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_-]*)\}")
_WORD_BREAK = frozenset(" \t\n;&|()<>")


class StepCommandError(ValueError):
    """A command line that cannot be run as written (the message says why and how to fix
    it; it names placeholders, never their values)."""


@dataclass(frozen=True, slots=True)
class _Placeholder:
    name: str
    quoted_by: str | None  # "single" or "double" quotes around it, None when bare


def placeholders_in(run: str) -> list[str]:
    """The placeholder names `run` uses, in order of first use. StepCommandError for a
    placeholder inside quotes."""
    names: list[str] = []
    for piece in _scan(run):
        if isinstance(piece, _Placeholder):
            _check_bare(piece)
            if piece.name not in names:
                names.append(piece.name)
    return names


def fill_placeholders(run: str, values: Mapping[str, str]) -> str:
    """`run` with every placeholder replaced by its shell-quoted value. StepCommandError
    for an unknown placeholder, one inside quotes, or a NUL character."""
    if "\x00" in run:
        raise StepCommandError("the command line holds a NUL character")
    out: list[str] = []
    for piece in _scan(run):
        if isinstance(piece, str):
            out.append(piece)
            continue
        _check_bare(piece)
        if piece.name not in values:
            raise StepCommandError(_unknown(piece.name, values))
        value = values[piece.name]
        if "\x00" in value:
            raise StepCommandError(f"the value of {{{piece.name}}} holds a NUL character")
        out.append(shlex.quote(value))
    return "".join(out)


def _check_bare(piece: _Placeholder) -> None:
    if piece.quoted_by:
        raise StepCommandError(
            f"{{{piece.name}}} stands inside {piece.quoted_by} quotes: write it outside "
            f"quotes (its value is quoted for you), or {{{{{piece.name}}}}} for literal "
            "braces")


def _unknown(name: str, values: Mapping[str, str]) -> str:
    known = sorted(values)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {{{close[0]}}}?)" if close else ""
    listed = ", ".join(f"{{{k}}}" for k in known) or "none yet"
    return (f"unknown placeholder {{{name}}}{hint}; known: {listed}. Write {{{{ and }}}} "
            "for literal braces, ${VAR} for an environment variable")


def _scan(run: str) -> Iterator[str | _Placeholder]:
    """The command line as literal text and placeholders, following the shell's quoting
    just far enough to know whether a placeholder stands inside quotes."""
    i, n = 0, len(run)
    quote: str | None = None  # None, "'" or '"'
    literal: list[str] = []
    while i < n:
        char = run[i]
        if quote == "'":
            if char == "'":
                quote = None
        elif char == "\\":  # the next character is escaped (not special in '...')
            literal.append(run[i:i + 2])
            i += 2
            continue
        elif char == "$" and run.startswith("${", i):
            end = _closing_brace(run, i + 2)
            literal.append(run[i:end])
            i = end
            continue
        elif quote == '"':
            if char == '"':
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or run[i - 1] in _WORD_BREAK):
            end = run.find("\n", i)
            end = n if end < 0 else end
            literal.append(run[i:end])
            i = end
            continue
        if run.startswith(("{{", "}}"), i):
            literal.append(char)
            i += 2
            continue
        if char == "{" and (match := _NAME.match(run, i)):
            if literal:
                yield "".join(literal)
                literal = []
            yield _Placeholder(match.group(1), {"'": "single", '"': "double"}.get(quote or ""))
            i = match.end()
            continue
        literal.append(char)
        i += 1
    if literal:
        yield "".join(literal)


def _closing_brace(run: str, start: int) -> int:
    """The index after the `}` that closes a `${` opened before `start` (nested braces
    counted), or the end of the line."""
    depth = 1
    for i in range(start, len(run)):
        if run[i] == "{":
            depth += 1
        elif run[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(run)


__all__ = ["StepCommandError", "fill_placeholders", "placeholders_in"]
