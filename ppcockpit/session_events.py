"""What the session tells whoever watches it (the App, a test, a headless command).

Plain records (msgspec Structs), named for what happened. The App turns each into Textual
messages or toasts; nothing here knows about a screen.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ppcockpit.model import Reading, Transition

Severity = Literal["information", "warning", "error"]


class ReadingArrived(msgspec.Struct, frozen=True):
    """A probe reported; `transitions` are the status changes it caused."""

    environment: str
    reading: Reading
    transitions: tuple[Transition, ...] = ()


class AlertRaised(msgspec.Struct, frozen=True):
    """A provider crossed the team's rule (unavailable for more than `threshold` checks)."""

    probe: str
    label: str
    count: int
    threshold: int


class RunbookChanged(msgspec.Struct, frozen=True):
    """The checklist changed: a step was done, overridden, started, passed or failed."""

    step: str | None = None


class CommandOutput(msgspec.Struct, frozen=True):
    """One line (cleaned, redacted) of a running command step."""

    step: str
    line: str


class Notice(msgspec.Struct, frozen=True):
    """Something the operator should read once (the App shows it as a toast)."""

    message: str
    title: str = ""
    severity: Severity = "information"


class SessionEnded(msgspec.Struct, frozen=True):
    """The deployment session was closed and its release log written."""

    markdown: str
    path: str | None


class RollbackProgressed(msgspec.Struct, frozen=True):
    """A rollback action changed state (`state`: an ActionState value of
    ppcockpit.rollback_progress, e.g. "running", "ok", "failed") or, with `state` "output",
    printed `line` (cleaned, redacted). `engine.view()` has the whole picture."""

    rollback: str
    action: str
    state: str
    line: str = ""
    dry_run: bool = False


class RollbackStateChanged(msgspec.Struct, frozen=True):
    """The rollback as a whole: "armed", "waiting" (for a decision: retry / skip / abort, or
    a second confirmation), "finished" or "aborted"; `message` says it in one line."""

    rollback: str
    state: str
    message: str
    action: str | None = None  # the action a decision is waited for
    dry_run: bool = False


SessionEvent = ReadingArrived | AlertRaised | RunbookChanged | CommandOutput | Notice | \
    SessionEnded | RollbackProgressed | RollbackStateChanged
