"""Making outside text safe and short before anyone sees it."""

from __future__ import annotations

import re

# CSI / OSC / other escape sequences, then any remaining C0/C1 control character.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC ... ST
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s+")


def strip_controls(text: str) -> str:
    """Remove terminal escape sequences and control characters (tabs and newlines stay)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def has_controls(text: str) -> bool:
    """Whether `text` holds a control character other than a tab or a newline."""
    return _CONTROLS.search(text) is not None


def one_line(text: object, limit: int = 200) -> str:
    """Outside text as one safe line of at most `limit` characters."""
    cleaned = _WHITESPACE.sub(" ", strip_controls(str(text))).strip()
    if len(cleaned) > limit:
        return cleaned[: limit - 1] + "…"
    return cleaned


_VISIBLE_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: object) -> str:
    """A name from outside (a config key, an environment, a provider id) with every control
    character made visible (`\\e`, `\\n`, `\\x07`): nothing it holds can move the cursor,
    retitle the terminal or start a new line in a CI log."""
    return _ANY_CONTROL.sub(
        lambda m: _VISIBLE_ESCAPES.get(m.group(0), f"\\x{ord(m.group(0)):02x}"), str(text))
