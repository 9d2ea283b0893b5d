"""A probe's Reading made fit to show: every text in it redacted, stripped of control
characters and bounded, nested structures bounded in depth and size.

A Reading carries outside text everywhere: a provider id as a row label or a `details` key,
an error message in a row, a request id from a header. The runner passes every Reading
through `ReadingCleaner` before anyone sees it, so no screen, report or log has to trust
a probe (or the target behind it) with control characters or secrets. Markup safety is
the screens' job (they render `Text` objects); control characters are gone here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

import msgspec

from ppcockpit.model import Failure, Reading, Row, Status
from ppcockpit.text import one_line

TEXT_LIMIT = 300  # summary, error, target, a row's message
NAME_LIMIT = 120  # a row's key and label, a request id, a key in metrics or details
LABEL_LIMIT = 60  # a reading's status phrase: a few words in a status column
DETAIL_TEXT_LIMIT = 500  # a string inside details or a row's extra
MAX_DEPTH = 8  # nesting of details; deeper structures are cut off
MAX_ITEMS = 5000  # entries of one list or dict (a 24 h PostHog series is 2,880 minutes)
MAX_NODES = 50_000  # values in one Reading's details, rows' extras and metrics together
MAX_ROWS = 500
MAX_RETRY_AFTER = 3600.0
RAW_LIMIT = 64 * 1024  # characters of one text looked at (the rest cannot be shown anyway)
_OVERLAP = 1024  # a secret cut at RAW_LIMIT is still redacted whole (secrets are shorter)
CUT = "…"  # stands for what a bound left out


class ReadingCleaner:
    """Cleans Readings with one sanitizer (the configuration's Redactor)."""

    def __init__(self, sanitize: Callable[[str], str]) -> None:
        self._sanitize = sanitize

    def text(self, value: object, limit: int = TEXT_LIMIT) -> str:
        """One safe line: redacted before it is cut, so no cut can leave half a secret."""
        raw = value if isinstance(value, str) else _str(value)
        if len(raw) > RAW_LIMIT:
            raw = self._sanitize(raw[: RAW_LIMIT + _OVERLAP])[:RAW_LIMIT]
        if raw.isprintable() and "  " not in raw:  # the common case: only secrets to find
            redacted = self._sanitize(raw).strip()
            return redacted if len(redacted) <= limit else redacted[: limit - 1] + CUT
        # Redacted again after stripping: a control character inside a secret no longer
        # hides it once it is gone.
        return one_line(self._sanitize(one_line(self._sanitize(raw), limit=RAW_LIMIT)),
                        limit=limit)

    def reading(self, reading: Reading, *, probe: str) -> Reading:
        """`reading` with every text cleaned and every structure bounded, named `probe`."""
        budget = _Budget(MAX_NODES)
        rows = tuple(self._row(row, budget) for row in reading.rows[:MAX_ROWS]
                     if isinstance(row, Row))
        status = reading.status if isinstance(reading.status, Status) else Status.UNKNOWN
        failure = reading.failure if isinstance(reading.failure, Failure) else Failure.PROBE
        return msgspec.structs.replace(
            reading,
            probe=probe,
            status=status,
            failure=failure,
            summary=self.text(reading.summary),
            label=self._label(reading.label),
            error=self.text(reading.error) if reading.error else None,
            target=self.text(reading.target),
            request_id=self.text(reading.request_id, NAME_LIMIT) if reading.request_id else None,
            retry_after=_retry_after(reading.retry_after),
            rows=rows,
            metrics=self._metrics(reading.metrics, budget),
            details=self._mapping(reading.details, budget, depth=1),
        )

    def _label(self, value: object) -> str | None:
        """A status phrase as shown: one clean line, or None (the status word) when it is
        empty or nothing is left of it once cleaned."""
        if value is None or value == "":
            return None
        return self.text(value, LABEL_LIMIT) or None

    def _row(self, row: Row, budget: _Budget) -> Row:
        return msgspec.structs.replace(
            row,
            key=self.text(row.key, NAME_LIMIT),
            label=self.text(row.label, NAME_LIMIT),
            message=self.text(row.message),
            status=row.status if isinstance(row.status, Status) else Status.UNKNOWN,
            extra=self._mapping(row.extra, budget, depth=1),
        )

    def _metrics(self, metrics: object, budget: _Budget) -> dict[str, Any]:
        if not isinstance(metrics, Mapping):
            return {}
        cleaned: dict[str, Any] = {}
        for key, value in islice(metrics.items(), MAX_ITEMS):
            if not budget.take():
                break
            cleaned[self.text(key, NAME_LIMIT)] = (
                value if _is_number(value) or value is None else self.text(value, NAME_LIMIT))
        return cleaned

    def _mapping(self, value: object, budget: _Budget, depth: int) -> dict[Any, Any]:
        cleaned = self._value(value, budget, depth)
        return cleaned if isinstance(cleaned, dict) else {}

    def _value(self, value: object, budget: _Budget, depth: int) -> Any:
        if value is None or isinstance(value, bool) or _is_number(value):
            return value
        if isinstance(value, str):
            return self.text(value, DETAIL_TEXT_LIMIT)
        if isinstance(value, Mapping):
            if depth > MAX_DEPTH:
                return CUT
            cleaned: dict[Any, Any] = {}
            for key, item in islice(value.items(), MAX_ITEMS):
                if not budget.take():
                    break
                cleaned[self._key(key)] = self._value(item, budget, depth + 1)
            return cleaned
        if isinstance(value, list | tuple | set | frozenset):
            if depth > MAX_DEPTH:
                return CUT
            items = []
            for item in islice(value, MAX_ITEMS):
                if not budget.take():
                    break
                items.append(self._value(item, budget, depth + 1))
            return items
        return self.text(value, DETAIL_TEXT_LIMIT)  # a date, an enum, an object: its text

    def _key(self, key: object) -> Any:
        if key is None or isinstance(key, bool) or _is_number(key):
            return key
        return self.text(key, NAME_LIMIT)


class _Budget:
    """How many more values one Reading may carry."""

    __slots__ = ("left",)

    def __init__(self, size: int) -> None:
        self.left = size

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _retry_after(value: object) -> float | None:
    """A target's Retry-After as the runner may use it: finite, positive, at most an hour."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    seconds = float(min(value, MAX_RETRY_AFTER))  # min first: a 400-digit int is no float
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _str(value: object) -> str:
    try:
        return str(value)
    except Exception as exc:  # an object whose __str__ is broken still gets a name
        return f"<{type(value).__name__}: unprintable ({type(exc).__name__})>"
