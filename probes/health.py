"""The health probe: GET <base_url>/api/health and say what the app reports about itself.

HTTP and per-row state live here; turning bytes into a HealthDocument is `health_parse`.
A transport failure (refused, DNS, TLS, timeout, redirect loop) raises TargetUnavailable;
any HTTP answer, however bad, becomes a Reading that names the HTTP status. The transport
(aiohttp, see `health_http`) is imported by prepare(), off the event loop.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ppcockpit import offloop
from ppcockpit.config_model import HealthProbeConfig
from ppcockpit.model import (
    Failure,
    Reading,
    Row,
    Status,
)
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line
from ppcockpit.units import size
from probes import tls
from probes.health_parse import HealthComponent, HealthDocument, overall_status, parse_health

if TYPE_CHECKING:
    from probes.health_http import HealthSession

MAX_REDIRECTS = 5
ACCEPT = "application/json, application/health+json"
SUMMARY_PROBLEMS = 2  # unhealthy rows named in the summary before "+N more"
_OVERALL_WORDS = {Status.HEALTHY: "ok", Status.DEGRADED: "degraded",
                  Status.UNAVAILABLE: "unavailable", Status.UNKNOWN: "unknown"}


class HealthProbe:
    """Watches one app's health route; keeps consecutive-unavailable counts per row."""

    def __init__(self, base_url: str, settings: HealthProbeConfig, *,
                 name: str = "health") -> None:
        self.name = name
        self.settings = settings
        self._url = base_url.rstrip("/") + settings.path
        self.target = redact_url(self._url)
        self.interval = settings.interval
        self.timeout = settings.timeout
        self._ignored = frozenset(settings.ignore_providers)
        self._streaks: dict[str, int] = {}  # row key -> consecutive unavailable checks
        self._session: HealthSession | None = None

    async def check(self, deadline: float | None = None) -> Reading:
        doc, request_id = await self._fetch()
        return self._reading(doc, request_id)

    async def prepare(self) -> None:
        """aiohttp's imports and the TLS context, in a thread, before the first timed check."""
        await offloop.once(_load_transport)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.aclose()

    # --- HTTP ---------------------------------------------------------------------------

    async def _fetch(self) -> tuple[HealthDocument, str | None]:
        if self._session is None:
            tls.ensure_environment()  # before aiohttp, which builds a TLS context on import
            from probes.health_http import HealthSession

            self._session = HealthSession(
                timeout=self.settings.timeout, max_redirects=MAX_REDIRECTS,
                headers={"Accept": ACCEPT, "User-Agent": "ppcockpit-health-probe"})
        answer = await self._session.get(self._url, self.settings.max_body)
        if answer.body is None:
            doc = HealthDocument(format="invalid", status=Status.UNAVAILABLE,
                                 http_status=answer.status,
                                 problem=f"body larger than {size(self.settings.max_body)}")
        else:
            doc = parse_health(answer.status, answer.content_type, answer.body)
        return doc, answer.request_id

    # --- Reading ------------------------------------------------------------------------

    def _reading(self, doc: HealthDocument, request_id: str | None) -> Reading:
        rows = self._rows(doc)
        status = overall_status(doc, self._ignored)
        summary = _summary(doc, rows, status, self.settings.path)
        answered_badly = not doc.valid or not 200 <= doc.http_status < 300
        providers = [r for r in rows if r.key.startswith("ai:")]
        counted = [r for r in providers if not r.extra.get("ignored")]
        return Reading(
            probe=self.name,
            target=self.target,
            status=status,
            summary=summary,
            metrics={
                "http_status": doc.http_status,
                "providers_total": len(providers),
                "providers_unavailable": sum(r.status is Status.UNAVAILABLE for r in counted),
                "providers_degraded": sum(r.status is Status.DEGRADED for r in counted),
                "alerting": sum(r.alerting for r in rows),
            },
            details={
                "format": doc.format,
                "unrecognised": list(doc.unrecognised),
                "http_status": doc.http_status,
                "request_id": request_id,
                "providers": {r.label: _provider_details(r) for r in providers},
                "dependencies": {r.key: r.status.value for r in rows
                                 if not r.key.startswith("ai:")},
            },
            rows=rows,
            error=summary if answered_badly else None,
            failure=Failure.TARGET if answered_badly else Failure.NONE,
            request_id=request_id,
            label=None if answered_badly else _label(status, rows),
        )

    def _rows(self, doc: HealthDocument) -> tuple[Row, ...]:
        if doc.components:
            self._count_streaks(doc.components)
        # An answer without components says nothing about them: their streaks stand.
        return tuple(self._row(c) for c in doc.components)

    def _count_streaks(self, components: tuple[HealthComponent, ...]) -> None:
        # Keys absent from this answer are dropped, so the dict never outgrows one answer.
        self._streaks = {
            c.key: self._streaks.get(c.key, 0) + 1 if c.status is Status.UNAVAILABLE else 0
            for c in components
        }

    def _row(self, component: HealthComponent) -> Row:
        streak = self._streaks.get(component.key, 0)
        extra: dict[str, object] = {}
        ignored = False
        if component.provider_id is not None:
            ignored = component.provider_id in self._ignored
            extra = {"configured": component.configured, "ignored": ignored,
                     **component.counts}
        return Row(
            key=component.key,
            label=component.label,
            status=component.status,
            latency_ms=component.latency_ms,
            message=component.message,
            consecutive_failures=streak,
            alerting=not ignored and streak > self.settings.unavailable_after,
            extra=extra,
        )


