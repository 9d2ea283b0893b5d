"""The production deployments the hosting stand-in lists, rolls back to and promotes."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ppcockpit.rehearsal.credentials import VERCEL_PROJECT_NAME

HISTORY = (6 * 86400.0, 3 * 86400.0, 86400.0, 20 * 60.0)  # seconds before start
# Staging's newest build has soaked for more than the runbook's 24 hours at start.
STAGING_HISTORY = (8 * 86400.0, 4 * 86400.0, 30 * 3600.0)
MAX_DEPLOYMENTS = 50
COMMIT_MESSAGES = (
    "feat(coach): inline citations for Seneca letters",
    "fix(offline): retry queued reflections after reconnect",
    "chore(deps): bump next to 14.2.15",
    "feat(pwa): cache fonts for the offline route",
    "fix(ai): fall back to openai when anthropic is rate limited",
    "feat(today): morning prompt streaks",
)


@dataclass(frozen=True, slots=True)
class Deployment:
    uid: str
    version: str
    sha: str
    created: float  # simulated unix seconds
    message: str
    target: str = "production"
    state: str = "READY"

    @property
    def url(self) -> str:
        return f"{VERCEL_PROJECT_NAME}-{self.uid[4:13].lower()}-rehearsal.vercel.app"


class Deployments:
    """The deployment history of one target (bounded) and which one serves it now."""

    def __init__(self, rng: random.Random, target: str = "production",
                 history: tuple[float, ...] = HISTORY) -> None:
        self._rng = rng
        self.target = target
        self.history = history
        self._items: list[Deployment] = []
        self.current_uid = ""
        self.bad_uid: str | None = None  # the deploy that brought failure-spike

    def seed(self, start: float) -> None:
        for ago in self.history:
            self.create(start - ago)

    def create(self, at: float) -> Deployment:
        day = datetime.fromtimestamp(at, UTC).strftime("%Y.%m.%d")
        same_day = sum(1 for d in self._items if d.version.startswith(f"v{day}-"))
        deployment = Deployment(
            uid="dpl_" + "".join(self._rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=24)),
            version=f"v{day}-{same_day + 1}",
            sha=f"{self._rng.getrandbits(160):040x}",
            created=at,
            message=self._rng.choice(COMMIT_MESSAGES),
            target=self.target,
        )
        self._items.append(deployment)
        del self._items[:-MAX_DEPLOYMENTS]
        self.current_uid = deployment.uid
        return deployment

    def all(self) -> list[Deployment]:
        """Newest first."""
        return sorted(self._items, key=lambda d: d.created, reverse=True)

    def get(self, id_or_url: str) -> Deployment | None:
        for deployment in self._items:
            if id_or_url in (deployment.uid, deployment.url):
                return deployment
        return None

    @property
    def current(self) -> Deployment:
        found = self.get(self.current_uid)
        assert found is not None
        return found

    def make_current(self, uid: str) -> Deployment:
        self.current_uid = uid
        return self.current

    def mark(self, uid: str, state: str) -> None:
        self._items = [replace(d, state=state) if d.uid == uid else d for d in self._items]

    def service_worker_revision(self) -> str:
        """What changes the service worker's bytes: one revision per deployment."""
        return hashlib.sha256(self.current.sha.encode()).hexdigest()[:16]
