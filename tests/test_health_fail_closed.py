"""The health probe fails closed: what it does not recognise is unknown (no-go), never GO.

The known vocabulary (design/pocket-philosopher.md): data.status ok|degraded; supabase
ok|error; analytics ok|disabled; provider healthy|degraded|unavailable; configuration
configured|missing. Anything else, or a required field that is missing, is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from ppcockpit.config_model import HealthProbeConfig
from ppcockpit.model import Decision, Status
from ppcockpit.verdict import decide
from probes.health import HealthProbe
from probes.health_parse import parse_health
from tests.support.http_stub import serve_handler
from tests.test_health_parse import JSON, envelope, example_payload

Payload = dict[str, Any]


def healthy_payload() -> Payload:
    payload = example_payload()
    payload["dependencies"]["aiProviders"]["stats"]["anthropic"]["status"] = "healthy"
    return payload


def only_openai(payload: Payload) -> Payload:
    ai = payload["dependencies"]["aiProviders"]
    ai["configuration"] = {"openai": "configured", "anthropic": "missing"}
    ai["stats"] = {"openai": ai["stats"]["openai"]}
    return payload


def deps(payload: Payload) -> Payload:
    return payload["dependencies"]


def _set(path: str, value: Any) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        *parents, last = path.split(".")
        node = payload
        for step in parents:
            node = node[step]
        if value is _DELETE:
            node.pop(last)
        else:
            node[last] = value
    return change


_DELETE = object()
STATS = "dependencies.aiProviders.stats"

UNRECOGNISED: dict[str, Callable[[Payload], None]] = {
    "supabase down": _set("dependencies.supabase.status", "down"),
    "supabase failed": _set("dependencies.supabase.status", "failed"),
    "supabase without a status": _set("dependencies.supabase", {"latencyMs": 3}),
    "supabase not reported": _set("dependencies.supabase", _DELETE),
    "analytics enabled?": _set("dependencies.analytics.status", "enabled"),
    "data.status error": _set("status", "error"),
    "data.status missing": _set("status", _DELETE),
    "data.status null": _set("status", None),
    "the only provider says error": _set(f"{STATS}.openai.status", "error"),
    "the only provider says down": _set(f"{STATS}.openai.status", "down"),
    "the only provider has no stats": _set(STATS, {}),
    "stats missing altogether": _set(STATS, _DELETE),
    "configuration says maybe": _set("dependencies.aiProviders.configuration.openai", "maybe"),
    "configuration missing": _set("dependencies.aiProviders.configuration", _DELETE),
    "dependencies empty": _set("dependencies", {}),
    "aiProviders missing": _set("dependencies.aiProviders", _DELETE),
    "aiProviders null": _set("dependencies.aiProviders", None),
}


def test_the_healthy_baseline_is_healthy() -> None:
    assert parse_health(200, JSON, envelope(only_openai(healthy_payload()))).status is \
        Status.HEALTHY


@pytest.mark.parametrize("change", UNRECOGNISED.values(), ids=UNRECOGNISED.keys())
def test_anything_not_recognised_is_unknown(change: Callable[[Payload], None]) -> None:
    payload = only_openai(healthy_payload())
    change(payload)
    doc = parse_health(200, JSON, envelope(payload))
    assert doc.status is Status.UNKNOWN, doc


async def test_the_probe_reads_unknown_says_why_and_check_says_no_go() -> None:
    payload = only_openai(healthy_payload())
    payload["status"] = "error"
    deps(payload)["supabase"]["status"] = "down"

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"success": True, "data": payload})

    async with serve_handler(handler) as base_url:
        probe = HealthProbe(base_url, HealthProbeConfig())
        reading = await probe.check()
        await probe.aclose()
    assert reading.status is Status.UNKNOWN
    assert reading.summary == ("unknown · status 'error' not recognised · "
                               "supabase down: unexpected status 'down'")
    assert decide([reading]).decision is Decision.NO_GO


async def test_an_unknown_app_word_with_fine_rows_is_not_called_ok() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"status": "UNKNOWN", "components": {"db": {"status": "UP"}}})

    async with serve_handler(handler) as base_url:
        probe = HealthProbe(base_url, HealthProbeConfig())
        reading = await probe.check()
        await probe.aclose()
    assert reading.status is Status.UNKNOWN
    assert reading.summary == "unknown · the app says 'UNKNOWN' · 1 component"


# --- no input is healthy unless every required field was recognised ------------------------

KNOWN_DATA = ("ok", "degraded")
KNOWN_SUPABASE = ("ok", "error")
KNOWN_ANALYTICS = ("ok", "disabled")
KNOWN_PROVIDER = ("healthy", "degraded", "unavailable")
KNOWN_CONFIGURATION = ("configured", "missing")
ABSENT = "<absent>"
words = st.sampled_from(
    [ABSENT, "ok", "degraded", "error", "disabled", "healthy", "unavailable", "configured",
     "missing", "down", "failed", "OK", "", "up", "pass"]) | st.text(max_size=8)
values = words | st.sampled_from([None, 1, True, [], {}])


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value != ABSENT:
        target[key] = value


@st.composite
def payloads(draw: st.DrawFn) -> Payload:
    providers = draw(st.lists(st.sampled_from(["openai", "anthropic", "together", "x"]),
                              unique=True, max_size=4))
    configuration: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    for provider in providers:
        _put(configuration, provider, draw(values))
        entry = draw(st.sampled_from([ABSENT, "object"]))
        if entry == "object":
            stats[provider] = {}
            _put(stats[provider], "status", draw(values))
    ai: dict[str, Any] = {}
    _put(ai, "configuration", draw(st.sampled_from([configuration, ABSENT, None, []])))
    _put(ai, "stats", draw(st.sampled_from([stats, ABSENT, None])))
    dependencies: dict[str, Any] = {}
    for name in ("supabase", "analytics"):
        shape = draw(st.sampled_from(["object", ABSENT, None]))
        if shape == "object":
            dependencies[name] = {}
            _put(dependencies[name], "status", draw(values))
        else:
            _put(dependencies, name, shape)
    _put(dependencies, "aiProviders", draw(st.sampled_from([ai, ABSENT, None])))
    payload: Payload = {"dependencies": dependencies}
    _put(payload, "status", draw(values))
    return payload


def recognised(payload: Payload) -> bool:
    """Every field the verdict needs is present and holds a word the cockpit knows."""
    deps = payload["dependencies"]
    ai = deps.get("aiProviders")
    if payload.get("status") not in KNOWN_DATA or not isinstance(ai, dict):
        return False
    if not isinstance(ai.get("configuration"), dict):
        return False
    for name, known in (("supabase", KNOWN_SUPABASE), ("analytics", KNOWN_ANALYTICS)):
        entry = deps.get(name)
        if not isinstance(entry, dict) or entry.get("status") not in known:
            return False
    stats = ai.get("stats") if isinstance(ai.get("stats"), dict) else {}
    for provider in {*ai["configuration"], *stats}:
        word = ai["configuration"].get(provider, ABSENT)
        if word not in (*KNOWN_CONFIGURATION, ABSENT):
            return False
        if word != "missing":
            entry = stats.get(provider)
            if not isinstance(entry, dict) or entry.get("status") not in KNOWN_PROVIDER:
                return False
    return True


@given(payloads())
def test_healthy_only_when_everything_was_recognised(payload: Payload) -> None:
    doc = parse_health(200, JSON, envelope(payload))
    if doc.status is Status.HEALTHY:
        assert recognised(payload), json.dumps(payload)
    if not recognised(payload):
        assert doc.status in (Status.UNKNOWN, Status.UNAVAILABLE), json.dumps(payload)
