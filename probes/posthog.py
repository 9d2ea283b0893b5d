"""The PostHog failure ratio: one HogQL query per check, per-minute counts, before/after deploy.

Gentle with PostHog's rate limits: one query per check (the last 2 x window minutes, so the
before/after comparison needs no second query), the last good answer is kept and shown as
stale while PostHog says 429 or is down, and a rejected key is asked about only once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ppcockpit.config_model import PosthogEnvironment, PosthogProbeConfig
from ppcockpit.durations import format_duration
from ppcockpit.model import (
    Failure,
    ProbeMisconfigured,
    Reading,
    Status,
    TargetUnavailable,
    worst,
)
from ppcockpit.probe import time_left
from ppcockpit.secrets import Redactor, fingerprint, redact_url
from ppcockpit.text import one_line
from ppcockpit.units import size
from probes.body import UnreadableBody, parse_json
from probes.causes import connection_refused, tls_failure
from probes.clock import CLOCK_SKEW, future_note
from probes.http_client import new_client, read_limited, refuse_redirect, warm_up
from probes.posthog_series import (
    MinuteCount,
    dense_series,
    evaluate,
    floor_minute,
    parse_query_rows,
    parse_timestamp,
    split_future,
    window_minutes,
)
from probes.retry_after import parse_wait

if TYPE_CHECKING:
    import httpx  # imported where used: not before the cockpit's first frame

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_SERIES_MINUTES = 2 * 24 * 60  # a window of at most 24h keeps the series bounded
DEFAULT_RETRY_AFTER = 60.0  # PostHog's limits are per minute
ANNOTATION_TIMEOUT = 5.0

_MARGIN = 0.8  # the HTTP work must end before the runner's own timeout fires


class _RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:g}s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Answer:
    """One good query answer, kept to be shown again while PostHog cannot be asked."""

    series: list[MinuteCount]
    fetched_at: float  # time.monotonic()
    at: datetime  # the environment's time of the answer: its newest minute was filling then
    skipped_rows: int
    future_rows: int = 0  # rows dated beyond the clock-skew allowance, ignored
    extra: dict[str, Any] = field(default_factory=dict)


def hogql_string(value: str) -> str:
    """A HogQL string literal: backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_query(success_event: str, failure_event: str, minutes: int, limit: int) -> str:
    success, failure = hogql_string(success_event), hogql_string(failure_event)
    # Newest first, so a LIMIT that bites drops the oldest minutes, never the current ones.
    return (
        "SELECT toStartOfMinute(timestamp) AS minute, "
        f"countIf(event = {success}) AS completed, "
        f"countIf(event = {failure}) AS failed "
        f"FROM events WHERE timestamp > now() - INTERVAL {minutes} MINUTE "
        f"AND event IN ({success}, {failure}) "
        f"GROUP BY minute ORDER BY minute DESC LIMIT {limit}"
    )


def newest_deploy_annotation(payload: object, now: datetime | None = None) -> datetime | None:
    """The newest annotation whose content starts with "Deploy" (any case), tolerantly.
    One dated after `now` (plus the clock-skew allowance) is from the future: never trusted."""
    results = payload.get("results") if isinstance(payload, dict) else payload
    if not isinstance(results, list):
        return None
    newest: datetime | None = None
    for item in results:
        if not isinstance(item, dict) or item.get("deleted") is True:
            continue
        content = item.get("content")
        if not isinstance(content, str) or not content.lstrip().lower().startswith("deploy"):
            continue
        try:
            marker = parse_timestamp(item.get("date_marker"))
        except ValueError:
            continue
        if now is not None and marker > now + CLOCK_SKEW:
            continue
        if newest is None or marker > newest:
            newest = marker
    return newest


