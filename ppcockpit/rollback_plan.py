"""The rollback plan: ordered actions (`[rollback]` with `[[rollback.actions]]`, in the runbook
file or in cockpit.toml). Plain data and its validation; the engine that runs it is
ppcockpit.rollback."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from ppcockpit.config_types import Seconds, Strict

SLUG = r"^[a-z0-9][a-z0-9-]{0,63}$"


class ActionKind(StrEnum):
    HOSTING = "hosting"  # the hosting API's rollback to the previous READY deployment
    COMMAND = "command"  # a local command (kubectl rollout undo, fly deploy --image ...)
    SSH = "ssh"  # the same on a remote host, its key verified
    MIGRATION_DOWN = "migration_down"  # a configured down-migration; a second confirmation
    REDIS_FLUSH = "redis_flush"  # keys matching a pattern (FLUSHALL only when allowed)
    NOTIFY = "notify"  # a Slack-compatible incoming webhook
    POSTHOG = "posthog"  # cockpit_rollback event and an annotation


class RollbackAction(Strict, kw_only=True):
    id: Annotated[str, Meta(pattern=SLUG)]
    """A stable slug: the journal refers to actions by it."""
    kind: ActionKind
    title: str
    """What the operator reads in the plan."""
    optional: bool = False
    """The operator may skip it without a reason."""
    run: str | None = None
    """(command, ssh, migration_down) The command line."""
    cwd: str | None = None
    """(command, migration_down) Where it runs, relative to the file the plan is in."""
    timeout: Seconds = Seconds(300.0)
    """(command, ssh, migration_down, hosting, notify) How long it may take."""
    host: str | None = None
    """(ssh) The host."""
    port: Annotated[int, Meta(ge=1, le=65535)] = 22
    user: str | None = None
    key_file: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    """(ssh) The host key is always verified against this file."""
    pattern: str | None = None
    """(redis_flush) Keys to remove, e.g. "persona:*" (SCAN MATCH + UNLINK in batches)."""
    flushall: bool = False
    """(redis_flush) FLUSHALL instead of a pattern: only with [rollback] allow_flushall."""
    batch: Annotated[int, Meta(ge=1, le=10_000)] = 500
    """(redis_flush) Keys per SCAN / UNLINK round."""
    url: str | None = None
    """(notify) The incoming webhook, e.g. "${SLACK_WEBHOOK_URL}" (a secret)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        problem = _problem(self)
        if problem:
            raise ValueError(problem)


def _problem(action: RollbackAction) -> str | None:
    kind = action.kind
    if kind in (ActionKind.COMMAND, ActionKind.SSH, ActionKind.MIGRATION_DOWN) \
            and not action.run:
        return f"a {kind.value} action needs `run`"
    if kind is ActionKind.SSH and not action.host:
        return "an ssh action needs `host`"
    if kind is ActionKind.REDIS_FLUSH:
        if action.flushall and action.pattern:
            return "a redis_flush action takes `pattern` or `flushall = true`, not both"
        if not action.flushall and not action.pattern:
            return 'a redis_flush action needs `pattern` (e.g. "persona:*")'
        if action.pattern is not None and not action.pattern.strip("*?"):
            return ("`pattern` matches every key: say `flushall = true` (and allow it) if "
                    "that is what you mean")
    if kind is ActionKind.NOTIFY and not action.url:
        return "a notify action needs `url` (the incoming webhook)"
    return None


class RollbackPlan(Strict, kw_only=True):
    allow_flushall: bool = False
    """A redis_flush action may wipe every key (FLUSHALL) only when this is true."""
    actions: Annotated[list[RollbackAction], Meta(min_length=1)]
    """In the order they run."""

    def __post_init__(self) -> None:
        super().__post_init__()
        seen: set[str] = set()
        for action in self.actions:
            if action.id in seen:
                raise ValueError(f"two actions are named {action.id!r}")
            seen.add(action.id)
            if action.flushall and not self.allow_flushall:
                raise ValueError(f"action {action.id!r} says flushall = true, but the plan "
                                 "does not allow it (allow_flushall = true)")

    def action(self, action_id: str) -> RollbackAction:
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(action_id)

