"""The simulated Pocket Philosopher: faults, deployments, traffic and what the app knows.

Lives on the stack's event loop; only that loop reads or changes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.analytics import COMPLETED, FAILED, Analytics
from ppcockpit.rehearsal.clock import SimClock, iso_ms
from ppcockpit.rehearsal.deployments import HISTORY, Deployment, Deployments
from ppcockpit.rehearsal.logs import STARTUP_BANNER, LogSink, error_fields
from ppcockpit.rehearsal.traffic import ChatRequest, Traffic

PREFILL = 35 * 60.0  # simulated seconds of history made up at start: sparklines start full
PROVIDERS = ("openai", "anthropic", "together", "ollama")
CONFIGURED = {"openai": True, "anthropic": True, "together": True, "ollama": False}
MAX_LOGGED_PER_STEP = 500  # after a big clock jump only the newest requests are logged
_ERRORS = {
    "degraded": ("rate_limited", "rate limited"),
    "unavailable": ("provider_unavailable", "503 Service Unavailable: overloaded_error"),
    "healthy": ("upstream_timeout", "request timed out after 30000ms"),
}


@dataclass(slots=True)
class ProviderStats:
    success: int = 0
    failure: int = 0
    degraded: int = 0
    last_success: float | None = None
    last_failure: float | None = None
    last_status: str = "healthy"


class World:
    def __init__(self, clock: SimClock, log: LogSink, seed: int = 7, *,
                 target: str = "production", history: tuple[float, ...] = HISTORY) -> None:
        self.clock = clock
        self.log = log
        self.faults: dict[str, float] = {}  # fault name -> simulated activation time
        self.deployments = Deployments(random.Random(seed + 1), target, history)
        self.analytics = Analytics()
        self.rng = random.Random(seed + 2)  # for details that need not be reproducible
        self._traffic = Traffic(seed, clock.start - PREFILL)
        self.stats = {p: ProviderStats() for p in PROVIDERS}
        self.stats["ollama"].last_status = "unavailable"

    # --- state ---------------------------------------------------------------------------

    def since(self, name: str) -> float | None:
        return self.faults.get(name)

    def provider_status(self, provider: str, at: float) -> str:
        if not CONFIGURED.get(provider, False):
            return "unavailable"
        if provider == "anthropic":
            return sc.anthropic_status(self.since(sc.PROVIDER_OUTAGE), at)
        return "healthy"

    def failure_ratio(self, at: float) -> float:
        ratio = sc.BASE_FAILURE_RATIO
        ratio += sc.OUTAGE_EXTRA_FAILURES.get(self.provider_status("anthropic", at), 0.0)
        ratio += sc.spike_ratio(self.since(sc.FAILURE_SPIKE), at)
        return min(ratio, 0.9)

    def health_mode(self) -> str:
        """Which face /api/health shows: the worst active fault wins."""
        for name in (sc.BAD_GATEWAY, sc.NO_SERVICE_ROLE, sc.DB_DOWN):
            if name in self.faults:
                return name
        return "ok"

    # --- start ---------------------------------------------------------------------------

    def seed_history(self) -> None:
        start = self.clock.start
        self.deployments.seed(start)
        for deployment in reversed(self.deployments.all()):
            self.analytics.annotate(f"Deploy {deployment.version}", deployment.created,
                                    deployment.created)
        for line in STARTUP_BANNER:
            self.log.text(line)
        self.step(start)

    # --- time passes ---------------------------------------------------------------------

    def step(self, now: float) -> list[ChatRequest]:
        """Generate the traffic up to `now`, count it, log it; log provider changes."""
        requests = self._traffic.until(now, self.failure_ratio, self.provider_status)
        for request in requests:
            self.analytics.count(FAILED if request.failed else COMPLETED, request.at)
            stats = self.stats[request.provider]
            if request.failed:
                stats.failure += 1
                stats.last_failure = request.at
            else:
                stats.success += 1
                stats.last_success = request.at
        skipped = max(0, len(requests) - MAX_LOGGED_PER_STEP)
        if skipped:
            self.log.text(f"[rehearsal] simulated clock jumped: {skipped} request lines "
                          "not logged")
        for request in requests[skipped:]:
            self._log_request(request)
        self._log_provider_changes(now)
        return requests

    def _log_request(self, request: ChatRequest) -> None:
        common = {"requestId": request.request_id, "route": "/api/chat", "method": "POST",
                  "userId": request.user}
        if not request.failed:
            self.log.json("info", "Coach reply completed", request.at, **common,
                          metadata={"providerId": request.provider,
                                    "latencyMs": request.latency_ms,
                                    "promptTokens": request.prompt_tokens,
                                    "completionTokens": request.completion_tokens})
            return
        status = self.provider_status(request.provider, request.at)
        code, message = _ERRORS[status]
        frame = "async POST (/var/task/.next/server/app/api/chat/route.js:1:4821)"
        self.log.json("error", "Provider request failed", request.at, **common,
                      metadata={"providerId": request.provider,
                                "durationMs": request.latency_ms, "errorCode": code},
                      error=error_fields("ProviderError", message, frame))
        if request.request_id.endswith(("0", "8")):  # now and then a raw trace, as Next does
            self.log.text(f"ProviderError: {message}")
            self.log.text(f"    at {frame}")

    def _log_provider_changes(self, now: float) -> None:
        for provider, stats in self.stats.items():
            status = self.provider_status(provider, now)
            if status == stats.last_status:
                continue
            previous, stats.last_status = stats.last_status, status
            if status == "degraded":
                stats.degraded += 1
            level = {"healthy": "info", "degraded": "warn"}.get(status, "error")
            message = {"healthy": "Provider health recovered",
                       "degraded": "Provider health degraded"}.get(status,
                                                                    "Provider unavailable")
            error = None if status == "healthy" else {"name": "Error",
                                                      "message": _ERRORS[status][1]}
            self.log.json(level, message, now, route="/api/health", method="GET",
                          metadata={"providerId": provider, "previousStatus": previous,
                                    "status": status}, error=error)

    # --- drills --------------------------------------------------------------------------

    def inject(self, name: str, now: float) -> str:
        if name == sc.CALM:
            cleared = sorted(self.faults)
            self.faults.clear()
            self.log.text("── rehearsal: calm restored ──")
            return ("Calm restored: cleared " + ", ".join(cleared)) if cleared else \
                "Already calm: no fault was active"
        if name in self.faults:
            return f"{name} is already active (since {iso_ms(self.faults[name])})"
        self.faults[name] = now
        self.log.text(f"── rehearsal: fault {name!r} injected ──")
        message = f"Injected {name}: {sc.DESCRIPTIONS[name]}"
        if name == sc.FAILURE_SPIKE:
            deployment = self.deploy(now)
            self.deployments.bad_uid = deployment.uid
            message += f" (deployed {deployment.version})"
        return message

    def deploy(self, now: float) -> Deployment:
        deployment = self.deployments.create(now)
        self.analytics.annotate(f"Deploy {deployment.version}", now, now)
        self.log.text(f"Vercel: deployment {deployment.uid} promoted to production")
        self.log.json("info", "Deployment live", now, route="/", method="GET",
                      metadata={"version": deployment.version,
                                "commitSha": deployment.sha, "deploymentId": deployment.uid})
        return deployment

    def switch_to(self, deployment: Deployment, now: float, how: str) -> None:
        """A rollback or promote made `deployment` current; a spike its deploy caused ends."""
        self.deployments.make_current(deployment.uid)
        self.log.text(f"Vercel: {how} to {deployment.uid} ({deployment.version})")
        bad = self.deployments.bad_uid
        if bad is None:
            return
        if deployment.uid != bad and self.faults.pop(sc.FAILURE_SPIKE, None) is not None:
            self.log.json("info", "Failure ratio recovering after rollback", now,
                          metadata={"version": deployment.version})
        elif deployment.uid == bad and sc.FAILURE_SPIKE not in self.faults:
            self.faults[sc.FAILURE_SPIKE] = now - sc.SPIKE_ONSET  # the bad build is back
