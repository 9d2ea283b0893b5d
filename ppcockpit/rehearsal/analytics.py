"""What the PostHog stand-in knows: per-minute event counts, annotations, SDK captures."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from ppcockpit.rehearsal.clock import iso_ms

COMPLETED = "i_chat_completed"
FAILED = "i_request_failed"
MAX_MINUTES = 3 * 24 * 60  # per-minute buckets kept (3 simulated days)
MAX_ANNOTATIONS = 500
MAX_CAPTURES = 1000


@dataclass(slots=True)
class Annotation:
    id: int
    content: str
    date_marker: float  # unix seconds
    scope: str
    created_at: float
    created_by: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "content": self.content, "date_marker": iso_ms(self.date_marker),
            "creation_type": "USR", "dashboard_item": None, "dashboard_id": None,
            "insight_short_id": None, "insight_name": None, "insight_derived_name": None,
            "created_by": {"id": 1, "first_name": self.created_by, "email": None},
            "created_at": iso_ms(self.created_at), "updated_at": iso_ms(self.created_at),
            "deleted": False, "scope": self.scope,
        }


@dataclass(slots=True)
class Analytics:
    minutes: OrderedDict[int, dict[str, int]] = field(default_factory=OrderedDict)
    annotations: deque[Annotation] = field(
        default_factory=lambda: deque(maxlen=MAX_ANNOTATIONS))
    captures: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_CAPTURES))
    _next_annotation: int = 1

    def count(self, event: str, at: float) -> None:
        minute = int(at // 60) * 60
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = {}
            if len(self.minutes) > MAX_MINUTES:
                self.minutes.popitem(last=False)
        bucket[event] = bucket.get(event, 0) + 1

    def counts_since(self, cutoff: float, now: float) -> list[tuple[int, dict[str, int]]]:
        """(minute, counts) for minutes that overlap (cutoff, now], oldest first."""
        return [(m, c) for m, c in self.minutes.items() if m > cutoff - 60 and m <= now]

    def annotate(self, content: str, at: float, created_at: float, scope: str = "project",
                 created_by: str = "rehearsal") -> Annotation:
        annotation = Annotation(self._next_annotation, content, at, scope, created_at,
                                created_by)
        self._next_annotation += 1
        self.annotations.append(annotation)
        return annotation
