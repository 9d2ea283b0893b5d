"""The deployment-session journal: everything the operator and the cockpit did in one
session, recorded before the screen shows it as done. A session's state is a fold over its
events (the runbook engine's job); this module only records and reads them.

`JournalStore` is the interface (a shared store, e.g. the team's Postgres, can back it
later); `FileJournal` keeps one append-only JSON-lines file per session. Its async methods
run the blocking file work on one dedicated worker thread, in the order they were called;
`FileJournal.files` is the blocking core itself, for headless commands.

Every event is written as `{"v": 1, "seq": n, "at": ISO-8601 UTC, "event": name,
"session": id, "operator": ..., "environment": ..., **fields}`: fields are redacted
(structured, before serialising) and, past 64 KiB, their largest strings are cut with a
visible mark.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ppcockpit.journal_files import JournalError, JournalFiles
from ppcockpit.journal_records import (
    MAX_EVENT_BYTES,
    JournalEvent,
    JournalProblem,
    JournalRead,
    NewEvent,
    SessionInfo,
)
from ppcockpit.secrets import Redactor

T = TypeVar("T")

# --- event names, and the fields each carries ------------------------------------------------
# `step` is always the runbook key "phase-id/step-id"; `phase` a phase id. Every event also
# carries the header: v, seq, at (the time it happened), event, session, operator, environment.
SESSION_OPENED = "session_opened"  # **meta given to create() (e.g. runbook, config, version)
SESSION_CLOSED = "session_closed"  # reason (optional)
STEP_CONFIRMED = "step_confirmed"  # step
STEP_UNCONFIRMED = "step_unconfirmed"  # step (a manual step confirmed by mistake)
STEP_OVERRIDDEN = "step_overridden"  # step, reason
GATE_OVERRIDDEN = "gate_overridden"  # phase, reason
COMMAND_STARTED = "command_started"  # step, run (the command line, placeholders filled)
COMMAND_FINISHED = "command_finished"  # step, exit_code, duration_s, output_tail
COMMAND_CANCELLED = "command_cancelled"  # step, duration_s, output_tail
VALUE_RECORDED = "value_recorded"  # step, value, source ("operator" or "deployments")
TAG_CREATED = "tag_created"  # step, tag, sha, pushed (bool)
PROBE_STEP_PASSED = "probe_step_passed"  # step, summary
PROBE_STEP_FAILED = "probe_step_failed"  # step, summary
PHASE_COMPLETED = "phase_completed"  # phase
DEPLOY_MARKED = "deploy_marked"  # the deploy time is the event's `at`; optional sha, url
RELEASE_LOGGED = "release_logged"  # path
ROLLBACK_PREFIX = "rollback_"  # rollback_* events: the guarded rollback (ppcockpit.rollback)
# `rollback` is always the rollback's id ("rb-" and 8 hex digits, made when it is armed), and
# `action` an action id of the plan. Every rollback_* event carries `dry_run` (bool): a dry
# run is journaled like a rollback and never counts as one.
ROLLBACK_ARMED = "rollback_armed"  # rollback, dry_run, trigger (the evidence, one paragraph),
#   evidence (its numbers), actions [{id, kind, title, optional}], target and current
#   ({uid, url, sha, created} or null), stack_at (the watched stack's clock, unix seconds)
ROLLBACK_RESUMED = "rollback_resumed"  # rollback, dry_run (continued after a restart)
ROLLBACK_ACTION_STARTED = "rollback_action_started"  # rollback, action, kind, attempt,
#   dry_run, detail (what it does: the request, the command line, the pattern)
ROLLBACK_ACTION_FINISHED = "rollback_action_finished"  # rollback, action, result ("ok" or
#   "failed"), summary, output_tail (bounded, redacted), duration_s, dry_run
ROLLBACK_DECIDED = "rollback_decided"  # rollback, action, decision ("retry", "skip" or
#   "confirm": the second typed confirmation), reason, dry_run
ROLLBACK_ABORTED = "rollback_aborted"  # rollback, action (where it stopped), reason, dry_run
ROLLBACK_FINISHED = "rollback_finished"  # rollback, result (one line), dry_run
ROLLBACK_EVENTS = (ROLLBACK_ARMED, ROLLBACK_RESUMED, ROLLBACK_ACTION_STARTED,
                   ROLLBACK_ACTION_FINISHED, ROLLBACK_DECIDED, ROLLBACK_ABORTED,
                   ROLLBACK_FINISHED)

EVENT_NAMES = (SESSION_OPENED, SESSION_CLOSED, STEP_CONFIRMED, STEP_OVERRIDDEN,
               GATE_OVERRIDDEN, COMMAND_STARTED, COMMAND_FINISHED, COMMAND_CANCELLED,
               VALUE_RECORDED, TAG_CREATED, PROBE_STEP_PASSED, PROBE_STEP_FAILED,
               PHASE_COMPLETED, DEPLOY_MARKED, RELEASE_LOGGED, *ROLLBACK_EVENTS)

WORKER_THREAD_NAME = "ppcockpit-journal"


class JournalStore(Protocol):
    """Where sessions are recorded. Every method is a coroutine; `append` returns only once
    the event is durable."""

    async def create(self, environment: str, operator: str,
                     meta: Mapping[str, Any] | None = None) -> SessionInfo: ...

    async def append(self, session_id: str, event: NewEvent) -> JournalEvent: ...

    async def read(self, session_id: str) -> JournalRead: ...

    async def list_sessions(self) -> list[SessionInfo]: ...

    async def open_session(self, environment: str) -> SessionInfo | None: ...

    async def aclose(self) -> None: ...


def default_journal_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user state directory: `$XDG_STATE_HOME/ppcockpit/journal`, else
    `~/.local/state/ppcockpit/journal` (the platform's own place on macOS and Windows)."""
    environ = os.environ if environ is None else environ
    state_home = environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(state_home):
        return Path(state_home) / "ppcockpit" / "journal"
    if sys.platform in ("darwin", "win32"):
        import platformdirs  # only there: Linux and the BSDs follow XDG

        return platformdirs.user_state_path("ppcockpit") / "journal"
    return Path.home() / ".local" / "state" / "ppcockpit" / "journal"


