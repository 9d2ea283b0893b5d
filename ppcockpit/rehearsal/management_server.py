"""Supabase Management API stand-in: database backups and applied migrations."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from ppcockpit.rehearsal.clock import iso_ms
from ppcockpit.rehearsal.credentials import SUPABASE_ACCESS_TOKEN, SUPABASE_PROJECT_REF
from ppcockpit.rehearsal.http_common import RateWindow, bearer, json_response

REQUESTS_PER_MINUTE = 120
BACKUP_DAYS = 7
APPLIED_MIGRATIONS = (
    ("20251001115253", "initial_schema"),
    ("20251015090000", "offline_queue"),
)
PENDING_MIGRATION = ("20251120143000", "profiles_last_seen")


def backups(now: float) -> dict[str, Any]:
    """A week of daily backups on the real clock, the newest a few hours old."""
    newest = now - 5 * 3600 - 17
    items = []
    for day in range(BACKUP_DAYS):
        items.append({"id": 90_000 + BACKUP_DAYS - day, "is_physical_backup": False,
                      "status": "FAILED" if day == 3 else "COMPLETED",
                      "inserted_at": iso_ms(newest - day * 86400)})
    return {"region": "us-east-1", "walg_enabled": True, "pitr_enabled": False,
            "backups": items, "physical_backup_data": {}}


def build_app() -> web.Application:
    windows: dict[str, RateWindow] = defaultdict(lambda: RateWindow(REQUESTS_PER_MINUTE))

    def gate(request: web.Request, endpoint: str) -> tuple[web.Response | None, dict[str, str]]:
        window = windows[endpoint]
        wait = window.wait()
        headers = {"X-RateLimit-Limit": str(REQUESTS_PER_MINUTE),
                   "X-RateLimit-Remaining": str(window.remaining()),
                   "X-RateLimit-Reset": str(math.ceil(wait) if wait else 60)}
        if wait:
            return json_response({"message": "Too many requests"}, 429, headers), headers
        if bearer(request) != SUPABASE_ACCESS_TOKEN:
            return json_response({"message": "Unauthorized"}, 401, headers), headers
        if request.match_info["ref"] != SUPABASE_PROJECT_REF:
            return json_response({"message": "Project not found"}, 404, headers), headers
        return None, headers

    async def list_backups(request: web.Request) -> web.Response:
        refused, headers = gate(request, "backups")
        return refused or json_response(backups(time.time()), headers=headers)

    async def list_migrations(request: web.Request) -> web.Response:
        refused, headers = gate(request, "migrations")
        applied = [{"version": v, "name": n} for v, n in APPLIED_MIGRATIONS]
        return refused or json_response(applied, headers=headers)

    app = web.Application()
    app.router.add_get("/v1/projects/{ref}/database/backups", list_backups)
    app.router.add_get("/v1/projects/{ref}/database/migrations", list_migrations)
    return app
