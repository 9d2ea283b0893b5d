"""The rollback as shown: the plan's actions with their targets and states, the deployment
it returns to, the rollback running or half-done, what it waits for. Plain data, built by
ppcockpit.rollback's engine (`plan_view()`); `PlanView.as_json()` is `rollback plan --json`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ppcockpit.rollback_actions import deployment_text
from ppcockpit.rollback_progress import ActionState


@dataclass(frozen=True, slots=True)
class DeploymentView:
    uid: str
    url: str | None
    sha: str | None
    created: float | None
    age_s: float | None

    def text(self) -> str:
        """`dpl_abc12345 · 3f2a1b7 · https://… · deployed 1d ago`."""
        now = (self.created or 0.0) + self.age_s if self.age_s is not None else 0.0
        return deployment_text({"uid": self.uid, "url": self.url, "sha": self.sha,
                                "created": self.created}, now)


@dataclass(frozen=True, slots=True)
class Waiting:
    """The run is stopped at `action` until the operator decides."""

    action: str
    why: str  # "failed", "interrupted", "confirm" (a second typed confirmation), "missing"
    message: str
    word: str | None = None  # what to type to confirm


@dataclass(frozen=True, slots=True)
class ActionView:
    id: str
    kind: str
    title: str
    optional: bool
    detail: str  # its target, in one line (never a secret, never the webhook's path)
    blocked: str | None  # why it cannot run as configured (None: it can)
    state: ActionState
    summary: str = ""  # how it ended
    attempts: int = 0
    output: tuple[str, ...] = ()
    confirmation: str | None = None  # the word a second confirmation needs
    confirmed: bool = False
    by: str | None = None
    reason: str | None = None  # why it was skipped


@dataclass(frozen=True, slots=True)
class RollbackStatus:
    """The rollback the modal shows: running, half-done, or just ended."""

    id: str
    dry_run: bool
    state: str  # "running", "waiting", "half-done", "finished", "aborted"
    armed_by: str
    armed_at: str
    trigger: str
    outcome: str
    waiting: Waiting | None = None


@dataclass(frozen=True, slots=True)
class PlanView:
    environment: str
    actions: tuple[ActionView, ...]
    current: DeploymentView | None = None
    target: DeploymentView | None = None
    hosting_problem: str | None = None
    resolved: bool = False
    rollback: RollbackStatus | None = None
    problem: str | None = None  # no plan

    def as_json(self) -> dict[str, Any]:
        """`rollback plan --json`."""
        current, target = self.current, self.target
        return {
            "environment": self.environment,
            "current": None if current is None else
            {"uid": current.uid, "url": current.url, "sha": current.sha},
            "target": None if target is None else
            {"uid": target.uid, "url": target.url, "sha": target.sha,
             "age_s": None if target.age_s is None else round(target.age_s, 1)},
            "actions": [{"id": a.id, "kind": a.kind, "title": a.title,
                         "optional": a.optional,
                         "detail": a.detail + (f" · cannot run: {a.blocked}" if a.blocked
                                               else "")}
                        for a in self.actions],
        }
