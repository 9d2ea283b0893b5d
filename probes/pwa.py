"""The PWA probe: manifest installability, the service worker (hash, change, SKIP_WAITING
handler) and the offline route, each one Row.

The judgements on bytes (`manifest_missing`, `skip_waiting_handler`) are pure functions;
the probe only fetches, hashes and remembers the service worker's SHA-256 across checks
and since the operator's last `mark_deploy()`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin

import msgspec

from ppcockpit.config_model import PwaProbeConfig
from ppcockpit.model import Reading, Row, Status, TargetUnavailable, worst
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from ppcockpit.units import size
from probes.body import UnreadableBody, parse_json
from probes.http_client import KeptClient, read_limited, redirect_location, same_origin
from probes.supabase_management import describe_transport_error

INSTALLABLE_DISPLAYS = ("standalone", "fullscreen", "minimal-ui")
REQUIRED_ICON_SIZES = ("192x192", "512x512")
MAX_MANIFEST_BYTES = 256 * 1024
MAX_SERVICE_WORKER_BYTES = 8 * 1024 * 1024
MAX_REDIRECTS = 5

_QUOTES = frozenset(b"\"'`")
_IDENTIFIER = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
# After `skipWaiting`: a call `( `, or the end of a bracket access `"]( `.
_CALL_TAIL = re.compile(rb"""\s*\(|["'`]\s*\]\s*\(""")
INLINE_SCAN_BYTES = 1024 * 1024  # larger workers are hashed and scanned in a thread

# --- pure judgements ----------------------------------------------------------------------

def parse_manifest(body: bytes) -> object:
    """The manifest's JSON; UnreadableBody (a ValueError) when it cannot be read, however it
    fails (nesting 100,000 deep included). A UTF-8 BOM is allowed."""
    return parse_json(body)


def _non_empty_string(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _icon_sizes(icon: dict[str, object]) -> set[str]:
    sizes = icon.get("sizes")
    return {s.lower() for s in sizes.split()} if isinstance(sizes, str) else set()


def _is_svg(icon: dict[str, object]) -> bool:
    kind, src = icon.get("type"), icon.get("src")
    return (isinstance(kind, str) and kind.strip().lower() == "image/svg+xml") or (
        isinstance(src, str) and src.lower().split("?", 1)[0].endswith(".svg"))


def manifest_missing(manifest: object) -> list[str]:
    """What keeps the manifest from being installable, in words; empty when installable."""
    if not isinstance(manifest, dict):
        return ["a JSON object"]
    missing: list[str] = []
    if not (_non_empty_string(manifest.get("name"))
            or _non_empty_string(manifest.get("short_name"))):
        missing.append("name or short_name")
    if not _non_empty_string(manifest.get("start_url")):
        missing.append("start_url")
    display = manifest.get("display")
    if not (isinstance(display, str) and display.strip().lower() in INSTALLABLE_DISPLAYS):
        missing.append("display standalone|fullscreen|minimal-ui")
    raw_icons = manifest.get("icons")
    icons = [i for i in raw_icons if isinstance(i, dict)] if isinstance(raw_icons, list) else []
    if not any(_is_svg(icon) and "any" in _icon_sizes(icon) for icon in icons):
        sizes: set[str] = set()
        for icon in icons:
            sizes |= _icon_sizes(icon)
        missing.extend(f"icon {size}" for size in REQUIRED_ICON_SIZES if size not in sizes)
    return missing


def _occurrences(data: bytes, needle: bytes) -> Iterator[int]:
    # bytes.find is a fast substring search; a regex over megabytes of minified JS is not.
    start = data.find(needle)
    while start != -1:
        yield start
        start = data.find(needle, start + 1)


def skip_waiting_handler(script: bytes | str) -> tuple[bool, bool]:
    """(listens for a SKIP_WAITING message, calls skipWaiting()) in a service worker.

    Tolerant of quote styles and minification: `"SKIP_WAITING"===e.data.type`,
    `'SKIP_WAITING'`, `self.skipWaiting()`, `e.skipWaiting ( )`, `self["skipWaiting"]()`.
    """
    data = script.encode("utf-8", "replace") if isinstance(script, str) else script
    listens = any(
        at > 0 and data[at - 1] in _QUOTES and data[at + 12:at + 13] == data[at - 1:at]
        for at in _occurrences(data, b"SKIP_WAITING"))
    calls = False
    for at in _occurrences(data, b"skipWaiting"):
        tail = _CALL_TAIL.match(data, at + len(b"skipWaiting"))
        if tail is None:
            continue
        is_call = tail.group(0).lstrip().startswith(b"(")
        before = data[at - 1] if at > 0 else None
        if (before not in _IDENTIFIER) if is_call else (before in _QUOTES):
            calls = True
            break
    return listens, calls


def inspect_worker(body: bytes) -> tuple[str, bool, bool]:
    """SHA-256 of the worker's bytes and its SKIP_WAITING handler (CPU work)."""
    import hashlib  # at the first check, not before the first frame

    return (hashlib.sha256(body).hexdigest(), *skip_waiting_handler(body))


# --- fetching -----------------------------------------------------------------------------

class Fetched(msgspec.Struct, frozen=True):
    """One GET: the status and (capped) body, or why there was no answer."""

    status: int | None
    body: bytes = b""
    error: str | None = None  # transport failure, an oversized body, a redirect not followed
    latency_ms: float = 0.0
    request_id: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None


class PwaProbe:
    """Checks what makes the app installable and updatable as a PWA."""

    name = "pwa"

    def __init__(self, base_url: str, settings: PwaProbeConfig) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.target = redact_url(self.base_url)
        self.interval = settings.interval
        self.timeout = settings.timeout
        # Redirects are followed by hand, within the configured origin only (see _get).
        self._client = KeptClient(
            timeout=self.timeout, follow_redirects=False,
            headers={"User-Agent": "ppcockpit-pwa-probe"})
        self._last_sha: str | None = None
        self._sha_at_deploy: str | None = None
        self._deploy_marked = False  # set until a SHA is known for the marker
        self._deploy_at: str | None = None

    async def prepare(self) -> None:
        await self._client.prepare()

    async def aclose(self) -> None:
        await self._client.aclose()

    def mark_deploy(self, at: datetime | None = None) -> None:
        """A deploy happened (at `at`, default now): later checks say whether the worker
        changed since. Fits `ppcockpit.probe.DeployAware`."""
        self._sha_at_deploy = self._last_sha
        self._deploy_marked = self._last_sha is None
        self._deploy_at = (at or datetime.now(UTC)).isoformat()

    async def _get(self, path: str, limit: int, headers: dict[str, str] | None = None,
                   read_body: bool = True) -> Fetched:
        import httpx  # not before the cockpit's first frame

        started = time.perf_counter()
        url = self.base_url + path
        try:
            client = await self._client.get()
            for _ in range(MAX_REDIRECTS + 1):
                async with client.stream("GET", url, headers=headers) as response:
                    request_id = response.headers.get("x-request-id")
                    request_id = one_line(request_id, 80) if request_id else None
                    status = response.status_code
                    location = redirect_location(status, response.headers.get("location"), url)
                    if location is None:
                        body = b""
                        if read_body and status == 200:
                            try:
                                capped = await read_limited(response, limit)
                            except UnreadableBody as exc:
                                return Fetched(status, error=f"answered badly: {exc}",
                                               request_id=request_id)
                            if capped is None:
                                return Fetched(status, error=f"larger than {size(limit)}",
                                               request_id=request_id)
                            body = capped
                        return Fetched(status, body,
                                       latency_ms=(time.perf_counter() - started) * 1000,
                                       request_id=request_id)
                if not same_origin(location, self.base_url):
                    return Fetched(status, request_id=request_id, error=(
                        f"redirected to {one_line(redact_url(location), 80)}: another origin "
                        f"than {self.target}, not followed"))
                url = urljoin(url, location)
            return Fetched(None, error=f"more than {MAX_REDIRECTS} redirects")
        except httpx.TransportError as exc:
            return Fetched(None, error=describe_transport_error(exc, self.timeout))

    async def check(self, deadline: float | None = None) -> Reading:
        settings = self.settings
        manifest, worker, offline = await asyncio.gather(
            self._get(settings.manifest_path, MAX_MANIFEST_BYTES),
            self._get(settings.service_worker_path, MAX_SERVICE_WORKER_BYTES,
                      headers={"Cache-Control": "no-cache"}),
            self._get(settings.offline_path, 0, read_body=False),
        )
        fetched = (manifest, worker, offline)
        if not any(f.answered for f in fetched):
            raise TargetUnavailable(f"{self.target} unreachable: {manifest.error}")

        manifest_row, missing = self._manifest_row(manifest)
        inspection = None
        if worker.status == 200 and not worker.error:
            if len(worker.body) > INLINE_SCAN_BYTES:
                inspection = await asyncio.to_thread(inspect_worker, worker.body)
            else:
                inspection = inspect_worker(worker.body)
        worker_row, skip_row, worker_details = self._worker_rows(worker, inspection)
        offline_row = self._offline_row(offline)
        rows = (manifest_row, worker_row, skip_row, offline_row)
        status = worst([row.status for row in rows])
        problems = [row.message for row in rows
                    if row.status in (Status.UNAVAILABLE, Status.DEGRADED)]
        if problems:
            summary = " · ".join(problems)
        else:
            summary = " · ".join(("installable", worker_row.message, skip_row.message,
                                  offline_row.message))
        sources = ((manifest, manifest_row), (worker, worker_row), (offline, offline_row))
        request_id = next((f.request_id for f, row in sources
                           if row.status is not Status.HEALTHY and f.request_id), None)
        return Reading(
            probe=self.name,
            target=self.target,
            status=status,
            summary=summary,
            metrics={
                "manifest_missing": len(missing) if missing is not None else None,
                "service_worker_bytes": len(worker.body) if worker.status == 200 else None,
                "offline_status": offline.status,
            },
            details={"manifest_missing": missing or [], **worker_details,
                     "deploy_marked_at": self._deploy_at, "offline_status": offline.status},
            rows=rows,
            request_id=request_id,
        )

    def _manifest_row(self, fetched: Fetched) -> tuple[Row, list[str] | None]:
        def row(status: Status, message: str) -> Row:
            return Row(key="manifest", label="Manifest", status=status,
                       latency_ms=fetched.latency_ms or None, message=message)

        if fetched.status != 200 or fetched.error:
            return row(Status.UNAVAILABLE, f"manifest {_failure(fetched)}"), None
        try:
            missing = manifest_missing(parse_manifest(fetched.body))
        except UnreadableBody as exc:
            why = "" if str(exc).startswith("not JSON") else f": {exc}"
            return row(Status.UNAVAILABLE, f"manifest is not valid JSON{why}"), None
        if missing:
            return row(Status.UNAVAILABLE,
                       "manifest not installable: missing " + ", ".join(missing)), missing
        return row(Status.HEALTHY, "manifest installable"), missing

    def _worker_rows(self, fetched: Fetched, inspection: tuple[str, bool, bool] | None,
                     ) -> tuple[Row, Row, dict[str, object]]:
        latency = fetched.latency_ms or None
        if inspection is None:
            reason = f"service worker {_failure(fetched)}"
            return (
                Row(key="service_worker", label="Service worker", status=Status.UNAVAILABLE,
                    latency_ms=latency, message=reason),
                Row(key="skip_waiting", label="SKIP_WAITING handler", status=Status.UNKNOWN,
                    message="not checked: service worker unreachable"),
                {"service_worker_sha256": None, "changed": None,
                 "sha_at_deploy": self._sha_at_deploy, "changed_since_deploy": None,
                 "skip_waiting_message": None, "skip_waiting_call": None},
            )
        sha, listens, calls = inspection
        changed = self._last_sha is not None and sha != self._last_sha
        self._last_sha = sha
        if self._deploy_marked:
            self._sha_at_deploy, self._deploy_marked = sha, False
        since_deploy = self._sha_at_deploy is not None and sha != self._sha_at_deploy
        if since_deploy:
            change = "changed since deploy"
        elif changed:
            change = "changed since last check"
        else:
            change = "unchanged"
        if listens or calls:
            how = "message listener" if listens else "skipWaiting() call"
            skip_row = Row(key="skip_waiting", label="SKIP_WAITING handler",
                           status=Status.HEALTHY, message=f"SKIP_WAITING handled ({how})")
        else:
            skip_row = Row(key="skip_waiting", label="SKIP_WAITING handler",
                           status=Status.DEGRADED,
                           message="service worker has no SKIP_WAITING handler")
        worker_row = Row(key="service_worker", label="Service worker", status=Status.HEALTHY,
                         latency_ms=latency, message=f"service worker sha256:{sha[:8]} {change}")
        return worker_row, skip_row, {
            "service_worker_sha256": sha, "changed": changed,
            "sha_at_deploy": self._sha_at_deploy,
            "changed_since_deploy": since_deploy if self._sha_at_deploy else None,
            "skip_waiting_message": listens, "skip_waiting_call": calls,
        }

    @staticmethod
    def _offline_row(fetched: Fetched) -> Row:
        ok = fetched.status == 200
        return Row(key="offline", label="Offline route",
                   status=Status.HEALTHY if ok else Status.UNAVAILABLE,
                   latency_ms=fetched.latency_ms or None,
                   message="offline answers 200" if ok else f"offline route {_failure(fetched)}")


def _failure(fetched: Fetched) -> str:
    if fetched.status is None:
        return f"unreachable: {fetched.error}"
    if fetched.error and fetched.error.startswith(("redirected", "answered badly")):
        return fetched.error
    if fetched.error:
        return f"is {fetched.error}"
    return f"answered {fetched.status}"
