"""The stand-ins answer exactly the shapes of contracts.md and pocket-philosopher.md,
checked with plain HTTP and with the vendors' own SDKs (supabase-py, posthog)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from ppcockpit.rehearsal import StackHandle, start_stack
from ppcockpit.rehearsal import scenarios as sc

COUNT_QUERY = (
    "SELECT toStartOfMinute(timestamp) AS minute, "
    "countIf(event = 'i_chat_completed') AS completed, "
    "countIf(event = 'i_request_failed') AS failed "
    "FROM events WHERE timestamp > now() - INTERVAL 15 MINUTE "
    "AND event IN ('i_chat_completed', 'i_request_failed') "
    "GROUP BY minute ORDER BY minute LIMIT 1000"
)


@pytest.fixture(scope="module")
def stack() -> Iterator[StackHandle]:
    handle = start_stack("calm", time_scale=10.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def calm(stack: StackHandle) -> Iterator[StackHandle]:
    yield stack
    stack.inject(sc.CALM)


def posthog(stack: StackHandle, path: str, key: str | None = None, **kwargs) -> httpx.Response:
    token = key if key is not None else stack.credentials["posthog_api_key"]
    method = "POST" if "json" in kwargs else "GET"
    return httpx.request(method, stack.endpoints["posthog"] + path,
                         headers={"Authorization": f"Bearer {token}"}, **kwargs)


def query(stack: StackHandle, text: str = COUNT_QUERY, key: str | None = None) -> httpx.Response:
    return posthog(stack, "/api/projects/4242/query/", key,
                   json={"query": {"kind": "HogQLQuery", "query": text}, "refresh": "blocking"})


# --- the app ----------------------------------------------------------------------------------

def test_health_envelope_matches_the_documented_payload(stack: StackHandle) -> None:
    response = httpx.get(stack.endpoints["app"] + "/api/health")
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["status"] == "ok"
    assert datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
    deps = data["dependencies"]
    assert deps["supabase"]["status"] == "ok" and deps["analytics"] == {"status": "ok"}
    ai = deps["aiProviders"]
    assert ai["configuration"]["ollama"] == "missing"
    assert ai["stats"]["ollama"]["status"] == "unavailable"
    assert set(ai["stats"]["openai"]) >= {"status", "lastCheckedAt", "latencyMs",
                                          "successCount", "failureCount", "degradedCount",
                                          "lastSuccessAt", "lastFailureAt", "error"}
    assert ai["selection"]["providerId"] == "openai"


def test_db_down_and_no_service_role_bodies(calm: StackHandle) -> None:
    calm.inject(sc.DB_DOWN)
    body = httpx.get(calm.endpoints["app"] + "/api/health").json()
    assert body["success"] is False and body["error"] == "Health check failed"
    assert body["details"]["status"] == "degraded"
    assert body["details"]["dependencies"]["supabase"]["status"] == "error"
    assert body["details"]["dependencies"]["supabase"]["message"]
    calm.inject(sc.NO_SERVICE_ROLE)
    response = httpx.get(calm.endpoints["app"] + "/api/health")
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Service role client unavailable",
                               "details": {"message": response.json()["details"]["message"]}}


def test_pwa_routes_and_a_deploy_changes_the_service_worker(calm: StackHandle) -> None:
    app = calm.endpoints["app"]
    manifest = httpx.get(app + "/manifest.webmanifest").json()
    assert manifest["name"] == "Pocket Philosopher"
    assert manifest["start_url"] == "/today?source=pwa" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    icon = httpx.get(app + manifest["icons"][0]["src"])
    assert icon.status_code == 200 and icon.content.startswith(b"\x89PNG")
    assert httpx.get(app + "/offline").status_code == 200
    before = httpx.get(app + "/service-worker.js", headers={"Cache-Control": "no-cache"})
    assert b'"SKIP_WAITING"' in before.content and b"skipWaiting()" in before.content
    calm.inject(sc.FAILURE_SPIKE)  # a simulated deploy
    after = httpx.get(app + "/service-worker.js").content
    assert hashlib.sha256(after).digest() != hashlib.sha256(before.content).digest()
    missing = httpx.get(app + "/nope")
    assert missing.status_code == 404 and missing.headers["x-request-id"]


# --- PostHog ----------------------------------------------------------------------------------

def test_posthog_per_minute_counts(stack: StackHandle) -> None:
    response = query(stack)
    assert response.status_code == 200
    body = response.json()
    assert body["columns"] == ["minute", "completed", "failed"]
    assert body["types"][0][0] == "minute"
    for key in ("hasMore", "limit", "offset", "hogql", "is_cached", "last_refresh",
                "next_allowed_client_refresh"):
        assert key in body
    rows = body["results"]
    assert 15 <= len(rows) <= 16
    minutes = [datetime.fromisoformat(r[0].replace("Z", "+00:00")) for r in rows]
    assert minutes == sorted(minutes)
    assert all(40 * 0.5 <= r[1] + r[2] <= 80 * 1.5 for r in rows[:-1])
    descending = query(stack, COUNT_QUERY.replace("ORDER BY minute", "ORDER BY minute DESC"))
    newest_first = [r[0] for r in descending.json()["results"]]
    assert newest_first == sorted(newest_first, reverse=True)
    assert newest_first[0] >= rows[-1][0]  # a new simulated minute may have begun since


def test_posthog_errors_are_drf_shaped(calm: StackHandle) -> None:
    unauthorised = query(calm, key="phx_wrong")
    assert unauthorised.status_code == 401
    assert unauthorised.json() == {"type": "authentication_error",
                                   "code": "authentication_failed",
                                   "detail": "Incorrect authentication credentials.",
                                   "attr": None}
    bad = query(calm, "SELECT nonsense")
    assert bad.status_code == 400 and bad.json()["type"] == "validation_error"
    assert bad.json()["detail"]
    calm.inject(sc.POSTHOG_THROTTLED)
    throttled = query(calm)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == str(sc.THROTTLE_RETRY_AFTER)
    assert throttled.json()["type"] == "throttled"


def test_posthog_annotations(calm: StackHandle) -> None:
    marker = datetime.now(UTC).isoformat()
    created = posthog(calm, "/api/projects/4242/annotations/",
                      json={"content": "Deploy v-test", "date_marker": marker,
                            "scope": "project"})
    assert created.status_code == 201 and isinstance(created.json()["id"], int)
    listed = posthog(calm, "/api/projects/4242/annotations/", params={"limit": "100"}).json()
    assert set(listed) == {"count", "next", "previous", "results"}
    contents = [a["content"] for a in listed["results"]]
    assert "Deploy v-test" in contents
    assert all({"id", "content", "date_marker", "scope"} <= set(a) for a in listed["results"])
    too_long = posthog(calm, "/api/projects/4242/annotations/",
                       json={"content": "x" * 401, "date_marker": marker})
    assert too_long.status_code == 400 and too_long.json()["attr"] == "content"


def test_posthog_sdk_captures_reach_batch(stack: StackHandle) -> None:
    from posthog import Posthog

    client = Posthog(stack.credentials["posthog_capture_key"], host=stack.endpoints["posthog"],
                     sync_mode=True)
    client.capture("ppcockpit_rehearsal_test", distinct_id="oncall",
                   properties={"scenario": "calm"})
    client.shutdown()
    captured = [e for e in stack.posthog_captures() if e["event"] == "ppcockpit_rehearsal_test"]
    assert captured and captured[0]["distinct_id"] == "oncall"
    refused = httpx.post(stack.endpoints["posthog"] + "/batch/",
                         json={"api_key": "phc_wrong", "batch": []})
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_api_key"


# --- Supabase ---------------------------------------------------------------------------------

async def test_supabase_sign_in_and_profiles_with_supabase_py(stack: StackHandle) -> None:
    from supabase import AsyncClientOptions, acreate_client
    from supabase_auth.errors import AuthApiError

    creds = stack.credentials
    http = httpx.AsyncClient(timeout=5.0)  # the way the probe does it (no deprecated options)
    options = AsyncClientOptions(auto_refresh_token=False, persist_session=False,
                                 httpx_client=http)
    client = await acreate_client(stack.endpoints["supabase"], creds["supabase_anon_key"],
                                  options=options)
    with pytest.raises(AuthApiError) as wrong:
        await client.auth.sign_in_with_password({"email": creds["test_user_email"],
                                                 "password": "wrong"})
    assert wrong.value.code == "invalid_credentials"
    anonymous = await client.table("profiles").select("user_id").limit(1).execute()
    assert anonymous.data == []  # row level security: anon sees nothing
    session = await client.auth.sign_in_with_password(
        {"email": creds["test_user_email"], "password": creds["test_user_password"]})
    assert session.session is not None and session.user is not None
    rows = await client.table("profiles").select("user_id").limit(1).execute()
    assert rows.data == [{"user_id": session.user.id}]
    await client.auth.sign_out({"scope": "local"})
    await http.aclose()


def test_postgrest_errors(stack: StackHandle) -> None:
    url = stack.endpoints["supabase"] + "/rest/v1/"
    key = stack.credentials["supabase_anon_key"]
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    column = httpx.get(url + "profiles", params={"select": "nope"}, headers=headers)
    assert column.status_code == 400
    assert set(column.json()) == {"code", "details", "hint", "message"}
    table = httpx.get(url + "nope", headers=headers)
    assert table.status_code == 404 and table.json()["code"] == "PGRST205"
    assert httpx.get(url + "profiles").status_code == 401


def test_management_backups_and_migrations(stack: StackHandle) -> None:
    base = f"{stack.endpoints['management']}/v1/projects/rehearsalppcockpit00/database/"
    auth = {"Authorization": f"Bearer {stack.credentials['supabase_access_token']}"}
    backups = httpx.get(base + "backups", headers=auth).json()
    assert set(backups) >= {"region", "walg_enabled", "pitr_enabled", "backups",
                            "physical_backup_data"}
    completed = [datetime.fromisoformat(b["inserted_at"].replace("Z", "+00:00")).timestamp()
                 for b in backups["backups"] if b["status"] == "COMPLETED"]
    assert time.time() - max(completed) < 24 * 3600
    migrations = httpx.get(base + "migrations", headers=auth).json()
    assert all(set(m) == {"version", "name"} and len(m["version"]) == 14 for m in migrations)
    assert httpx.get(base + "backups").status_code == 401


# --- Vercel -----------------------------------------------------------------------------------

def test_vercel_rollback_ends_the_spike_and_is_recorded(calm: StackHandle) -> None:
    calm.inject(sc.FAILURE_SPIKE)
    base = calm.endpoints["vercel"]
    project = calm.credentials["vercel_project_id"]
    auth = {"Authorization": f"Bearer {calm.credentials['vercel_token']}"}
    listed = httpx.get(base + "/v6/deployments", headers=auth, params={
        "projectId": project, "target": "production", "state": "READY", "limit": "20"}).json()
    deployments = listed["deployments"]
    assert "pagination" in listed
    assert deployments[0]["uid"] == calm.current_deployment()["uid"]
    assert deployments[1]["meta"]["githubCommitSha"] and deployments[1]["isRollbackCandidate"]
    previous = deployments[1]["uid"]
    rolled = httpx.post(f"{base}/v1/projects/{project}/rollback/{previous}", headers=auth,
                        params={"description": "failure spike"})
    assert rolled.status_code == 201
    assert calm.current_deployment()["uid"] == previous
    assert sc.FAILURE_SPIKE not in calm.active_faults()
    recorded = calm.hosting_requests()[-1]
    assert recorded["method"] == "POST" and previous in recorded["path"]
    assert recorded["query"] == {"description": "failure spike"} and recorded["status"] == 201
    again = httpx.post(f"{base}/v1/projects/{project}/rollback/{previous}", headers=auth)
    assert again.status_code == 409 and set(again.json()["error"]) == {"code", "message"}
    missing = httpx.post(f"{base}/v1/projects/{project}/rollback/dpl_nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    forbidden = httpx.get(base + "/v6/deployments")
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"


def test_vercel_promote_is_asynchronous(calm: StackHandle) -> None:
    base = calm.endpoints["vercel"]
    project = calm.credentials["vercel_project_id"]
    auth = {"Authorization": f"Bearer {calm.credentials['vercel_token']}"}
    deployments = httpx.get(base + "/v6/deployments", headers=auth).json()["deployments"]
    target = deployments[2]["uid"]
    promoted = httpx.post(f"{base}/v10/projects/{project}/promote/{target}", headers=auth)
    assert promoted.status_code == 202
    deadline = time.monotonic() + 5
    while calm.current_deployment()["uid"] != target and time.monotonic() < deadline:
        time.sleep(0.05)  # promotion completes on the stack's own loop
    assert calm.current_deployment()["uid"] == target
