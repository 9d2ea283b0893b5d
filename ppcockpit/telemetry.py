"""The cockpit's own events in PostHog, and deploy annotations.

Events go through the `posthog` SDK, whose consumer thread sends them in the background:
`capture()` only puts an event on a queue. The SDK takes about a second to import, so it
is imported and built on a short-lived thread of its own; events captured meanwhile wait
in a small bounded list. Without a capture key nothing is loaded and nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ppcockpit.durations import format_duration
from ppcockpit.model import TargetUnavailable
from ppcockpit.secrets import Redactor
from ppcockpit.text import one_line

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

SESSION_STARTED = "cockpit_session_started"
STEP_COMPLETED = "cockpit_step_completed"
ROLLBACK_STARTED = "cockpit_rollback_started"
ROLLBACK_FINISHED = "cockpit_rollback_finished"

PENDING_LIMIT = 1000  # events captured before the SDK is ready; older ones are dropped
ANNOTATION_MAX_CHARS = 400


class CockpitTelemetry:
    """Captures the cockpit's events to the team's PostHog project; never blocks the caller."""

    def __init__(self, capture_key: str | None, host: str, *, environment: str,
                 operator: str, close_timeout: float = 3.0) -> None:
        self.enabled = bool(capture_key)
        self.environment = environment
        self.operator = operator
        self.session_id = str(uuid.uuid4())
        self.close_timeout = close_timeout
        self._capture_key = capture_key or ""
        self._host = host
        self._client: Any = None  # posthog.Posthog, once built
        self._pending: deque[_Event] = deque(maxlen=PENDING_LIMIT)
        self._lock = threading.Lock()
        self._closed = False
        self._gave_up = False  # close() ended before the SDK was built: the loader shuts it
        self._loader: threading.Thread | None = None
        if self.enabled:
            self._loader = threading.Thread(target=self._load, name="ppcockpit-telemetry",
                                            daemon=True)
            self._loader.start()

    def capture(self, event: str, properties: dict[str, Any] | None = None) -> None:
        """Queue one event (no-op without a capture key). Never raises, never waits."""
        if not self.enabled or self._closed:
            return
        merged = {"environment": self.environment, "operator": self.operator,
                  "session_id": self.session_id, **(properties or {})}
        captured = _Event(event, merged, datetime.now(UTC))
        with self._lock:
            client = self._client
            if client is None:
                self._pending.append(captured)
                return
        self._send(client, captured)

    def close(self) -> None:
        """Flush what is queued and shut the SDK down, within about `close_timeout` seconds."""
        if not self.enabled or self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + self.close_timeout
        if self._loader is not None:
            self._loader.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            client = self._client
            self._gave_up = client is None
        if client is None:
            return
        with contextlib.suppress(Exception):
            client.flush(timeout_seconds=max(0.1, deadline - time.monotonic()))
        # shutdown() drains without a time limit of its own: bound it from the outside.
        stopper = threading.Thread(target=_quietly, args=(client.shutdown,),
                                   name="ppcockpit-telemetry-shutdown", daemon=True)
        stopper.start()
        stopper.join(timeout=max(0.1, deadline - time.monotonic()))

    async def aclose(self) -> None:
        """close() off the event loop (it waits for the network)."""
        await asyncio.to_thread(self.close)

    def _load(self) -> None:
        try:
            from posthog import Posthog

            # The cockpit's events are rare; the SDK's default half-second polling is not
            # (it alone cost ~0.8% of a core while idle). close() flushes what is left.
            client = Posthog(self._capture_key, host=self._host, timeout=5, max_retries=2,
                             flush_interval=5.0)
        except Exception as exc:  # telemetry must never take the cockpit down
            log.warning("PostHog telemetry disabled: %s", type(exc).__name__)
            self.enabled = False
            return
        with self._lock:
            self._client = client
            pending = list(self._pending)
            self._pending.clear()
            orphaned = self._gave_up
        for captured in pending:
            self._send(client, captured)
        if orphaned:  # close() gave up waiting for us: finish its work here
            with contextlib.suppress(Exception):
                client.flush(timeout_seconds=self.close_timeout)
            _quietly(client.shutdown)

    def _send(self, client: Any, captured: _Event) -> None:
        try:
            client.capture(captured.name, distinct_id=self.operator,
                           properties=captured.properties, timestamp=captured.at)
        except Exception as exc:
            log.warning("PostHog telemetry event %s dropped: %s", captured.name,
                        type(exc).__name__)


@dataclass(frozen=True, slots=True)
class _Event:
    name: str
    properties: dict[str, Any]
    at: datetime


def _quietly(function: Any) -> None:
    with contextlib.suppress(Exception):
        function()


async def create_annotation(host: str, project_id: str, api_key: str, content: str,
                            at: datetime, *, timeout: float) -> str:  # noqa: ASYNC109
    """Create a project annotation (the deploy marker) and return its id.

    `timeout` bounds each phase of the one HTTP request (the signature the cockpit uses).
    Raises TargetUnavailable with a one-line reason (never the key) when PostHog says no.
    """
    marker = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    body = {"content": one_line(content, limit=ANNOTATION_MAX_CHARS),
            "date_marker": marker.isoformat(), "scope": "project"}
    url = f"{host.rstrip('/')}/api/projects/{project_id}/annotations/"
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    redact = Redactor([api_key])
    import httpx  # not before the first frame: the cockpit imports this module at start

    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.post(url, json=body, headers=headers)
    except httpx.TimeoutException:
        raise TargetUnavailable(
            f"PostHog annotation: no answer within {format_duration(timeout)}") from None
    except httpx.HTTPError as exc:
        raise TargetUnavailable(
            f"PostHog annotation: cannot reach {host} ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise TargetUnavailable(f"PostHog key rejected (HTTP {response.status_code})")
    if response.status_code not in (200, 201):
        detail = _detail(response)
        said = f": {one_line(redact(detail), limit=160)}" if detail else ""
        raise TargetUnavailable(f"PostHog annotation failed: HTTP {response.status_code}{said}")
    try:
        created = response.json()
    except ValueError:
        created = None
    if not isinstance(created, dict) or created.get("id") in (None, ""):
        raise TargetUnavailable("PostHog annotation: the answer carries no id")
    return one_line(created["id"], limit=64)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        return str(data.get("detail") or data.get("code") or "")
    return ""
