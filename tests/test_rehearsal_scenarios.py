"""Each scenario produces the readings it promises, through the real probes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from ppcockpit.config import Config, load_config
from ppcockpit.model import Status, TargetUnavailable
from ppcockpit.rehearsal import StackHandle, start_stack
from ppcockpit.rehearsal import scenarios as sc
from probes.health import HealthProbe
from probes.posthog import PosthogProbe
from probes.pwa import PwaProbe
from probes.redis import RedisProbe


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[StackHandle]:
    scenario = getattr(request, "param", sc.CALM)
    handle = start_stack(scenario, time_scale=10.0)
    try:
        yield handle
    finally:
        handle.stop()


def config_of(handle: StackHandle) -> Config:
    return load_config(handle.config_path, environ={})


def health_probe(config: Config) -> HealthProbe:
    return HealthProbe(config.environment.base_url, config.probes.health)


def row(reading, key: str):
    return next(r for r in reading.rows if r.key == key)


async def test_calm_is_healthy_everywhere(stack: StackHandle) -> None:
    config = config_of(stack)
    env = config.environment
    assert env.posthog is not None
    probes = [health_probe(config), RedisProbe(env.redis_url or "", config.probes.redis),
              PosthogProbe(env.posthog, config.probes.posthog, now=stack.clock.now),
              PwaProbe(env.base_url, config.probes.pwa)]
    try:
        readings = await asyncio.gather(*(p.check() for p in probes))
    finally:
        await asyncio.gather(*(p.aclose() for p in probes))
    health, redis, posthog, pwa = readings
    assert health.status is Status.HEALTHY, health.summary
    assert row(health, "ai:ollama").status is Status.SKIPPED  # "missing", not an outage
    assert health.request_id
    assert redis.status is Status.HEALTHY, redis.summary
    assert redis.metrics["connected_clients"] >= 4  # the app's fleet keeps the panel moving
    assert posthog.status is Status.HEALTHY, posthog.summary
    assert 0.002 < posthog.metrics["ratio"] < 0.02
    assert 40 * 15 <= posthog.metrics["requests"] <= 80 * 15  # ~40-80 per simulated minute
    assert pwa.status is Status.HEALTHY, pwa.summary


@pytest.mark.parametrize("stack", [sc.PROVIDER_OUTAGE], indirect=True)
async def test_provider_outage_alerts_after_the_third_unavailable_check(
        stack: StackHandle) -> None:
    probe = health_probe(config_of(stack))
    try:
        first = await probe.check()
        assert row(first, "ai:anthropic").status is Status.DEGRADED
        assert first.status is Status.DEGRADED
        stack.advance(sc.OUTAGE_DEGRADED_FOR + 1)
        streak = [await probe.check() for _ in range(3)]
    finally:
        await probe.aclose()
    anthropic = [row(r, "ai:anthropic") for r in streak]
    assert [a.status for a in anthropic] == [Status.UNAVAILABLE] * 3
    assert [a.consecutive_failures for a in anthropic] == [1, 2, 3]
    assert [a.alerting for a in anthropic] == [False, False, True]
    assert streak[-1].status is Status.UNAVAILABLE
    assert row(streak[-1], "ai:openai").status is Status.HEALTHY


@pytest.mark.parametrize("stack", [sc.FAILURE_SPIKE], indirect=True)
async def test_failure_spike_climbs_past_five_percent_after_the_deploy(
        stack: StackHandle) -> None:
    config = config_of(stack)
    assert config.environment.posthog is not None
    # The rehearsal's clock, as the rehearsal cockpit gives it: its time runs ahead.
    probe = PosthogProbe(config.environment.posthog, config.probes.posthog,
                         now=stack.clock.now)
    try:
        before = await probe.check()
        stack.advance(3 * 60)
        early = await probe.check()
        stack.advance(7 * 60)
        after = await probe.check()
    finally:
        await probe.aclose()
    assert before.status is Status.HEALTHY, before.summary
    assert probe.deploy_at is not None  # the deploy's "Deploy v..." annotation was read
    assert abs(probe.deploy_at.timestamp() - stack.clock.start) < 1
    assert early.metrics["ratio"] < 0.05, early.summary  # "a few minutes after", not at once
    assert after.status is Status.UNAVAILABLE, after.summary
    assert after.metrics["ratio"] > 0.05
    assert after.metrics["ratio_after"] > after.metrics["ratio_before"]


@pytest.mark.parametrize("stack", [sc.REDIS_PRESSURE], indirect=True)
async def test_redis_pressure_climbs_past_75_percent_and_drains_when_flushed(
        stack: StackHandle) -> None:
    import redis.asyncio

    config = config_of(stack)
    url = config.environment.redis_url or ""
    probe = RedisProbe(url, config.probes.redis)
    stack.advance(sc.PRESSURE_RAMP + 5)
    try:
        reading = await _poll(probe, lambda r: r.metrics["memory_ratio"] > 0.8)
        assert reading.status is Status.DEGRADED, reading.summary
        assert reading.metrics["connected_clients"] >= sc.SURGE_CLIENTS
        # The runbook's remedy: flush the stale queues. The stand-in then calms down.
        client = redis.asyncio.Redis.from_url(url)
        async for key in client.scan_iter(match="offline-queue:stale:*", count=500):
            await client.unlink(key)
        await client.aclose()
        reading = await _poll(probe, lambda r: r.metrics["memory_ratio"] < 0.5
                              and sc.REDIS_PRESSURE not in stack.active_faults())
    finally:
        await probe.aclose()
    assert reading.status is Status.HEALTHY, reading.summary
    assert sc.REDIS_PRESSURE not in stack.active_faults()


async def _poll(probe: RedisProbe, done, within: float = 10.0):
    deadline = time.monotonic() + within
    while True:
        reading = await probe.check()
        if done(reading) or time.monotonic() > deadline:
            return reading
        await asyncio.sleep(0.1)  # the stack's own loop fills Redis between checks


@pytest.mark.parametrize("stack", [sc.DB_DOWN], indirect=True)
async def test_db_down_answers_503_with_details_and_providers_still_shown(
        stack: StackHandle) -> None:
    probe = health_probe(config_of(stack))
    try:
        reading = await probe.check()
    finally:
        await probe.aclose()
    assert reading.status is Status.UNAVAILABLE
    assert reading.metrics["http_status"] == 503
    assert row(reading, "ai:openai").status is Status.HEALTHY
    assert "503" in reading.summary and "Traceback" not in reading.summary
    assert reading.request_id


@pytest.mark.parametrize("stack", [sc.BAD_GATEWAY], indirect=True)
async def test_bad_gateway_answers_html_502_on_every_route(stack: StackHandle) -> None:
    config = config_of(stack)
    probe = health_probe(config)
    pwa = PwaProbe(config.environment.base_url, config.probes.pwa)
    try:
        reading = await probe.check()
        pwa_reading = await pwa.check()
    finally:
        await probe.aclose()
        await pwa.aclose()
    assert reading.status is Status.UNAVAILABLE
    assert "502" in reading.summary
    assert pwa_reading.status is Status.UNAVAILABLE
    async with httpx.AsyncClient() as client:
        response = await client.get(config.environment.base_url + "/offline")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("stack", [sc.NO_SERVICE_ROLE], indirect=True)
async def test_no_service_role_answers_500_without_dependencies(stack: StackHandle) -> None:
    probe = health_probe(config_of(stack))
    try:
        reading = await probe.check()
    finally:
        await probe.aclose()
    assert reading.status is Status.UNAVAILABLE
    assert reading.metrics["http_status"] == 500
    assert "Service role client unavailable" in reading.summary


@pytest.mark.parametrize("stack", [sc.POSTHOG_THROTTLED], indirect=True)
async def test_posthog_throttled_gives_a_retry_after(stack: StackHandle) -> None:
    config = config_of(stack)
    assert config.environment.posthog is not None
    # The rehearsal's clock, as the rehearsal cockpit gives it: its time runs ahead.
    probe = PosthogProbe(config.environment.posthog, config.probes.posthog,
                         now=stack.clock.now)
    try:
        with pytest.raises(TargetUnavailable) as raised:
            await probe.check()
    finally:
        await probe.aclose()
    assert raised.value.retry_after == sc.THROTTLE_RETRY_AFTER
    assert "rate limited" in raised.value.reason


async def test_faults_are_injected_live_and_calm_clears_them(stack: StackHandle) -> None:
    names = [name for name, _ in stack.faults()]
    assert names[0] == sc.CALM and set(sc.SCENARIO_NAMES) == set(names)
    probe = health_probe(config_of(stack))
    try:
        message = stack.inject(sc.DB_DOWN)
        assert message.startswith("Injected db-down")
        assert (await probe.check()).metrics["http_status"] == 503
        assert "already active" in stack.inject(sc.DB_DOWN)
        assert stack.inject(sc.CALM) == "Calm restored: cleared db-down"
        assert (await probe.check()).status is Status.HEALTHY
    finally:
        await probe.aclose()
    assert stack.inject("volcano").startswith("Unknown fault 'volcano'")
    assert stack.active_faults() == {}
