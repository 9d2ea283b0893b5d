"""The body of the app's /api/health, exactly as pocket-philosopher.md describes it."""

from __future__ import annotations

from typing import Any

from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.clock import iso_ms
from ppcockpit.rehearsal.world import CONFIGURED, PROVIDERS, World

DB_ERROR = "Database probe failed: connect ECONNREFUSED 10.12.0.5:5432"
SERVICE_ROLE_ERROR = "SUPABASE_SERVICE_ROLE_KEY is not set for this deployment"
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _latency(world: World, status: str) -> int | None:
    if status == "unavailable":
        return None
    low, high = (700, 2400) if status == "degraded" else (35, 140)
    return world.rng.randint(low, high)


def _provider(world: World, provider: str, now: float, checked: float) -> dict[str, Any]:
    status = world.provider_status(provider, now)
    stats = world.stats[provider]
    error = None
    if status == "degraded":
        error = {"message": "rate limited"}
    elif status == "unavailable" and CONFIGURED[provider]:
        error = {"message": "503 Service Unavailable: overloaded_error"}
    configured = CONFIGURED[provider]
    return {
        "status": status,
        "lastCheckedAt": iso_ms(checked) if configured else None,
        "latencyMs": _latency(world, status) if configured else None,
        "successCount": stats.success,
        "failureCount": stats.failure if configured else 5,
        "degradedCount": stats.degraded,
        "lastSuccessAt": iso_ms(stats.last_success) if stats.last_success else None,
        "lastFailureAt": iso_ms(stats.last_failure) if stats.last_failure else None,
        "error": error,
    }


def payload(world: World, now: float) -> dict[str, Any]:
    """The PAYLOAD shared by the 200 envelope and the 503 `details`."""
    db_down = sc.DB_DOWN in world.faults
    checked = now - world.rng.uniform(0.5, 8.0)  # the app caches provider health briefly
    providers = {p: _provider(world, p, now, checked) for p in PROVIDERS}
    configured_ok = all(providers[p]["status"] == "healthy" for p in PROVIDERS
                        if CONFIGURED[p])
    selected = "openai"
    return {
        "status": "ok" if configured_ok and not db_down else "degraded",
        "timestamp": iso_ms(now),
        "dependencies": {
            "supabase": {"status": "error", "latencyMs": None, "message": DB_ERROR}
            if db_down else
            {"status": "ok", "latencyMs": world.rng.randint(3, 18), "message": None},
            "analytics": {"status": "ok"},
            "aiProviders": {
                "configuration": {p: "configured" if CONFIGURED[p] else "missing"
                                  for p in PROVIDERS},
                "selection": {"providerId": selected,
                              "providerStatus": providers[selected]["status"],
                              "fallbackUsed": providers["anthropic"]["status"] == "unavailable",
                              "selectedAt": iso_ms(checked)},
                "stats": providers,
            },
        },
    }


def health_response(world: World, now: float) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for the current fault state (bad-gateway is the server's)."""
    mode = world.health_mode()
    if mode == sc.NO_SERVICE_ROLE:
        return 500, {"success": False, "error": "Service role client unavailable",
                     "details": {"message": SERVICE_ROLE_ERROR}}
    body = payload(world, now)
    if mode == sc.DB_DOWN:
        return 503, {"success": False, "error": "Health check failed", "details": body}
    return 200, {"success": True, "data": body}
