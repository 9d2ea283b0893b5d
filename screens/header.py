"""The one-line header: environment, operator, clock, verdict — and REHEARSAL when it is one."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ppcockpit.durations import format_duration
from ppcockpit.model import Decision, Snapshot

VERDICT_GLYPHS = {Decision.GO: "● GO", Decision.NO_GO: "✖ NO-GO", Decision.WAITING: "… WAITING"}


class CockpitHeader(Widget):
    """Who, where, when, and whether it is safe to go on."""

    COMPONENT_CLASSES = {"header--go", "header--no-go", "header--waiting", "header--rehearsal"}
    snapshot: reactive[Snapshot | None] = reactive(None)
    now: reactive[float] = reactive(0.0)
    rehearsal: reactive[str | None] = reactive(None)

    def __init__(self, *, rehearsal: str | None = None,
                 clock: Callable[[], float] = time.time, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.set_reactive(CockpitHeader.rehearsal, rehearsal)
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
        """Most important first, so a narrow terminal cuts only what matters least:
        the rehearsal badge (never to be missed), the verdict, where, when, who, why."""
        snap = self.snapshot
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.rehearsal:
            text.append(f" REHEARSAL · {self.rehearsal} ",
                        style=self.get_component_rich_style("header--rehearsal"))
            text.append(" ")
        if snap is not None:
            decision = snap.verdict.decision
            style = self.get_component_rich_style(f"header--{decision.value}")
            text.append(f" {VERDICT_GLYPHS[decision]} ", style=style)
            text.append(f" {snap.environment}")
        clock = datetime.fromtimestamp(self.now or self.clock()).strftime("%H:%M")
        text.append(f" · {clock}")
        if snap is not None:
            text.append(f" · {snap.operator}")
            live = _live(snap)
            if live:
                text.append(f" · {live}")
            if snap.verdict.reasons and snap.verdict.decision is Decision.NO_GO:
                count = len(snap.verdict.reasons)
                text.append(f" · {count} reason{'s' if count > 1 else ''}: ")
                text.append(snap.verdict.reasons[0])
        return text


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
