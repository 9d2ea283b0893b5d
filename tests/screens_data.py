"""Recorded readings, as the real probes produce them, for screen tests and snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from ppcockpit.config_model import PosthogProbeConfig
from ppcockpit.model import Failure, Reading, Row, Status
from probes.posthog_series import MinuteCount, evaluate

AT = 1_764_324_000.0


def health(outage: bool = False) -> Reading:
    anthropic = Row(key="ai:anthropic", label="anthropic",
                    status=Status.UNAVAILABLE if outage else Status.DEGRADED, latency_ms=120,
                    message="upstream 529 overloaded" if outage else "rate limited",
                    consecutive_failures=3 if outage else 0, alerting=outage)
    rows = (
        Row(key="supabase", label="supabase", status=Status.HEALTHY, latency_ms=4),
        Row(key="analytics", label="analytics", status=Status.HEALTHY),
        Row(key="ai:openai", label="openai", status=Status.HEALTHY, latency_ms=48),
        anthropic,
        Row(key="ai:together", label="together", status=Status.SKIPPED,
            message="not configured"),
        Row(key="ai:ollama", label="ollama", status=Status.SKIPPED, message="not configured"),
    )
    if outage:
        return Reading(probe="health", target="https://app.pocketphilosopher.com/api/health",
                       status=Status.UNAVAILABLE, rows=rows, latency_ms=212.0,
                       summary="anthropic unavailable: upstream 529 overloaded",
                       request_id="3f1c9a2e-77d1", failure=Failure.NONE,
                       metrics={"http_status": 200})
    return Reading(probe="health", target="https://app.pocketphilosopher.com/api/health",
                   status=Status.DEGRADED, rows=rows, latency_ms=41.0,
                   summary="degraded · anthropic degraded: rate limited",
                   request_id="3f1c9a2e-77d0", metrics={"http_status": 200})


def redis(pressure: bool = False) -> Reading:
    ratio = 0.93 if pressure else 0.41
    used = int(64 * 1024 * 1024 * ratio)
    return Reading(
        probe="redis", target="redis://127.0.0.1:6379/0",
        status=Status.UNAVAILABLE if pressure else Status.HEALTHY,
        label="memory ≥ 90%" if pressure else None,
        summary=(f"memory {ratio:.0%} of maxmemory (critical ≥ 90%)" if pressure
                 else "memory 41% of 64.0 MiB · 7 clients · 1,204 ops/s"),
        metrics={"used_memory": used, "maxmemory": 64 * 1024 * 1024, "memory_ratio": ratio,
                 "connected_clients": 57 if pressure else 7, "blocked_clients": 0,
                 "ops_per_sec": 1204, "used_memory_rss": used + 3_000_000,
                 "mem_fragmentation_ratio": 1.12, "rejected_connections_delta": 0,
                 "evicted_keys_delta": 12 if pressure else 0},
        details={"measured_against": "maxmemory", "redis_version": "6.2.5"},
    )


def posthog(spike: bool = False) -> Reading:
    """What the PostHog probe says at 10:00:05: 29 whole minutes and the one just begun
    (1 failure in its 6 requests so far: drawn as filling, never counted)."""
    now = datetime.fromtimestamp(AT + 5, UTC)
    series = []
    for index in range(1, 30):
        failed = (index - 12) * 2 if spike and index > 18 else 1 if index % 4 == 0 else 0
        series.append(MinuteCount(now.replace(minute=30 + index, hour=9, second=0),
                                  60, max(0, failed)))
    series.append(MinuteCount(now.replace(second=0), 9 if spike else 5, 3 if spike else 1))
    deploy = datetime(2025, 11, 28, 9, 48, tzinfo=UTC)
    verdict = evaluate(series, PosthogProbeConfig(), deploy, now)
    return Reading(
        probe="posthog", target="https://us.posthog.com project 12345",
        status=verdict.status, summary=verdict.summary, label=verdict.label,
        metrics=verdict.metrics | {"data_age_s": 0.0},
        details=verdict.details | {"cached": False, "stale": False, "retry_after_s": None},
    )
