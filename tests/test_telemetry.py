"""The cockpit's own PostHog events and deploy annotations, against loopback stand-ins."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ppcockpit.model import TargetUnavailable
from ppcockpit.telemetry import (
    ROLLBACK_FINISHED,
    SESSION_STARTED,
    STEP_COMPLETED,
    CockpitTelemetry,
    create_annotation,
)
from tests.support.http_stub import serve_app

CAPTURE_KEY = "phc_ProjectCaptureKey0123456789abcdef"
API_KEY = "phx_PersonalApiKey0123456789abcdef"
PROJECT = "4242"
ROOT = Path(__file__).resolve().parent.parent


class CaptureStandIn:
    """PostHog's /batch/ and annotation endpoints; keeps what it received."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self.annotations: list[tuple[str, dict[str, Any]]] = []
        self.annotation_status = 201
        self.hang = asyncio.Event()
        self.hanging = False

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/batch/", self.batch)
        app.router.add_post(f"/api/projects/{PROJECT}/annotations/", self.annotate)
        return app

    async def batch(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        self.batches.append(json.loads(raw))
        return web.json_response({"status": 1})

    async def annotate(self, request: web.Request) -> web.Response:
        if self.hanging:
            await self.hang.wait()
        body = await request.json()
        self.annotations.append((request.headers.get("Authorization", ""), body))
        if self.annotation_status != 201:
            return web.json_response({"type": "authentication_error", "code": "x",
                                      "detail": f"nope {API_KEY}", "attr": None},
                                     status=self.annotation_status)
        return web.json_response({"id": 17, "content": body["content"],
                                  "date_marker": body["date_marker"], "scope": body["scope"],
                                  "created_at": datetime.now(UTC).isoformat()}, status=201)


@pytest.fixture
async def posthog() -> AsyncIterator[tuple[CaptureStandIn, str]]:
    stand_in = CaptureStandIn()
    async with serve_app(stand_in.app()) as url:
        yield stand_in, url
        stand_in.hang.set()


def events(stand_in: CaptureStandIn) -> list[dict[str, Any]]:
    return [event for batch in stand_in.batches for event in batch["batch"]]


async def test_events_reach_batch_with_distinct_id_and_properties(posthog) -> None:
    stand_in, url = posthog
    telemetry = CockpitTelemetry(CAPTURE_KEY, url, environment="production", operator="oncall")
    started = time.perf_counter()
    telemetry.capture(SESSION_STARTED, {"version": "0.1.0"})
    telemetry.capture(STEP_COMPLETED, {"step": "smoke-tests"})
    capture_ms = (time.perf_counter() - started) * 1000
    await telemetry.aclose()
    assert capture_ms < 50  # the SDK loads on its own thread; the UI never waits for it
    sent = events(stand_in)
    assert [e["event"] for e in sent] == [SESSION_STARTED, STEP_COMPLETED]
    first = sent[0]
    assert first["distinct_id"] == "oncall"
    assert first["properties"]["environment"] == "production"
    assert first["properties"]["operator"] == "oncall"
    assert first["properties"]["version"] == "0.1.0"
    assert first["properties"]["session_id"] == telemetry.session_id
    assert sent[1]["properties"]["step"] == "smoke-tests"
    assert {b["api_key"] for b in stand_in.batches} == {CAPTURE_KEY}
    assert "POSTHOG_CAPTURE_MODE" not in os.environ
    telemetry.capture(ROLLBACK_FINISHED)  # after close: dropped quietly
    telemetry.close()


async def test_without_a_capture_key_nothing_is_sent(posthog) -> None:
    stand_in, url = posthog
    telemetry = CockpitTelemetry(None, url, environment="production", operator="oncall")
    telemetry.capture(SESSION_STARTED)
    await telemetry.aclose()
    assert not telemetry.enabled and stand_in.batches == []


def test_without_a_capture_key_the_sdk_is_never_imported() -> None:
    code = ("import sys; from ppcockpit.telemetry import CockpitTelemetry as T\n"
            "t = T(None, 'http://127.0.0.1:9', environment='e', operator='o')\n"
            "t.capture('cockpit_session_started'); t.close()\n"
            "print('posthog' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, check=True)
    assert out.stdout.strip() == "False"


async def test_close_is_bounded_when_posthog_hangs() -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/batch/", hang)
    async with serve_app(app) as url:
        telemetry = CockpitTelemetry(CAPTURE_KEY, url, environment="staging",
                                     operator="oncall", close_timeout=0.5)
        telemetry.capture(SESSION_STARTED)
        started = time.perf_counter()
        await telemetry.aclose()
        elapsed = time.perf_counter() - started
        release.set()
    assert elapsed < 2.0  # the SDK's import counts in too on a cold start


# -- annotations ----------------------------------------------------------------------------

async def test_create_annotation(posthog) -> None:
    stand_in, url = posthog
    at = datetime(2026, 3, 1, 14, 5, 30, tzinfo=timezone(timedelta(hours=2)))
    content = "Deploy v2026.03.01 " + "x" * 500
    annotation_id = await create_annotation(url, PROJECT, API_KEY, content, at, timeout=2)
    assert annotation_id == "17"
    ((authorization, body),) = stand_in.annotations
    assert authorization == f"Bearer {API_KEY}"
    assert body["scope"] == "project" and body["content"].startswith("Deploy v2026.03.01")
    assert len(body["content"]) <= 400
    assert datetime.fromisoformat(body["date_marker"]) == at.astimezone(UTC)


@pytest.mark.parametrize(("status", "reason"), [
    (401, "PostHog key rejected (HTTP 401)"),
    (403, "PostHog key rejected (HTTP 403)"),
    (500, "PostHog annotation failed: HTTP 500: nope"),
])
async def test_annotation_errors_are_one_line_without_the_key(posthog, status: int,
                                                             reason: str) -> None:
    stand_in, url = posthog
    stand_in.annotation_status = status
    with pytest.raises(TargetUnavailable) as caught:
        await create_annotation(url, PROJECT, API_KEY, "Deploy", datetime.now(UTC), timeout=2)
    assert str(caught.value).startswith(reason)
    assert API_KEY not in str(caught.value) and "\n" not in str(caught.value)


async def test_annotation_timeout(posthog) -> None:
    stand_in, url = posthog
    stand_in.hanging = True
    with pytest.raises(TargetUnavailable, match="no answer within 200ms"):
        await create_annotation(url, PROJECT, API_KEY, "Deploy", datetime.now(UTC), timeout=0.2)