class PosthogProbe:
    """The failure ratio of the app's requests, from PostHog's event counts."""

    def __init__(self, env: PosthogEnvironment, settings: PosthogProbeConfig, *,
                 name: str = "posthog", now: Callable[[], float] = time.time) -> None:
        """`now` is the environment's clock (unix seconds): a rehearsal's runs ahead."""
        self.name = name
        self._host = redact_url(str(env.host))  # the host as shown: no password, no query
        self.target = f"{self._host} project {env.project_id}"
        self._now = now
        self.interval = settings.interval
        self.timeout = settings.timeout
        self._env = env
        self._settings = settings
        self._api_key = env.api_key or ""
        self._redact = Redactor([self._api_key])
        self._minutes = window_minutes(settings.window)
        self._project_path = f"/api/projects/{quote(env.project_id, safe='')}"
        self._client: httpx.AsyncClient | None = None
        self._cache: _Answer | None = None
        self._rejected: str | None = None
        self._not_before = 0.0  # monotonic; no query before this (PostHog's Retry-After)
        self._marked_deploy: datetime | None = None
        self._annotated_deploy: datetime | None = None

    # -- public -------------------------------------------------------------------------

    def mark_deploy(self, at: datetime) -> None:
        """The operator recorded a deploy at `at` (a naive time is taken as UTC)."""
        self._marked_deploy = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)

    @property
    def deploy_at(self) -> datetime | None:
        """The newer of the recorded deploy and PostHog's newest "Deploy..." annotation."""
        known = [t for t in (self._marked_deploy, self._annotated_deploy) if t is not None]
        return max(known) if known else None

    async def check(self, deadline: float | None = None) -> Reading:
        if self._rejected is not None:
            raise TargetUnavailable(self._rejected)  # said once: never asked again
        if 2 * self._minutes > MAX_SERIES_MINUTES:
            raise ProbeMisconfigured(
                f"window {format_duration(self._settings.window)} is longer than 24h")
        wait = self._not_before - time.monotonic()
        if wait > 0:
            return self._rate_limited(wait)
        deadline = time.monotonic() + time_left(deadline, self.timeout) * _MARGIN
        try:
            payload = await self._query(deadline)
            parsed = parse_query_rows(payload, max_rows=self._row_limit * 2)
        except _RateLimited as limited:
            self._not_before = time.monotonic() + limited.retry_after
            return self._rate_limited(limited.retry_after)
        except ValueError as exc:  # a body we cannot read: the target answered badly
            return self._unavailable(self._clean(str(exc)))
        except TargetUnavailable as exc:
            if self._rejected is not None:
                raise
            return self._unavailable(exc.reason)
        await self._refresh_deploy_annotation(deadline)
        self._cache = self._answer(parsed.counts, parsed.skipped, payload)
        return self._reading(self._cache)

    async def prepare(self) -> None:
        """Imports and the TLS context, off the loop, before the first timed check."""
        await warm_up()

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- HTTP ---------------------------------------------------------------------------

    @property
    def _row_limit(self) -> int:
        return 2 * self._minutes + 2

    async def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            client = await new_client(
                base_url=self._env.host,
                headers={"Authorization": f"Bearer {self._api_key}",
                         "Accept": "application/json"},
                timeout=self.timeout * _MARGIN,
                follow_redirects=False,
            )
            if self._client is None:
                self._client = client
            else:
                await client.aclose()
        return self._client

    async def _query(self, deadline: float) -> Any:
        query = build_query(self._settings.success_event, self._settings.failure_event,
                            2 * self._minutes, self._row_limit)
        body = {"query": {"kind": "HogQLQuery", "query": query}, "refresh": "blocking"}
        status, headers, raw = await self._send("POST", f"{self._project_path}/query/",
                                                deadline, json_body=body)
        if status in (401, 403):
            scope = " (it needs query:read scope)" if status == 403 else ""
            self._rejected = (f"PostHog key rejected: HTTP {status}{scope}, "
                              f"key {fingerprint(self._api_key)}")
            raise TargetUnavailable(self._rejected)
        if status == 429:
            retry = parse_wait(headers.get("retry-after"), time.time()) or DEFAULT_RETRY_AFTER
            raise _RateLimited(retry)
        code, detail = self._drf_error(raw)
        if status == 400:
            if code == "validation_error":
                raise ProbeMisconfigured(f"HogQL error: {detail or 'no detail given'}")
            raise ProbeMisconfigured(f"PostHog refused the query (HTTP 400): {detail}")
        if status == 404:
            raise ProbeMisconfigured(
                f"PostHog has no project {self._env.project_id} at {self._host} (HTTP 404)")
        if status != 200:
            said = f": {code or detail}" if code or detail else ""
            raise TargetUnavailable(f"PostHog answered HTTP {status}{said}")
        return self._json(raw, headers)

    async def _refresh_deploy_annotation(self, deadline: float) -> None:
        """Read the newest deploy annotation; any failure only keeps the marker we had."""
        budget = min(ANNOTATION_TIMEOUT, deadline - time.monotonic())
        if budget < 0.2:
            return
        try:
            status, headers, raw = await self._send(
                "GET", f"{self._project_path}/annotations/", time.monotonic() + budget,
                params={"limit": "20"})
            if status == 200:
                now = datetime.fromtimestamp(self._now(), UTC)
                marker = newest_deploy_annotation(self._json(raw, headers), now)
                if marker is not None:
                    self._annotated_deploy = marker
        except TargetUnavailable:
            pass

    async def _send(self, method: str, path: str, deadline: float, *,
                    json_body: Any = None, params: dict[str, str] | None = None,
                    ) -> tuple[int, httpx.Headers, bytes]:
        import httpx

        client = await self._http()
        timeout = max(0.1, deadline - time.monotonic())
        try:
            # httpx bounds each phase; the whole exchange is bounded here.
            async with asyncio.timeout(timeout), client.stream(
                    method, path, json=json_body, params=params, timeout=timeout) as response:
                self._refuse_redirect(response)
                raw = await read_limited(response, MAX_BODY_BYTES)
                if raw is None:
                    raise TargetUnavailable(
                        f"PostHog answer is larger than {size(MAX_BODY_BYTES)}")
                return response.status_code, response.headers, raw
        except (httpx.TimeoutException, TimeoutError):
            raise TargetUnavailable(
                f"PostHog did not answer within {format_duration(timeout)}") from None
        except UnreadableBody as exc:
            raise TargetUnavailable(f"PostHog answered badly: {exc}") from None
        except httpx.ConnectError as exc:
            why = tls_failure(exc) or (
                "connection refused" if connection_refused(exc) else "cannot connect")
            raise TargetUnavailable(f"cannot reach PostHog at {self._host}: {why}") from None
        except httpx.HTTPError as exc:
            why = tls_failure(exc) or f"({type(exc).__name__})"
            raise TargetUnavailable(f"PostHog request failed {why}") from None

    def _refuse_redirect(self, response: httpx.Response) -> None:
        """The key goes to the configured host only: a redirect is reported, never followed."""
        refuse_redirect(response, "PostHog", f"the key is only ever sent to {self._host}")

    def _json(self, raw: bytes, headers: httpx.Headers) -> Any:
        try:
            return parse_json(raw)
        except UnreadableBody as exc:
            kind = headers.get("content-type", "no content type").split(";")[0]
            looks = "an HTML page" if raw.lstrip()[:1] == b"<" else "a body"
            why = "" if str(exc).startswith("not JSON") else f": {exc}"
            raise TargetUnavailable(
                f"PostHog answered with {looks} that is not JSON ({self._clean(kind)}){why}",
            ) from None

    def _drf_error(self, raw: bytes) -> tuple[str, str]:
        """The kind of a DRF error body and its `detail`; empty strings when absent.

        The kind is `type` when it is `validation_error` (PostHog's HogQL errors carry
        `"type": "validation_error", "code": "invalid_input"`), else `code`, else `type`.
        """
        try:
            data = parse_json(raw)
        except UnreadableBody:
            return "", ""
        if not isinstance(data, dict):
            return "", ""
        kind = data.get("type")
        code = kind if kind == "validation_error" else data.get("code") or kind or ""
        detail = data.get("detail") or ""
        return self._clean(str(code), 40), self._clean(str(detail), 160)

    def _clean(self, text: str, limit: int = 200) -> str:
        return one_line(self._redact(text), limit=limit)

    # -- readings -----------------------------------------------------------------------

    def _answer(self, counts: list[MinuteCount], skipped: int, payload: Any) -> _Answer:
        # The window ends now, by the environment's clock. A row dated within the clock-skew
        # allowance may move it that far; a row from further ahead is ignored and reported,
        # so no answer can slide the window past the minutes that failed.
        now = datetime.fromtimestamp(self._now(), UTC)
        kept, future = split_future(counts, now + CLOCK_SKEW)
        end = max([floor_minute(now), *(c.minute for c in kept)])
        series = dense_series(kept, end, 2 * self._minutes)
        extra = {"server_cached": payload.get("is_cached") is True,
                 "truncated": payload.get("hasMore") is True}
        return _Answer(series, time.monotonic(), now, skipped, future, extra)

    def _reading(self, answer: _Answer, *, cached: bool = False,
                 describe: Callable[[str], str] = str, **overrides: Any) -> Reading:
        """The reading for `answer`; `describe` turns the verdict's summary into the shown one.
        A cached answer is judged as it was when it came (its newest minute was filling)."""
        verdict = evaluate(answer.series, self._settings, self.deploy_at, answer.at)
        age = round(time.monotonic() - answer.fetched_at, 1) if cached else 0.0
        details = verdict.details | answer.extra | {
            "cached": cached, "stale": cached, "retry_after_s": overrides.get("retry_after"),
            "skipped_rows": answer.skipped_rows, "future_rows": answer.future_rows,
        }
        status, summary = verdict.status, verdict.summary
        if answer.future_rows:
            # Dates from the future mean the answer (or its clock) is not to be trusted whole.
            status = worst([status, Status.DEGRADED])
            summary += f" · {future_note(answer.future_rows, 'row')}"
        forced = overrides.pop("status", None)  # PostHog itself is down: that is the status
        # The phrase says which line the ratio is over: only while that is the status.
        label = verdict.label if forced is None and status is verdict.status else None
        return Reading(probe=self.name, target=self.target, status=forced or status,
                       label=label,
                       summary=describe(summary),
                       metrics=verdict.metrics | {"data_age_s": age}, details=details,
                       **overrides)

    # A cached answer's summary says it is one, not how old it is: its age grows while the
    # reading is on screen, and every screen says it from `data_age_s` (Reading.freshness).

    def _rate_limited(self, retry_after: float) -> Reading:
        wait = round(retry_after, 1)
        if self._cache is None:
            raise TargetUnavailable("rate limited by PostHog", retry_after=wait)
        note = f" · from the cache (rate limited, retry in {format_duration(wait)})"
        return self._reading(self._cache, cached=True, retry_after=wait,
                             describe=lambda summary: summary + note)

    def _unavailable(self, reason: str) -> Reading:
        """PostHog failed: keep showing the last good series (flagged stale) if there is one."""
        if self._cache is None:
            raise TargetUnavailable(reason)
        return self._reading(
            self._cache, cached=True, status=Status.UNAVAILABLE, failure=Failure.TARGET,
            error=reason,
            describe=lambda summary: f"{reason} · last answer, from the cache: {summary}")
