"""The rehearsal's scenarios (faults) and their timelines, as pure functions of simulated time.

Every fault is active from the simulated moment it was injected; the timelines below say
what it does as that moment recedes. `calm` is no fault at all: injecting it clears them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CALM = "calm"
PROVIDER_OUTAGE = "provider-outage"
FAILURE_SPIKE = "failure-spike"
REDIS_PRESSURE = "redis-pressure"
DB_DOWN = "db-down"
BAD_GATEWAY = "bad-gateway"
NO_SERVICE_ROLE = "no-service-role"
POSTHOG_THROTTLED = "posthog-throttled"

BASE_FAILURE_RATIO = 0.01
OUTAGE_DEGRADED_FOR = 60.0  # simulated seconds of "degraded" before "unavailable"
OUTAGE_EXTRA_FAILURES = {"degraded": 0.02, "unavailable": 0.03}
SPIKE_ONSET = 120.0  # simulated seconds after the deploy before failures start to climb
SPIKE_SLOPE_PER_MINUTE = 0.05
SPIKE_MAX_RATIO = 0.35
PRESSURE_RAMP = 120.0  # simulated seconds for memory to climb to its target
PRESSURE_BASE_RATIO = 0.05
PRESSURE_TARGET_RATIO = 0.85
SURGE_CLIENTS = 40
SURGE_RAMP = 60.0
THROTTLE_RETRY_AFTER = 20  # seconds PostHog asks the client to wait


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(CALM, "everything healthy, about 1% failed requests (clears every fault)"),
    Scenario(PROVIDER_OUTAGE,
             "anthropic degraded, then unavailable after 1 simulated minute, and stays so"),
    Scenario(FAILURE_SPIKE,
             "a deploy, then the failure ratio climbs past 5% within ~8 simulated minutes"),
    Scenario(REDIS_PRESSURE,
             "Redis memory climbs past 75% of maxmemory (to 85%) and 40 clients surge in"),
    Scenario(DB_DOWN, "the app's database probe fails: /api/health answers 503 with details"),
    Scenario(BAD_GATEWAY, "the gateway in front of the app answers HTML 502 on every route"),
    Scenario(NO_SERVICE_ROLE,
             "the app cannot build its Supabase client: /api/health answers 500"),
    Scenario(POSTHOG_THROTTLED,
             f"PostHog answers 429 throttled with Retry-After: {THROTTLE_RETRY_AFTER}"),
)
SCENARIO_NAMES: tuple[str, ...] = tuple(s.name for s in SCENARIOS)
DESCRIPTIONS: dict[str, str] = {s.name: s.description for s in SCENARIOS}


def anthropic_status(since: float | None, now: float) -> str:
    """The anthropic provider's status under provider-outage (healthy without it)."""
    if since is None or now < since:
        return "healthy"
    return "degraded" if now - since < OUTAGE_DEGRADED_FOR else "unavailable"


def spike_ratio(deployed_at: float | None, now: float) -> float:
    """Extra failure ratio after the failure-spike deploy: nothing, then a steep climb."""
    if deployed_at is None or now < deployed_at + SPIKE_ONSET:
        return 0.0
    minutes = (now - deployed_at - SPIKE_ONSET) / 60.0
    return min(SPIKE_MAX_RATIO, SPIKE_SLOPE_PER_MINUTE * (minutes + 1))


def memory_target(since: float | None, now: float) -> float | None:
    """The share of maxmemory Redis should be at under redis-pressure (None without it)."""
    if since is None or now < since:
        return None
    progress = min(1.0, (now - since) / PRESSURE_RAMP)
    return PRESSURE_BASE_RATIO + (PRESSURE_TARGET_RATIO - PRESSURE_BASE_RATIO) * progress


def surge_clients(since: float | None, now: float) -> int:
    if since is None or now < since:
        return 0
    return math.ceil(SURGE_CLIENTS * min(1.0, (now - since) / SURGE_RAMP))


def requests_per_minute(now: float) -> float:
    """The app's traffic, 40 to 80 requests per simulated minute over a 30-minute swell."""
    return 60.0 + 20.0 * math.sin(2 * math.pi * now / 1800.0)
