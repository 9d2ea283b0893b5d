"""Where a rollback is: a fold over the session's rollback_* journal events. Pure: no I/O.

After a crash the fold is the truth: a finished action is never run again, an action that
started and never finished is `interrupted` (it asks before it runs again), and the
release log's rollback record (trigger, actions and results, operator) comes from here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import msgspec

from ppcockpit.journal import (
    ROLLBACK_ABORTED,
    ROLLBACK_ACTION_FINISHED,
    ROLLBACK_ACTION_STARTED,
    ROLLBACK_ARMED,
    ROLLBACK_DECIDED,
    ROLLBACK_FINISHED,
    ROLLBACK_RESUMED,
)
from ppcockpit.release_entry import Rollback, RollbackAction
from ppcockpit.text import one_line

MAX_KEPT = 20  # rollbacks (dry runs included) kept in the fold of one session
MAX_PROBLEMS = 20
OUTPUT_TAIL = 50  # lines of an action's output journaled when it ends

RETRY, SKIP, ABORT, CONFIRM = "retry", "skip", "abort", "confirm"
DECISIONS = (RETRY, SKIP, ABORT)


class ActionState(StrEnum):
    PENDING = "pending"  # not run yet (or a retry was decided)
    RUNNING = "running"  # running in this process now (the engine says so, not the journal)
    OK = "ok"
    FAILED = "failed"  # waits for retry / skip / abort
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # started, never finished: the cockpit stopped meanwhile

    @property
    def glyph(self) -> str:
        return ACTION_GLYPHS[self]

    @property
    def done(self) -> bool:
        """Nothing more to do for it."""
        return self in (ActionState.OK, ActionState.SKIPPED)


ACTION_GLYPHS = {
    ActionState.PENDING: "☐", ActionState.RUNNING: "▶", ActionState.OK: "✔",
    ActionState.FAILED: "✖", ActionState.SKIPPED: "⤳", ActionState.INTERRUPTED: "⚡",
}


class RollbackState(StrEnum):
    OPEN = "open"  # armed, neither finished nor aborted
    FINISHED = "finished"
    ABORTED = "aborted"


class ActionRecord(msgspec.Struct):
    id: str
    kind: str
    title: str
    optional: bool = False
    state: ActionState = ActionState.PENDING
    attempts: int = 0
    detail: str = ""  # what it does, as journaled when it started
    summary: str = ""  # how it ended, in one line
    output_tail: tuple[str, ...] = ()
    started_at: str | None = None
    finished_at: str | None = None
    by: str | None = None
    reason: str | None = None  # why it was skipped
    confirmed: bool = False  # the second typed confirmation was given

    def result_text(self) -> str:
        """How it went, in one line, for the release log."""
        if self.state is ActionState.OK:
            return f"ok: {self.summary}" if self.summary else "ok"
        if self.state is ActionState.SKIPPED:
            return f"skipped by {self.by or '?'}" + (f": {self.reason}" if self.reason else "")
        if self.state is ActionState.FAILED:
            return f"failed: {self.summary}" if self.summary else "failed"
        if self.state is ActionState.INTERRUPTED:
            return "interrupted (the cockpit stopped while it ran)"
        return "not run"


class RollbackRecord(msgspec.Struct):
    id: str
    dry_run: bool
    armed_at: str
    armed_by: str
    trigger: str
    evidence: dict[str, Any] = msgspec.field(default_factory=dict)
    target: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    stack_at: float | None = None  # the watched stack's clock when it was armed
    actions: dict[str, ActionRecord] = msgspec.field(default_factory=dict)  # in plan order
    state: RollbackState = RollbackState.OPEN
    result: str = ""
    ended_at: str | None = None
    ended_by: str | None = None
    operators: list[str] = msgspec.field(default_factory=list)

    @property
    def order(self) -> list[str]:
        return list(self.actions)

    def next_action(self) -> ActionRecord | None:
        """The first action with something left to do (None: all done)."""
        return next((a for a in self.actions.values() if not a.state.done), None)

    def counts(self) -> dict[ActionState, int]:
        found: dict[ActionState, int] = {}
        for action in self.actions.values():
            found[action.state] = found.get(action.state, 0) + 1
        return found


class RollbackProgress(msgspec.Struct):
    """Every rollback of one session, as far as its journal says."""

    rollbacks: dict[str, RollbackRecord] = msgspec.field(default_factory=dict)
    problems: list[str] = msgspec.field(default_factory=list)

    def apply_all(self, events: Iterable[Mapping[str, Any]]) -> RollbackProgress:
        for event in events:
            self.apply(event)
        return self

    def apply(self, event: Mapping[str, Any]) -> RollbackRecord | None:
        """Fold one journal event in (events of other kinds are ignored); the rollback it
        was about comes back. Anything that does not fit is noted in `problems`."""
        name = event.get("event")
        if not isinstance(name, str) or not name.startswith("rollback_"):
            return None
        rollback_id = _text(event.get("rollback"))
        at, by = _text(event.get("at")), _text(event.get("operator"))
        if name == ROLLBACK_ARMED:
            return self._armed(event, rollback_id, at, by)
        record = self.rollbacks.get(rollback_id or "")
        if record is None:
            self._problem(f"the journal names a rollback it never armed: {rollback_id!r}")
            return None
        if by and by not in record.operators:
            record.operators.append(by)
        if name == ROLLBACK_RESUMED:
            return record
        if name in (ROLLBACK_ABORTED, ROLLBACK_FINISHED):
            record.state = RollbackState.ABORTED if name == ROLLBACK_ABORTED \
                else RollbackState.FINISHED
            record.result = _text(event.get("reason") if name == ROLLBACK_ABORTED
                                  else event.get("result")) or ""
            record.ended_at, record.ended_by = at, by
            return record
        action = record.actions.get(_text(event.get("action")) or "")
        if action is None:
            self._problem(f"rollback {rollback_id}: the journal names an action it did not "
                          f"plan: {event.get('action')!r}")
            return record
        if name == ROLLBACK_ACTION_STARTED:
            action.state = ActionState.INTERRUPTED  # until it is seen to finish
            attempt = event.get("attempt")
            action.attempts = attempt if isinstance(attempt, int) and \
                not isinstance(attempt, bool) else action.attempts + 1
            action.detail = _text(event.get("detail")) or action.detail
            action.started_at, action.finished_at, action.by = at, None, by
        elif name == ROLLBACK_ACTION_FINISHED:
            action.state = ActionState.OK if event.get("result") == "ok" \
                else ActionState.FAILED
            action.summary = _text(event.get("summary")) or ""
            tail = event.get("output_tail")
            action.output_tail = tuple(str(line) for line in tail[-OUTPUT_TAIL:]) \
                if isinstance(tail, list) else ()
            action.finished_at = at
        elif name == ROLLBACK_DECIDED:
            self._decided(action, _text(event.get("decision")),
                          _text(event.get("reason")), by, record)
        return record

    def _armed(self, event: Mapping[str, Any], rollback_id: str | None, at: str | None,
               by: str | None) -> RollbackRecord | None:
        if not rollback_id or rollback_id in self.rollbacks:
            self._problem(f"a rollback is armed twice or without an id: {rollback_id!r}")
            return None
        record = RollbackRecord(
            id=rollback_id, dry_run=event.get("dry_run") is True, armed_at=at or "",
            armed_by=by or "?", trigger=_text(event.get("trigger")) or "",
            evidence=dict(event["evidence"]) if isinstance(event.get("evidence"), dict)
            else {},
            target=_deployment(event.get("target")), current=_deployment(event.get("current")),
            stack_at=_number(event.get("stack_at")), operators=[by] if by else [])
        actions = event.get("actions")
        for item in actions if isinstance(actions, list) else []:
            if not isinstance(item, dict) or not _text(item.get("id")):
                self._problem(f"rollback {rollback_id}: an action without an id (ignored)")
                continue
            action_id = str(item["id"])
            record.actions[action_id] = ActionRecord(
                id=action_id, kind=_text(item.get("kind")) or "?",
                title=_text(item.get("title")) or action_id,
                optional=item.get("optional") is True)
        self.rollbacks[rollback_id] = record
        while len(self.rollbacks) > MAX_KEPT:
            del self.rollbacks[next(iter(self.rollbacks))]
        return record

    def _decided(self, action: ActionRecord, decision: str | None, reason: str | None,
                 by: str | None, record: RollbackRecord) -> None:
        if decision == RETRY:
            action.state = ActionState.PENDING
        elif decision == SKIP:
            action.state, action.reason, action.by = ActionState.SKIPPED, reason, by
        elif decision == CONFIRM:
            action.confirmed = True
        else:
            self._problem(f"rollback {record.id}: unknown decision {decision!r} on "
                          f"{action.id}")

    def _problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(one_line(text, 200))

    # --- questions ----------------------------------------------------------------------

    @property
    def open(self) -> RollbackRecord | None:
        """The newest real (not dry-run) rollback that is neither finished nor aborted."""
        return next((r for r in reversed(self.rollbacks.values())
                     if not r.dry_run and r.state is RollbackState.OPEN), None)

    @property
    def latest(self) -> RollbackRecord | None:
        return next(reversed(self.rollbacks.values()), None)

    @property
    def latest_real(self) -> RollbackRecord | None:
        return next((r for r in reversed(self.rollbacks.values()) if not r.dry_run), None)

    def release_rollback(self) -> Rollback | None:
        """The release log's record of the newest real rollback (None: there was none)."""
        record = self.latest_real
        if record is None:
            return None
        actions = [RollbackAction(f"{a.title} ({a.kind})", a.result_text())
                   for a in record.actions.values()]
        actions.append(RollbackAction("the rollback", outcome(record)))
        return Rollback(trigger=record.trigger or "(no evidence recorded)",
                        operator=", ".join(record.operators) or record.armed_by,
                        actions=tuple(actions), at=record.armed_at or None)


def outcome(record: RollbackRecord) -> str:
    """The rollback's state in one line: finished, aborted (why), or half-done."""
    who = f" by {record.ended_by}" if record.ended_by else ""
    if record.state is RollbackState.FINISHED:
        return f"finished{who}" + (f": {record.result}" if record.result else "")
    if record.state is RollbackState.ABORTED:
        return f"aborted{who}" + (f": {record.result}" if record.result else "")
    waiting = record.next_action()
    return "not finished" + (f": {waiting.title} is {waiting.state.value}" if waiting else "")


def _deployment(value: object) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {key: value.get(key) for key in ("uid", "url", "sha", "created")}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