class FileJournal:
    """A JournalStore of one JSON-lines file per session in `directory`."""

    def __init__(self, directory: Path | str | None = None, *,
                 redactor: Redactor | None = None,
                 clock: Callable[[], datetime] | None = None,
                 max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        redact = redactor.data if redactor is not None else None
        self.files = JournalFiles(Path(directory) if directory else default_journal_dir(),
                                  redact=redact, clock=clock, max_event_bytes=max_event_bytes)
        self._worker: ThreadPoolExecutor | None = None

    @property
    def directory(self) -> Path:
        return self.files.directory

    async def create(self, environment: str, operator: str,
                     meta: Mapping[str, Any] | None = None) -> SessionInfo:
        return await self._run(self.files.create, environment, operator, meta)

    async def append(self, session_id: str, event: NewEvent) -> JournalEvent:
        return await self._run(self.files.append, session_id, event)

    async def read(self, session_id: str) -> JournalRead:
        return await self._run(self.files.read, session_id)

    async def list_sessions(self) -> list[SessionInfo]:
        return await self._run(self.files.list_sessions)

    async def open_session(self, environment: str) -> SessionInfo | None:
        return await self._run(self.files.open_session, environment)

    async def aclose(self) -> None:
        """Wait for every call made so far, then let the worker thread go."""
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.wrap_future(worker.submit(lambda: None))
            worker.shutdown(wait=False)

    async def __aenter__(self) -> FileJournal:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the worker thread. Calls run one at a time, in the order they
        were made; a call whose caller is cancelled still completes (an operator's action
        that was asked for is recorded), the caller just stops waiting."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix=WORKER_THREAD_NAME)
        job: Future[T] = self._worker.submit(partial(function, *args))
        job.add_done_callback(_observe)
        return await asyncio.shield(asyncio.wrap_future(job))


def _observe(job: Future[Any]) -> None:
    """Mark the outcome as seen: a caller that was cancelled will never look at it."""
    if not job.cancelled():
        job.exception()


__all__ = [
    "COMMAND_CANCELLED", "COMMAND_FINISHED", "COMMAND_STARTED", "DEPLOY_MARKED",
    "EVENT_NAMES", "GATE_OVERRIDDEN", "MAX_EVENT_BYTES", "PHASE_COMPLETED",
    "PROBE_STEP_FAILED", "PROBE_STEP_PASSED", "RELEASE_LOGGED", "ROLLBACK_ABORTED",
    "ROLLBACK_ACTION_FINISHED", "ROLLBACK_ACTION_STARTED", "ROLLBACK_ARMED", "ROLLBACK_DECIDED",
    "ROLLBACK_EVENTS", "ROLLBACK_FINISHED", "ROLLBACK_PREFIX", "ROLLBACK_RESUMED",
    "SESSION_CLOSED", "SESSION_OPENED", "STEP_CONFIRMED", "STEP_OVERRIDDEN", "TAG_CREATED",
    "VALUE_RECORDED", "FileJournal", "JournalError", "JournalEvent", "JournalFiles",
    "JournalProblem", "JournalRead", "JournalStore", "NewEvent", "SessionInfo",
    "default_journal_dir",
]
