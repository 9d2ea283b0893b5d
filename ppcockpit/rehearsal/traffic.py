"""Simulated chat traffic: a seeded Poisson stream of requests in simulated time.

Arrivals carry over between calls, so the stream does not depend on how often `until()` is
called: the same seed and the same fault times give the same events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ppcockpit.rehearsal.scenarios import requests_per_minute

PROVIDER_SHARES = (("openai", 0.6), ("anthropic", 0.3), ("together", 0.1))
USERS = tuple(f"u_{n:04d}" for n in range(1, 241))
MAX_EVENTS_PER_CALL = 50_000  # a huge clock jump is cut short rather than stall the loop


@dataclass(frozen=True, slots=True)
class ChatRequest:
    at: float
    provider: str
    failed: bool
    latency_ms: int
    user: str
    request_id: str
    prompt_tokens: int
    completion_tokens: int


class Traffic:
    def __init__(self, seed: int, start: float) -> None:
        self._rng = random.Random(seed)
        self._next = start
        self._serial = 0
        self._failure_debt = 0.0

    def until(self, now: float, failure_ratio: Callable[[float], float],
              provider_status: Callable[[str, float], str]) -> list[ChatRequest]:
        events: list[ChatRequest] = []
        while self._next <= now and len(events) < MAX_EVENTS_PER_CALL:
            events.append(self._one(self._next, failure_ratio, provider_status))
            self._next += self._rng.expovariate(requests_per_minute(self._next) / 60.0)
        if self._next <= now:
            self._next = now  # cut short: skip ahead
        return events

    def _one(self, at: float, failure_ratio: Callable[[float], float],
             provider_status: Callable[[str, float], str]) -> ChatRequest:
        rng = self._rng
        pick, failed_draw, latency_draw, user_draw = (rng.random() for _ in range(4))
        provider = "openai"
        total = 0.0
        for name, share in PROVIDER_SHARES:
            total += share
            if pick < total:
                provider = name
                break
        status = provider_status(provider, at)
        if status == "unavailable":
            provider = "openai"  # the app falls back
        # Error diffusion with jitter rather than a coin per request: failures stay irregular
        # but every 15-minute window holds close to the intended ratio, so "calm" stays calm.
        self._failure_debt += failure_ratio(at) * (0.5 + failed_draw)
        failed = self._failure_debt >= 1.0
        if failed:
            self._failure_debt -= 1.0
        slow = status == "degraded"
        latency = int((2500 if slow else 600) + latency_draw * (4000 if slow else 2400))
        self._serial += 1
        return ChatRequest(
            at=at, provider=provider, failed=failed, latency_ms=latency,
            user=USERS[int(user_draw * len(USERS))],
            request_id=f"req_{self._serial:08x}{int(latency_draw * 0xFFFF):04x}",
            prompt_tokens=300 + int(latency_draw * 900),
            completion_tokens=120 + int(user_draw * 600),
        )