def _label(status: Status, rows: tuple[Row, ...]) -> str | None:
    """What is wrong when the endpoint itself answered well: `endpoint ok · 1 provider
    unavailable` rather than the endpoint read as down (the verdict stays the same)."""
    if status not in (Status.UNAVAILABLE, Status.DEGRADED):
        return None
    counted = [r for r in rows if not r.extra.get("ignored")]
    worst = [r for r in counted if r.status is status]
    if not worst:
        return None
    kind = "provider" if all(r.key.startswith("ai:") for r in worst) else "dependency"
    plural = {"provider": "providers", "dependency": "dependencies"}[kind]
    return f"endpoint ok · {len(worst)} {kind if len(worst) == 1 else plural} {status.label}"


def _provider_details(row: Row) -> dict[str, object]:
    return {
        "status": row.status.value,
        "configured": row.extra.get("configured"),
        "latency_ms": row.latency_ms,
        "consecutive_unavailable": row.consecutive_failures,
        "alerting": row.alerting,
        "ignored": bool(row.extra.get("ignored")),
    }


# --- summary --------------------------------------------------------------------------------


def _summary(doc: HealthDocument, rows: tuple[Row, ...], status: Status, path: str) -> str:
    code = doc.http_status
    problems = _problem_phrases(rows, doc)
    if 200 <= code < 300:
        if not doc.valid:
            return doc.problem
        if problems:
            return one_line(" · ".join([_OVERALL_WORDS[status], *problems]), 240)
        if status is not Status.HEALTHY:  # every row fine, but the app's own word is not
            word = doc.declared_word or "none"
            head = f"{_OVERALL_WORDS[status]} · the app says {word!r}"
            return one_line(f"{head} · {_inventory(rows)}" if rows else head, 240)
        return f"ok · {_inventory(rows)}" if rows else "ok"
    if 400 <= code < 500:
        head = f"HTTP {code} from {path}"
        if doc.error:
            head += f": {doc.error}"
    elif problems:
        head = f"HTTP {code}"
    else:
        head = f"HTTP {code}: {doc.problem or doc.error or 'no reason given'}"
    fine = [r.label for r in rows if r.key.startswith("ai:") and r.status is Status.HEALTHY]
    tail = [", ".join(fine[:3]) + " healthy"] if problems and fine else []
    return one_line(" · ".join([head, *problems, *tail]), 240)


def _problem_phrases(rows: tuple[Row, ...], doc: HealthDocument) -> list[str]:
    """What the cockpit did not recognise, then counted rows that are not healthy, the worst
    first."""
    raw = {c.key: c.raw_status for c in doc.components}
    unhealthy = [r for r in rows if r.status not in (Status.HEALTHY, Status.SKIPPED)
                 and not r.extra.get("ignored")]
    unhealthy.sort(key=lambda r: -r.status.rank)
    phrases = [*doc.unrecognised,
               *(_phrase(r, raw.get(r.key, "")) for r in unhealthy[:SUMMARY_PROBLEMS])]
    if len(unhealthy) > SUMMARY_PROBLEMS:
        phrases.append(f"+{len(unhealthy) - SUMMARY_PROBLEMS} more")
    return phrases


def _phrase(row: Row, raw_status: str) -> str:
    word = raw_status or row.status.label
    if not row.message:
        return f"{row.label} {word}"
    if row.message.startswith(word):  # "disabled (no PostHog key)" already says it
        return f"{row.label} {row.message}"
    return f"{row.label} {word}: {row.message}"


def _inventory(rows: tuple[Row, ...]) -> str:
    providers = [r for r in rows if r.key.startswith("ai:")]
    if not providers:
        return _plural(len(rows), "component")
    counts = [
        (sum(r.status is Status.DEGRADED for r in providers), "degraded"),
        (sum(r.status is Status.UNAVAILABLE for r in providers), "unavailable"),
        (sum(r.status is Status.SKIPPED for r in providers), "not configured"),
        (sum(bool(r.extra.get("ignored")) for r in providers), "ignored"),
    ]
    notes = ", ".join(f"{n} {word}" for n, word in counts if n)
    return _plural(len(providers), "provider") + (f" ({notes})" if notes else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _load_transport() -> None:
    """aiohttp and the TLS context (blocking: a worker thread). SSL_CERT_FILE is checked
    first: importing aiohttp builds a TLS context, which reads it."""
    tls.ensure_environment()
    importlib.import_module("probes.health_http")
    tls.context_blocking()
