"""What the session tells whoever watches it (the App, a test, a headless command).

Plain dataclasses, named for what happened. The App turns each into Textual messages or
toasts; nothing here knows about a screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ppcockpit.model import Reading, Transition

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True, slots=True)
class ReadingArrived:
    """A probe reported; `transitions` are the status changes it caused."""

    environment: str
    reading: Reading
    transitions: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertRaised:
    """A provider crossed the team's rule (unavailable for more than `threshold` checks)."""

    probe: str
    label: str
    count: int
    threshold: int


@dataclass(frozen=True, slots=True)
class RunbookChanged:
    """The checklist changed: a step was done, overridden, started, passed or failed."""

    step: str | None = None


@dataclass(frozen=True, slots=True)
class CommandOutput:
    """One line (cleaned, redacted) of a running command step."""

    step: str
    line: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the operator should read once (the App shows it as a toast)."""

    message: str
    title: str = ""
    severity: Severity = "information"


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The deployment session was closed and its release log written."""

    markdown: str
    path: str | None


@dataclass(frozen=True, slots=True)
class RollbackProgressed:
    """A rollback action changed state (`state`: an ActionState value of
    ppcockpit.rollback_progress, e.g. "running", "ok", "failed") or, with `state` "output",
    printed `line` (cleaned, redacted). `engine.view()` has the whole picture."""

    rollback: str
    action: str
    state: str
    line: str = ""
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class RollbackStateChanged:
    """The rollback as a whole: "armed", "waiting" (for a decision: retry / skip / abort, or
    a second confirmation), "finished" or "aborted"; `message` says it in one line."""

    rollback: str
    state: str
    message: str
    action: str | None = None  # the action a decision is waited for
    dry_run: bool = False


SessionEvent = ReadingArrived | AlertRaised | RunbookChanged | CommandOutput | Notice | \
    SessionEnded | RollbackProgressed | RollbackStateChanged
