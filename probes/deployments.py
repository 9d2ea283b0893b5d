"""The deployments probe: which deployment serves the environment's target now, how old it
is, and the previous READY one a rollback would return to (`hosting` does the asking)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ppcockpit.config_model import DeploymentsProbeConfig, HostingEnvironment
from ppcockpit.model import Reading, Status
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from probes.hosting import HostingClient
from probes.hosting_parse import READY, Deployment, LiveDeployments, age_text

SUMMARY_PROBLEMS = 2  # problems of an answer named in the summary before "+N more"
_MARGIN = 0.9  # the HTTP work ends before the runner's own timeout fires
# States of a deployment that is on its way (not yet serving) or has failed for good.
_PENDING = frozenset({"BUILDING", "INITIALIZING", "QUEUED"})
_FAILED = frozenset({"ERROR", "CANCELED", "DELETED"})


class DeploymentsProbe:
    """Watches one hosting project's target through `HostingClient`."""

    def __init__(self, hosting: HostingEnvironment, settings: DeploymentsProbeConfig,
                 name: str = "deployments", *, now: Callable[[], float] = time.time) -> None:
        self.name = name
        self.interval = settings.interval
        self.timeout = settings.timeout
        self.deployment_target = hosting.target
        self._client = HostingClient(hosting, timeout=settings.timeout, now=now)
        self.target = self._client.target
        self._now = now

    @property
    def client(self) -> HostingClient:
        """The hosting client, for what else needs the same project (a rollback)."""
        return self._client

    async def prepare(self) -> None:
        await self._client.prepare()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self, deadline: float | None = None) -> Reading:
        """`deadline` is a time.monotonic() instant by which the check must be done."""
        if deadline is None:
            deadline = time.monotonic() + self.timeout * _MARGIN
        live = await self._client.current_and_previous(deadline)
        return self.reading(live, self._now())

    def reading(self, live: LiveDeployments, now: float) -> Reading:
        current, previous = live.current, live.previous
        status, verdict = _judge(live, self.deployment_target)
        age = round(max(0.0, now - current.created), 1) if current else None
        parts = [_live_text(current, now) if current else verdict]
        if current and verdict:
            parts.append(verdict)
        elif previous:
            parts.append(f"previous {previous.short_uid} · {previous.short_sha or 'no SHA'}")
        if live.problems:
            parts.append(_problems_text(live.problems))
        redact = self._client.redact
        return Reading(
            probe=self.name,
            target=self.target,
            status=status,
            summary=redact(one_line(" · ".join(parts), 240)),
            metrics={"age_s": age},
            details=redact.data({
                "uid": current.uid if current else None,
                "url": _shown_url(current),
                "sha": current.sha if current else None,
                "state": current.state if current else None,
                "age_s": age,
                "previous": _brief(previous),
            }),
        )


def _judge(live: LiveDeployments, target: str) -> tuple[Status, str]:
    """The status, and what to say when it is not plainly healthy ("" when it is)."""
    current = live.current
    if current is None:
        return Status.UNKNOWN, f"no READY {target} deployment found"
    if current.state in _FAILED:
        return Status.UNAVAILABLE, f"the live deployment is {current.state}"
    if current.state in _PENDING:
        return Status.DEGRADED, f"the live deployment is still {current.state}"
    if current.state != READY:
        return Status.UNKNOWN, f"the live deployment is in an unknown state {current.state}"
    if live.source != "project":
        return Status.DEGRADED, "live deployment guessed (newest READY)"
    if live.previous is None:
        return Status.DEGRADED, "no previous READY deployment: a rollback has nowhere to go"
    return Status.HEALTHY, ""


def _live_text(current: Deployment, now: float) -> str:
    sha = current.short_sha or "no SHA"
    return f"live {current.short_uid} · {sha} · {age_text(now - current.created)}"


def _shown_url(deployment: Deployment | None) -> str | None:
    return redact_url(deployment.url) if deployment and deployment.url else None


def _brief(deployment: Deployment | None) -> dict[str, Any] | None:
    if deployment is None:
        return None
    return {"uid": deployment.uid, "url": _shown_url(deployment), "sha": deployment.sha}


def _problems_text(problems: tuple[str, ...]) -> str:
    shown = " · ".join(problems[:SUMMARY_PROBLEMS])
    more = len(problems) - SUMMARY_PROBLEMS
    return shown + (f" (+{more} more)" if more > 0 else "")
