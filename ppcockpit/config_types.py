"""The value types of the cockpit's TOML files (durations, URLs) and the strict struct base
they are read into: shared by cockpit.toml, the runbook and the rollback plan."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

from ppcockpit.durations import parse_duration


class Seconds(float):
    """A duration read from a string such as "500ms", "5s", "15m" or "24h"."""


DURATION_FORMS = 'a duration string such as "500ms", "5s", "15m" or "24h"'


def seconds(value: object) -> Seconds:
    """A duration setting as seconds; ValueError (without the value: it may come from a
    ${VAR}) when it is not one."""
    if isinstance(value, Seconds):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected {DURATION_FORMS}")
    try:
        parsed = parse_duration(value)
    except ValueError as exc:
        too_long = "too long" in str(exc)
        raise ValueError("too long a duration: at most 365d" if too_long else
                         "not a duration: write a number and a unit, e.g. "
                         '"500ms", "5s", "15m", "24h"') from None
    if parsed <= 0:
        raise ValueError("expected a duration greater than zero")
    return Seconds(parsed)


class HttpUrl(str):
    """An http:// or https:// URL, without a trailing slash."""


class RedisUrl(str):
    """A redis://, rediss:// or unix:// URL."""


def http_url(value: object) -> HttpUrl:
    if isinstance(value, HttpUrl):
        return value
    if not isinstance(value, str):
        raise ValueError("expected an http:// or https:// URL")
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return HttpUrl(value.rstrip("/"))


def redis_url(value: object) -> RedisUrl:
    if isinstance(value, RedisUrl):
        return value
    if not isinstance(value, str) or not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return RedisUrl(value)


# The types msgspec does not know, and how a value becomes one (config file or code).
_READERS: dict[type, Any] = {Seconds: seconds, HttpUrl: http_url, RedisUrl: redis_url}


def dec_hook(kind: type, value: Any) -> Any:
    """How msgspec builds the types it does not know (durations, URLs)."""
    reader = _READERS.get(kind)
    if reader is None:
        raise NotImplementedError(f"{kind!r} cannot be read from TOML")
    return reader(value)


Ratio = Annotated[float, Meta(ge=0.0, le=1.0)]
_read_fields: dict[type, list[tuple[str, Any]]] = {}


def _fields_to_read(kind: type) -> list[tuple[str, Any]]:
    """The fields of `kind` whose values must be read by one of _READERS."""
    found = _read_fields.get(kind)
    if found is None:
        found = []
        for field in msgspec.structs.fields(kind):
            for candidate in (field.type, *getattr(field.type, "__args__", ())):
                if candidate in _READERS:
                    found.append((field.name, _READERS[candidate]))
                    break
        _read_fields[kind] = found
    return found


class Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Unknown keys are errors; durations and URLs may be given as plain strings when a
    struct is built in code (tests), and are read the same way as from a file."""

    def __post_init__(self) -> None:
        for name, reader in _fields_to_read(type(self)):
            value = getattr(self, name)
            if value is not None:
                force_setattr(self, name, reader(value))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        """Validated from plain data, as a config file would give it (strict, durations
        as strings)."""
        return msgspec.convert(values, cls, strict=True, dec_hook=dec_hook)
