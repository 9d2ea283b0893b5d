"""The rehearsal's smoke tests: what the team's `npm run test` and Playwright steps check,
as small real commands against the stand-in app. They pass in `calm` and fail when the app
does not answer as it should (bad-gateway, db-down, ...).

    python -m ppcockpit.rehearsal.smoke health|retrieval|offline BASE_URL
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

TIMEOUT = 5.0
MAX_BODY = 1 << 20


def _get(url: str) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"User-Agent": "ppcockpit-rehearsal-smoke"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            body = response.read(MAX_BODY).decode("utf-8", "replace")
            return response.status, response.headers.get("content-type", ""), body
    except urllib.error.HTTPError as error:
        body = error.read(MAX_BODY).decode("utf-8", "replace")
        return error.code, error.headers.get("content-type", ""), body


def health(base: str) -> list[str]:
    status, kind, body = _get(f"{base}/api/health")
    print(f"GET /api/health → {status} {kind.split(';')[0]}")
    if status != 200 or "json" not in kind:
        return [f"/api/health answered {status}, not a JSON 200"]
    data = json.loads(body).get("data") or {}
    print(f"status {data.get('status')!r}")
    problems = [] if data.get("status") in ("ok", "degraded") else ["status is not ok"]
    supabase = (data.get("dependencies") or {}).get("supabase") or {}
    if supabase.get("status") != "ok":
        problems.append(f"supabase is {supabase.get('status')!r}")
    return problems


def retrieval(base: str) -> list[str]:
    problems = health(base)
    status, _, body = _get(f"{base}/today")
    print(f"GET /today → {status}")
    if status != 200 or "<html" not in body.lower():
        problems.append(f"/today answered {status} without a page")
    return problems


def offline(base: str) -> list[str]:
    problems = []
    for path, needle in (("/offline", "offline"), ("/service-worker.js", "SKIP_WAITING"),
                         ("/manifest.webmanifest", "start_url")):
        status, _, body = _get(f"{base}{path}")
        print(f"GET {path} → {status}")
        if status != 200 or needle.lower() not in body.lower():
            problems.append(f"{path} answered {status} without {needle!r}")
    return problems


CHECKS: dict[str, Callable[[str], list[str]]] = {
    "health": health, "retrieval": retrieval, "offline": offline}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in CHECKS:
        print(f"usage: python -m ppcockpit.rehearsal.smoke {'|'.join(CHECKS)} BASE_URL",
              file=sys.stderr)
        return 2
    name, base = argv
    try:
        problems = CHECKS[name](base.rstrip("/"))
    except (OSError, ValueError) as error:
        problems = [f"{type(error).__name__}: {error}"]
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"{name}: {'FAILED' if problems else 'passed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
