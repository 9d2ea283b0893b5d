"""The one-line header: environment, operator, clock, verdict — and REHEARSAL when it is one."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ppcockpit.durations import format_duration
from ppcockpit.model import Decision, Snapshot, Verdict

VERDICT_GLYPHS = {Decision.GO: "● GO", Decision.NO_GO: "✖ NO-GO", Decision.WAITING: "… WAITING"}


class CockpitHeader(Widget):
    """Who, where, when, and whether it is safe to go on."""

    COMPONENT_CLASSES = {"header--go", "header--no-go", "header--waiting", "header--rehearsal",
                         "header--read-only"}
    snapshot: reactive[Snapshot | None] = reactive(None)
    now: reactive[float] = reactive(0.0)
    rehearsal: reactive[str | None] = reactive(None)

    def __init__(self, *, rehearsal: str | None = None, read_only: bool = False,
                 clock: Callable[[], float] = time.time, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.set_reactive(CockpitHeader.rehearsal, rehearsal)
        self.read_only = read_only
        self.clock = clock

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        # Minutes, not seconds: a redraw a second was a sixth of the idle cockpit's CPU.
        # (That the cockpit is alive shows in the probes table: every reading is "live".)
        now = self.clock()
        self.now = now - now % 60

    def render(self) -> Text:
        """Most important first, at every width: the rehearsal badge (never to be missed),
        the verdict and its first reason (cut with "…" only at the end of what fits), then
        where, when, who and what is live as far as they fit."""
        snap = self.snapshot
        width = max(20, self.size.width or 80)
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.rehearsal:
            badge = f" REHEARSAL · {self.rehearsal} " if width >= 120 else " REHEARSAL "
            text.append(badge, style=self.get_component_rich_style("header--rehearsal"))
            text.append(" ")
        if self.read_only:  # a teammate watching: nothing here can change anything
            text.append(" READ-ONLY ", style=self.get_component_rich_style("header--read-only"))
            text.append(" ")
        if snap is None:
            return text
        verdict = snap.verdict
        style = self.get_component_rich_style(f"header--{verdict.decision.value}")
        text.append(f" {VERDICT_GLYPHS[verdict.decision]} ", style=style)
        why = _why(verdict)
        clock = datetime.fromtimestamp(self.now or self.clock()).strftime("%H:%M")
        context = [snap.environment, clock, snap.operator, _live(snap)]
        tail = " · ".join(part for part in context if part)
        room = width - text.cell_len
        if why and verdict.decision is not Decision.GO:
            # The reason first: what is wrong matters more than where and when.
            shown = f" {why}"
            if len(shown) + len(tail) + 3 <= room:
                shown += f" · {tail}"
            text.append(shown[:room - 1] + "…" if len(shown) > room else shown)
            return text
        text.append(f" {tail}")
        if why:  # GO with warnings: said after the context
            text.append(f" · {why}")
        text.truncate(width, overflow="ellipsis")
        return text


def _why(verdict: Verdict) -> str:
    """The first reason of a NO-GO (with how many there are), or how many warnings a GO
    carries: a GO that hides a warning would mislead."""
    if verdict.decision is Decision.GO:
        count = len(verdict.warnings)
        return f"{count} warning{'s' if count > 1 else ''}" if count else ""
    if not verdict.reasons:
        return ""
    count = len(verdict.reasons)
    more = f" (+{count - 1} more: v)" if count > 1 else ""
    return f"{verdict.reasons[0]}{more}"


def _live(snapshot: Snapshot) -> str:
    """`live: 3f1c9a2 · 2h`: which build serves the environment, and for how long."""
    reading = snapshot.readings.get("deployments")
    if reading is None or reading.status.value in ("skipped", "unknown"):
        return ""
    sha, age = reading.details.get("sha"), reading.details.get("age_s")
    if not isinstance(sha, str) or not sha:
        return ""
    since = f" · {format_duration(age)}" if isinstance(age, int | float) else ""
    return f"live: {sha[:7]}{since}"
