"""PostHog stand-in: HogQL per-minute counts, annotations and the SDK's /batch/ (contracts.md)."""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime
from typing import Any

from aiohttp import web

from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.clock import iso_ms, iso_seconds
from ppcockpit.rehearsal.credentials import (
    POSTHOG_API_KEY,
    POSTHOG_CAPTURE_KEY,
    POSTHOG_PROJECT_ID,
)
from ppcockpit.rehearsal.hogql import HogQLError, parse_count_query
from ppcockpit.rehearsal.http_common import RateWindow, bearer, json_body, json_response
from ppcockpit.rehearsal.world import World

QUERIES_PER_MINUTE = 240
MAX_ANNOTATION_CONTENT = 400
MAX_STORED_EVENT_BYTES = 8192
ANNOTATION_SCOPES = ("project", "organization", "dashboard", "dashboard_item")


def drf_error(status: int, type_: str, code: str, detail: str, attr: str | None = None,
              headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"type": type_, "code": code, "detail": detail, "attr": attr},
                         status, headers)


def throttled(retry_after: int) -> web.Response:
    return drf_error(429, "throttled", "throttled",
                     f"Request was throttled. Expected available in {retry_after} seconds.",
                     headers={"Retry-After": str(retry_after)})


def _parse_marker(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def build_app(world: World, others: dict[str, World] | None = None) -> web.Application:
    """PostHog over `world` (project POSTHOG_PROJECT_ID) and `others` (more projects of the
    same organisation, e.g. staging's, by project id). Faults are `world`'s: one server."""
    limiter = RateWindow(QUERIES_PER_MINUTE)
    projects = {**(others or {}), POSTHOG_PROJECT_ID: world}

    def project(request: web.Request) -> World:
        return projects[request.match_info["project_id"]]

    def gate(request: web.Request) -> web.Response | None:
        """Auth, project, throttling: the answer when the request may not go on."""
        if bearer(request) != POSTHOG_API_KEY:
            return drf_error(401, "authentication_error", "authentication_failed",
                             "Incorrect authentication credentials.")
        if request.match_info["project_id"] not in projects:
            return drf_error(404, "invalid_request", "not_found", "Not found.")
        if sc.POSTHOG_THROTTLED in world.faults:
            return throttled(sc.THROTTLE_RETRY_AFTER)
        wait = limiter.wait()
        return throttled(max(1, round(wait))) if wait else None

    async def query(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        body = await json_body(request)
        spec = body.get("query") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or spec.get("kind") != "HogQLQuery":
            return drf_error(400, "validation_error", "invalid_input",
                             "Expected a body {\"query\": {\"kind\": \"HogQLQuery\", ...}}",
                             attr="query")
        try:
            parsed = parse_count_query(spec.get("query"))
        except HogQLError as exc:
            return drf_error(400, "validation_error", "invalid_input", str(exc))
        now = world.clock.now()
        rows = []
        counted = project(request).analytics
        for minute, counts in counted.counts_since(now - parsed.window_seconds, now):
            rows.append([iso_seconds(minute),
                         *(counts.get(event, 0) for _, event in parsed.counts)])
        if parsed.descending:
            rows.reverse()
        real_now = time.time()
        return json_response({
            "cache_key": f"rehearsal_{int(real_now)}",
            "is_cached": False,
            "last_refresh": iso_ms(real_now),
            "next_allowed_client_refresh": iso_ms(real_now + 60),
            "timezone": "UTC",
            "columns": [parsed.minute_alias, *(alias for alias, _ in parsed.counts)],
            "types": [[parsed.minute_alias, "DateTime('UTC')"],
                      *([alias, "UInt64"] for alias, _ in parsed.counts)],
            "results": rows[: parsed.limit],
            "hasMore": len(rows) > parsed.limit,
            "limit": parsed.limit,
            "offset": 0,
            "hogql": spec["query"],
            "error": None,
            "query_status": None,
            "modifiers": {},
            "timings": [],
        })

    async def list_annotations(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        try:
            limit = max(1, min(1000, int(request.query.get("limit", "100"))))
            offset = max(0, int(request.query.get("offset", "0")))
        except ValueError:
            return drf_error(400, "validation_error", "invalid_input",
                             "limit and offset must be integers")
        ordered = sorted(project(request).analytics.annotations, key=lambda a: a.date_marker,
                         reverse=True)
        page = ordered[offset: offset + limit]
        base = f"{request.scheme}://{request.host}{request.path}"
        more = offset + limit < len(ordered)
        return json_response({
            "count": len(ordered),
            "next": f"{base}?limit={limit}&offset={offset + limit}" if more else None,
            "previous": f"{base}?limit={limit}&offset={max(0, offset - limit)}"
            if offset else None,
            "results": [a.as_json() for a in page],
        })

    async def create_annotation(request: web.Request) -> web.Response:
        if (refused := gate(request)) is not None:
            return refused
        body = await json_body(request)
        if not isinstance(body, dict):
            return drf_error(400, "validation_error", "parse_error", "JSON parse error")
        content = body.get("content")
        if not isinstance(content, str) or not content:
            return drf_error(400, "validation_error", "required", "This field is required.",
                             attr="content")
        if len(content) > MAX_ANNOTATION_CONTENT:
            return drf_error(400, "validation_error", "max_length",
                             f"Ensure this field has no more than {MAX_ANNOTATION_CONTENT} "
                             "characters.", attr="content")
        marker = _parse_marker(body.get("date_marker"))
        if marker is None:
            return drf_error(400, "validation_error", "invalid",
                             "Datetime has wrong format. Use ISO 8601.", attr="date_marker")
        scope = body.get("scope", "project")
        if scope not in ANNOTATION_SCOPES:
            return drf_error(400, "validation_error", "invalid_choice",
                             f'"{str(scope)[:40]}" is not a valid choice.', attr="scope")
        annotation = project(request).analytics.annotate(content, marker, world.clock.now(),
                                                         scope, created_by="cockpit")
        return json_response(annotation.as_json(), 201)

    async def batch(request: web.Request) -> web.Response:
        raw = await request.read()
        compressed = (request.headers.get("Content-Encoding", "").lower() == "gzip"
                      or request.query.get("compression", "").startswith("gzip"))
        try:
            body = json.loads(gzip.decompress(raw) if compressed else raw)
        except (ValueError, OSError, EOFError):
            return drf_error(400, "validation_error", "invalid_payload",
                             "Malformed request data")
        events = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(events, list):
            return drf_error(400, "validation_error", "invalid_payload",
                             "Malformed request data: no batch")
        key = body.get("api_key") or next(
            (e.get("api_key") for e in events if isinstance(e, dict)), None)
        if key != POSTHOG_CAPTURE_KEY:
            return drf_error(401, "authentication_error", "invalid_api_key",
                             "Project API key invalid. You can find your project API key "
                             "in PostHog project settings.")
        for event in events:
            if isinstance(event, dict):
                world.analytics.captures.append(_stored(event))
        return json_response({"status": 1})

    app = web.Application(client_max_size=2 * 1024 * 1024)
    for suffix in ("/", ""):
        app.router.add_post(f"/api/projects/{{project_id}}/query{suffix}", query)
        app.router.add_get(f"/api/projects/{{project_id}}/annotations{suffix}",
                           list_annotations)
        app.router.add_post(f"/api/projects/{{project_id}}/annotations{suffix}",
                            create_annotation)
        app.router.add_post(f"/batch{suffix}", batch)
    return app


def _stored(event: dict[str, Any]) -> dict[str, Any]:
    kept = {k: event.get(k) for k in ("event", "distinct_id", "properties", "timestamp",
                                      "uuid")}
    if len(json.dumps(kept, default=str)) > MAX_STORED_EVENT_BYTES:
        kept["properties"] = {"_truncated": True}
    return kept

