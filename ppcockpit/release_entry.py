"""A release log entry (runbook section 7): what was shipped, by whom, what was checked and
overridden, any rollback. Plain data, its TOML table (clean and redacted) and back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from ppcockpit.secrets import redact_url, url_password
from ppcockpit.text import strip_controls

Redact = Callable[[str], str]


class ReleaseLogError(Exception):
    """The release log cannot be read or appended to (the message says which file and why,
    and that it was left as it was)."""


class ManualCheck(msgspec.Struct, frozen=True):
    title: str
    by: str
    at: str | None = None


class Override(msgspec.Struct, frozen=True):
    step: str  # the step's (or gate's) title
    reason: str
    by: str
    at: str | None = None


class RollbackAction(msgspec.Struct, frozen=True):
    action: str
    result: str


class Rollback(msgspec.Struct, frozen=True):
    trigger: str
    operator: str
    actions: Sequence[RollbackAction] = ()
    at: str | None = None


class ReleaseEntry(msgspec.Struct, frozen=True):
    when: str  # ISO-8601 UTC, e.g. "2026-12-01T14:03:22Z" (utc_timestamp())
    environment: str
    sha: str | None = None
    tag: str | None = None
    deployment_url: str | None = None
    operators: Sequence[str] = ()
    migrations_applied: Sequence[str] = ()
    links_reviewed: Sequence[tuple[str, str]] = ()  # (title, url)
    manual_checks: Sequence[ManualCheck] = ()
    overrides: Sequence[Override] = ()
    rollback: Rollback | None = None
    session: str | None = None
    verdict: str | None = None  # at the end of the session: "go", "no-go", ...

    def as_toml(self, redact: Redact) -> dict[str, Any]:
        """The entry as a TOML table: clean, redacted, None left out."""
        def text(value: str) -> str:
            return clean_text(value, redact)

        table: dict[str, Any] = {"when": text(self.when), "environment": text(self.environment)}
        for key in ("sha", "tag", "session", "verdict"):
            value = getattr(self, key)
            if value is not None:
                table[key] = text(value)
        if self.deployment_url is not None:
            table["deployment_url"] = clean_url(self.deployment_url, redact)
        table["operators"] = [text(v) for v in self.operators]
        table["migrations_applied"] = [text(v) for v in self.migrations_applied]
        table["links_reviewed"] = [{"title": text(t), "url": clean_url(u, redact)}
                                   for t, u in self.links_reviewed]
        table["manual_checks"] = [_drop_none({"title": text(c.title), "by": text(c.by),
                                              "at": c.at and text(c.at)})
                                  for c in self.manual_checks]
        table["overrides"] = [_drop_none({"step": text(o.step), "reason": text(o.reason),
                                          "by": text(o.by), "at": o.at and text(o.at)})
                              for o in self.overrides]
        if self.rollback is not None:
            rollback = self.rollback
            table["rollback"] = _drop_none({
                "trigger": text(rollback.trigger), "operator": text(rollback.operator),
                "at": rollback.at and text(rollback.at),
                "actions": [{"action": text(a.action), "result": text(a.result)}
                            for a in rollback.actions]})
        return table

    @classmethod
    def from_toml(cls, table: Mapping[str, Any], where: str = "releases") -> ReleaseEntry:
        """An entry read back from the log; ReleaseLogError naming the key that is wrong."""
        read = _Reader(table, where)
        rollback = read.table("rollback")
        return cls(
            when=read.text("when"), environment=read.text("environment"),
            sha=read.optional("sha"), tag=read.optional("tag"),
            deployment_url=read.optional("deployment_url"),
            operators=read.texts("operators"),
            migrations_applied=read.texts("migrations_applied"),
            links_reviewed=tuple((r.text("title"), r.text("url"))
                                 for r in read.tables("links_reviewed")),
            manual_checks=tuple(ManualCheck(r.text("title"), r.text("by"), r.optional("at"))
                                for r in read.tables("manual_checks")),
            overrides=tuple(Override(r.text("step"), r.text("reason"), r.text("by"),
                                     r.optional("at")) for r in read.tables("overrides")),
            rollback=None if rollback is None else Rollback(
                rollback.text("trigger"), rollback.text("operator"),
                tuple(RollbackAction(a.text("action"), a.text("result"))
                      for a in rollback.tables("actions")), rollback.optional("at")),
            session=read.optional("session"), verdict=read.optional("verdict"))


def utc_timestamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as ISO-8601 UTC to the second: 2026-12-01T14:03:22Z."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def clean_text(value: str, redact: Redact) -> str:
    return redact(strip_controls(str(value)))


def clean_url(url: str, redact: Redact) -> str:
    """A URL fit to keep: its password (if it holds one) hidden, known secrets redacted."""
    url = strip_controls(str(url)).strip()
    if url_password(url) is not None:
        url = redact_url(url)
    return redact(url)


def _drop_none(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v is not None}


class _Reader:
    """Typed reads from one table of the log, errors naming `where.key`."""

    def __init__(self, table: Mapping[str, Any], where: str) -> None:
        if not isinstance(table, Mapping):
            raise ReleaseLogError(f"{where} is not a table")
        self._table = table
        self._where = where

    def _wrong(self, key: str, wanted: str) -> ReleaseLogError:
        return ReleaseLogError(f"{self._where}.{key} should be {wanted}")

    def text(self, key: str) -> str:
        value = self._table.get(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def optional(self, key: str) -> str | None:
        return None if self._table.get(key) is None else self.text(key)

    def texts(self, key: str) -> tuple[str, ...]:
        values = self._table.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self._wrong(key, "a list of strings")
        return tuple(values)

    def table(self, key: str) -> _Reader | None:
        value = self._table.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._wrong(key, "a table")
        return _Reader(value, f"{self._where}.{key}")

    def tables(self, key: str) -> list[_Reader]:
        values = self._table.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            raise self._wrong(key, "a list of tables")
        return [_Reader(v, f"{self._where}.{key}[{i}]") for i, v in enumerate(values)]


__all__ = ["ManualCheck", "Override", "Redact", "ReleaseEntry", "ReleaseLogError", "Rollback",
           "RollbackAction", "clean_text", "clean_url", "utc_timestamp"]
