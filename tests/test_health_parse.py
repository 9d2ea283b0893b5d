"""parse_health: every documented shape, every bad body, and fuzzing that it never raises."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppcockpit.model import Status
from probes.health_parse import HealthDocument, overall_status, parse_health

# The 200 example from design/pocket-philosopher.md, verbatim.
EXAMPLE_200 = """{"success": true,
 "data": {
  "status": "ok",
  "timestamp": "2023-11-14T22:13:20.000Z",
  "dependencies": {
   "supabase":  {"status": "ok", "latencyMs": 0, "message": null},
   "analytics": {"status": "ok"},
   "aiProviders": {
     "configuration": {"openai": "configured", "anthropic": "configured",
                       "together": "missing", "ollama": "missing"},
     "selection": {"providerId": "openai", "providerStatus": "healthy",
                   "fallbackUsed": false, "selectedAt": "2023-11-14T22:46:40.000Z"},
     "stats": {
       "openai":    {"status": "healthy", "lastCheckedAt": "2023-11-14T22:13:20.000Z",
                     "latencyMs": 48, "successCount": 4, "failureCount": 1, "degradedCount": 0,
                     "lastSuccessAt": "2023-11-14T19:26:40.000Z",
                     "lastFailureAt": "2023-11-14T16:40:00.000Z", "error": null},
       "anthropic": {"status": "degraded", "latencyMs": 120, "successCount": 1, "failureCount": 2,
                     "degradedCount": 3, "error": {"message": "rate limited"}, "...": "..."},
       "ollama":    {"status": "unavailable", "latencyMs": null, "successCount": 0,
                     "failureCount": 5, "degradedCount": 0, "error": null, "...": "..."}
     }}}}}"""

JSON = "application/json"
FORMATS = {"pocket-philosopher", "ietf", "spring", "invalid"}


def example_payload() -> dict[str, Any]:
    return json.loads(EXAMPLE_200)["data"]


def envelope(payload: dict[str, Any]) -> bytes:
    return json.dumps({"success": True, "data": payload}).encode()


def failed_envelope(payload: dict[str, Any], error: str = "Health check failed") -> bytes:
    return json.dumps({"success": False, "error": error, "details": payload}).encode()


def by_key(doc: HealthDocument) -> dict[str, Any]:
    return {c.key: c for c in doc.components}


# --- Pocket Philosopher ---------------------------------------------------------------------


def test_documented_example_reads_every_row_in_order() -> None:
    doc = parse_health(200, JSON, EXAMPLE_200.encode())
    assert doc.format == "pocket-philosopher"
    assert [c.key for c in doc.components] == [
        "supabase", "analytics", "ai:openai", "ai:anthropic", "ai:together", "ai:ollama"]
    rows = by_key(doc)
    assert rows["supabase"].status is Status.HEALTHY and rows["supabase"].latency_ms == 0
    assert rows["ai:openai"].status is Status.HEALTHY and rows["ai:openai"].latency_ms == 48
    assert rows["ai:openai"].counts == {"successCount": 4, "failureCount": 1, "degradedCount": 0}
    assert rows["ai:openai"].configured is True
    assert rows["ai:anthropic"].status is Status.DEGRADED
    assert rows["ai:anthropic"].message == "rate limited"
    # ollama is missing from configuration: not configured, never an outage.
    assert rows["ai:ollama"].status is Status.SKIPPED
    assert rows["ai:ollama"].message == "not configured"
    assert rows["ai:ollama"].configured is False
    assert rows["ai:together"].status is Status.SKIPPED
    assert doc.status is Status.DEGRADED  # anthropic is degraded


def test_all_healthy_is_healthy() -> None:
    payload = example_payload()
    payload["dependencies"]["aiProviders"]["stats"]["anthropic"]["status"] = "healthy"
    doc = parse_health(200, JSON, envelope(payload))
    assert doc.status is Status.HEALTHY


def test_declared_degraded_is_degraded_even_when_rows_are_fine() -> None:
    payload = example_payload()
    payload["status"] = "degraded"
    payload["dependencies"]["aiProviders"]["stats"]["anthropic"]["status"] = "healthy"
    assert parse_health(200, JSON, envelope(payload)).status is Status.DEGRADED


def test_analytics_disabled_is_a_degraded_row() -> None:
    payload = example_payload()
    payload["dependencies"]["analytics"] = {"status": "disabled"}
    row = by_key(parse_health(200, JSON, envelope(payload)))["analytics"]
    assert row.status is Status.DEGRADED
    assert row.message == "disabled (no PostHog key)"


def test_configured_provider_unavailable_is_an_outage() -> None:
    payload = example_payload()
    payload["dependencies"]["aiProviders"]["stats"]["openai"]["status"] = "unavailable"
    doc = parse_health(200, JSON, envelope(payload))
    assert doc.status is Status.UNAVAILABLE
    assert overall_status(doc, frozenset({"openai"})) is Status.DEGRADED  # anthropic remains


def test_missing_configuration_wins_over_healthy_stats() -> None:
    payload = example_payload()
    payload["dependencies"]["aiProviders"]["stats"]["together"] = {"status": "healthy"}
    assert by_key(parse_health(200, JSON, envelope(payload)))["ai:together"].status is \
        Status.SKIPPED


def test_503_details_still_show_providers() -> None:
    payload = example_payload()
    payload["status"] = "degraded"
    payload["dependencies"]["supabase"] = {"status": "error", "latencyMs": 3001,
                                           "message": "connection refused"}
    doc = parse_health(503, JSON, failed_envelope(payload))
    assert doc.format == "pocket-philosopher"
    assert doc.status is Status.UNAVAILABLE
    assert doc.error == "Health check failed"
    rows = by_key(doc)
    assert rows["supabase"].status is Status.UNAVAILABLE
    assert rows["supabase"].message == "connection refused"
    assert rows["supabase"].raw_status == "error"
    assert rows["ai:openai"].status is Status.HEALTHY


def test_500_without_dependencies() -> None:
    body = json.dumps({"success": False, "error": "Service role client unavailable",
                       "details": {"message": "SUPABASE_SERVICE_ROLE_KEY is not set"}})
    doc = parse_health(500, JSON, body.encode())
    assert doc.format == "pocket-philosopher"
    assert doc.status is Status.UNAVAILABLE
    assert doc.components == ()
    assert doc.error == "Service role client unavailable — SUPABASE_SERVICE_ROLE_KEY is not set"


def test_nulls_and_an_open_provider_set() -> None:
    payload = example_payload()
    ai = payload["dependencies"]["aiProviders"]
    ai["selection"] = None
    ai["stats"]["openai"].update(latencyMs=None, lastCheckedAt=None, error="quota exceeded")
    ai["stats"]["mistral"] = {"status": "healthy", "latencyMs": 12.5, "error": {"code": "E1"}}
    ai["configuration"]["mistral"] = "configured"
    ai["stats"]["gemini"] = {"status": "degraded", "error": {}}  # only in stats
    rows = by_key(parse_health(200, JSON, envelope(payload)))
    assert rows["ai:openai"].latency_ms is None
    assert rows["ai:openai"].message == "quota exceeded"
    assert rows["ai:mistral"].latency_ms == 12.5 and rows["ai:mistral"].message == "E1"
    assert rows["ai:gemini"].status is Status.DEGRADED and rows["ai:gemini"].configured is None
    assert list(rows)[-1] == "ai:gemini"


def test_odd_values_inside_a_valid_envelope_do_not_break_rows() -> None:
    payload = example_payload()
    stats = payload["dependencies"]["aiProviders"]["stats"]
    stats["openai"].update(latencyMs=float("nan"), successCount=True, status="exploded")
    stats["anthropic"] = "not an object"
    payload["dependencies"]["supabase"] = None
    rows = by_key(parse_health(200, JSON, envelope(payload)))
    assert rows["ai:openai"].status is Status.UNKNOWN
    assert rows["ai:openai"].message == "unexpected status 'exploded'"
    assert rows["ai:openai"].latency_ms is None and "successCount" not in rows["ai:openai"].counts
    assert rows["ai:anthropic"].status is Status.UNKNOWN
    assert rows["supabase"].status is Status.UNKNOWN and rows["supabase"].message == "not reported"


def test_control_characters_are_stripped_from_messages() -> None:
    payload = example_payload()
    payload["dependencies"]["aiProviders"]["stats"]["anthropic"]["error"] = {
        "message": "rate\x1b[31m limited\r\nnow\x07"}
    row = by_key(parse_health(200, JSON, envelope(payload)))["ai:anthropic"]
    assert row.message == "rate limited now"


# --- other apps -----------------------------------------------------------------------------


def test_ietf_health_json_one_row_per_array_entry() -> None:
    body = {
        "status": "warn", "output": "one replica slow",
        "checks": {
            "cassandra:responseTime": [
                {"componentId": "dfd6cf2b", "componentType": "datastore", "observedValue": 250,
                 "observedUnit": "ms", "status": "pass", "time": "2018-01-17T03:36:48Z"},
                {"componentId": "6fd416e0", "observedValue": 2.5, "observedUnit": "s",
                 "status": "warn", "output": "slow"}],
            "uptime": [{"componentType": "system", "observedValue": 1209600.245,
                        "observedUnit": "s", "status": "up"}],
            "disk": [{"status": "down", "output": "full"}],
        }}
    doc = parse_health(200, "application/health+json", json.dumps(body).encode())
    assert doc.format == "ietf"
    assert [c.key for c in doc.components] == [
        "cassandra:responseTime/dfd6cf2b", "cassandra:responseTime/6fd416e0", "uptime", "disk"]
    first, second, uptime, disk = doc.components
    assert first.status is Status.HEALTHY and first.latency_ms == 250
    assert second.status is Status.DEGRADED and second.latency_ms == 2500
    assert second.message == "slow"
    assert uptime.status is Status.HEALTHY
    assert disk.status is Status.UNAVAILABLE and disk.message == "full"
    assert doc.status is Status.UNAVAILABLE
    assert doc.error == "one replica slow"


@pytest.mark.parametrize(("word", "expected"), [
    ("pass", Status.HEALTHY), ("ok", Status.HEALTHY), ("up", Status.HEALTHY),
    ("warn", Status.DEGRADED), ("fail", Status.UNAVAILABLE), ("error", Status.UNAVAILABLE),
    ("down", Status.UNAVAILABLE), ("UP", Status.HEALTHY)])
def test_ietf_status_aliases(word: str, expected: Status) -> None:
    doc = parse_health(200, "application/health+json", json.dumps({"status": word}).encode())
    assert doc.format == "ietf"
    assert doc.declared is expected


@pytest.mark.parametrize(("word", "expected"), [
    ("UP", Status.HEALTHY), ("DOWN", Status.UNAVAILABLE),
    # The app saying it does not know is unknown (no-go), never degraded (go).
    ("OUT_OF_SERVICE", Status.UNAVAILABLE), ("UNKNOWN", Status.UNKNOWN)])
def test_spring_boot_one_row_per_component(word: str, expected: Status) -> None:
    body = {"status": word, "components": {
        "db": {"status": word, "details": {"database": "PostgreSQL", "error": "boom"}},
        "diskSpace": {"status": "UP", "details": {"total": 1, "free": 1}},
        "ping": {"status": "UP"}}}
    doc = parse_health(200, JSON, json.dumps(body).encode())
    assert doc.format == "spring"
    assert [c.key for c in doc.components] == ["db", "diskSpace", "ping"]
    assert doc.status is expected
    assert doc.components[0].message == "boom"


# --- bad bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "body", "problem"), [
    ("text/html; charset=utf-8",
     b"<!doctype html><html><head><title>Sign in \xe2\x80\x93 Vercel</title></head></html>",
     "not JSON (text/html): Sign in – Vercel"),
    ("text/plain", b"upstream connect error or disconnect/reset before headers. reset reason: "
                   b"connection termination",
     "not JSON (text/plain): upstream connect error or disconnect/reset before headers. …"),
    ("", b"OK", "not JSON (no content type): OK"),
    (JSON, b"", "empty body"),
    (JSON, b"  \n ", "empty body"),
])
def test_non_json_bodies(content_type: str, body: bytes, problem: str) -> None:
    doc = parse_health(200, content_type, body)
    assert doc.format == "invalid"
    assert doc.status is Status.UNAVAILABLE
    assert doc.problem == problem


@pytest.mark.parametrize("cut", [10, 40, 200, 700, len(EXAMPLE_200) - 1])
def test_truncated_json(cut: int) -> None:
    doc = parse_health(200, JSON, EXAMPLE_200.encode()[:cut])
    assert doc.problem == "truncated JSON"


@pytest.mark.parametrize("body", [b'{"success": tr', b'{"a": [1, 2', b'{"status": "pa', b"["])
def test_truncated_json_variants(body: bytes) -> None:
    assert parse_health(200, JSON, body).problem == "truncated JSON"


@pytest.mark.parametrize(("body", "problem"), [
    (b"[1, 2]", "unexpected JSON shape: a list, expected an object"),
    (b"42", "unexpected JSON shape: a number, expected an object"),
    (b'"ok"', "unexpected JSON shape: a string, expected an object"),
    (b"null", "unexpected JSON shape: null, expected an object"),
    (b'{"healthy": true}', "unexpected JSON shape: object without success or status "
                           "(keys: healthy)"),
    (b'{"success": true, "data": "ok"}',
     "unexpected JSON shape: data is a string, expected an object"),
    (b'{"success": true, "data": {"status": "ok"}}',
     "unexpected JSON shape: dependencies is null, expected an object"),
    (b'{"status": "sunny"}', "unexpected JSON shape: status 'sunny' is not a known health status"),
    (b"[" * 100_000 + b"]" * 100_000, "unexpected JSON shape: nested too deeply"),
])
def test_wrong_shapes(body: bytes, problem: str) -> None:
    doc = parse_health(200, JSON, body)
    assert doc.format == "invalid"
    assert doc.problem == problem


def test_unreadable_numbers_and_bytes() -> None:
    assert parse_health(200, JSON, b'{"status": ' + b"9" * 5000 + b"}").problem.startswith(
        "unreadable JSON: ")
    doc = parse_health(200, JSON, b'{"status": "pass", "output": "\xff\xfe"}')
    assert doc.format == "ietf"


def test_http_error_with_valid_body_is_unavailable() -> None:
    payload = example_payload()
    payload["dependencies"]["aiProviders"]["stats"]["anthropic"]["status"] = "healthy"
    assert parse_health(404, JSON, envelope(payload)).status is Status.UNAVAILABLE


# --- fuzzing: never an exception, always a sane document ------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=20) | st.sampled_from(["ok", "error", "healthy", "degraded",
                                               "unavailable", "missing", "configured",
                                               "UP", "pass", "fail", "disabled"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10) | st.sampled_from(
        ["success", "data", "status", "dependencies", "details", "error", "checks",
         "components", "aiProviders", "stats", "configuration", "message", "latencyMs"]),
        children, max_size=4),
    max_leaves=30,
)
content_types = st.sampled_from(
    [JSON, "application/health+json", "text/html", "", "text/plain; charset=latin-1"])
status_codes = st.integers(min_value=100, max_value=599)


def assert_sane(doc: HealthDocument) -> None:
    assert isinstance(doc, HealthDocument)
    assert doc.format in FORMATS
    assert isinstance(doc.status, Status)
    assert "parser bug" not in doc.problem
    assert (doc.format == "invalid") == bool(doc.problem)
    for text in [doc.problem, doc.error, *(c.message for c in doc.components),
                 *(c.label for c in doc.components)]:
        assert "\n" not in text and "\x1b" not in text
    for component in doc.components:
        assert isinstance(component.status, Status)
        assert component.latency_ms is None or component.latency_ms >= 0


@given(status_codes, content_types, st.binary(max_size=400))
def test_any_bytes(status: int, content_type: str, body: bytes) -> None:
    assert_sane(parse_health(status, content_type, body))


@given(status_codes, content_types, json_values)
def test_any_json(status: int, content_type: str, value: Any) -> None:
    assert_sane(parse_health(status, content_type, json.dumps(value).encode()))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


EXAMPLE_PATHS = _paths(json.loads(EXAMPLE_200))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EXAMPLE_PATHS), json_values, st.booleans()),
                min_size=1, max_size=4),
       st.sampled_from([200, 503, 500]))
def test_mutated_documented_example(mutations: list[tuple[Any, ...]], status: int) -> None:
    document: Any = copy.deepcopy(json.loads(EXAMPLE_200))
    for path, replacement, delete in mutations:
        if not path:
            document = replacement
            continue
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            if delete and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    assert_sane(parse_health(status, JSON, json.dumps(document).encode()))
