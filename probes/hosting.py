"""The hosting API client (Vercel's shape): the live deployment, the previous one, rollback.

Thin I/O over `hosting_parse`. Every way a request can go wrong (refused, timed out, 401,
403, 404, 429, 5xx, a redirect, HTML, a body too large) becomes one `HostingError` line that
never carries the token; redirects are never followed, so the token never leaves the
configured origin. httpx is imported on first use (prepare() does it off the loop).
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ppcockpit.config_model import HostingEnvironment
from ppcockpit.model import ProbeMisconfigured, TargetUnavailable
from ppcockpit.secrets import Redactor, redact_url
from ppcockpit.text import one_line
from probes.causes import exception_chain
from probes.hosting_parse import (
    HostingAnswerError,
    LiveDeployments,
    Parsed,
    is_deployment_uid,
    live_deployments,
    parse_deployments,
    parse_error,
    parse_project_target,
    retry_after,
    server_time,
)
from probes.http_client import KeptClient, read_limited

if TYPE_CHECKING:
    import httpx

MAX_BODY_BYTES = 4 * 1024 * 1024  # a project answer is tens of KB; never read more
LIST_LIMIT = 20
MAX_DESCRIPTION = 200
POLL_INTERVAL = 1.0
_REQUEST_ID_HEADERS = ("x-vercel-id", "x-request-id")
# An answer's id or URL holding the token's first 8 characters, or any 16 of them in a row,
# echoes the token (a readable token shares shorter pieces with ordinary words).
_ECHO_START, _ECHO_PIECE = 8, 16
_PRINTABLE_TOKEN = frozenset(chr(c) for c in range(0x21, 0x7F))


class HostingError(TargetUnavailable):
    """The hosting API could not be asked, or answered badly. One line, no secret.

    `status` is the HTTP status when there was an answer; `code` Vercel's error code when it
    gave one; `maybe_done` is true when a change request was sent but its answer was lost
    (a rollback may have happened: look before trying again).
    """

    def __init__(self, reason: str, *, status: int | None = None, code: str | None = None,
                 request_id: str | None = None, retry_after: float | None = None,
                 maybe_done: bool = False) -> None:
        super().__init__(reason, request_id=request_id, retry_after=retry_after)
        self.status = status
        self.code = code
        self.maybe_done = maybe_done


@dataclass(frozen=True, slots=True)
class RollbackAccepted:
    """Vercel took the rollback (201); the deployment may take a moment to be live."""

    project_id: str
    deployment_uid: str
    status: int
    request_id: str | None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    request_id: str | None


class HostingClient:
    """One hosting project (Vercel API) for one target (production, staging, ...)."""

    def __init__(self, hosting: HostingEnvironment, *, timeout: float = 10.0,
                 now: Callable[[], float] = time.time) -> None:
        self.project_id = hosting.project_id
        self.deployment_target = hosting.target
        self.base_url = str(hosting.api_url).rstrip("/")
        self._token = hosting.token or ""
        # A server that echoes the token (in an error, as an id) never gets it shown.
        self.redact = Redactor([self._token] if self._token else [])
        self._team_id = hosting.team_id
        self._timeout = timeout
        self._now = now
        self._http = KeptClient(base_url=self.base_url, timeout=timeout,
                                follow_redirects=False)
        self._server_clock: tuple[float, float] | None = None  # (Date said, monotonic then)

    @property
    def target(self) -> str:
        """What is watched, fit to show: the project, the API host, the target."""
        host = urlsplit(self.base_url).netloc or self.base_url
        return (f"Vercel project {one_line(self.project_id, 60)} "
                f"({one_line(redact_url('https://' + host), 80).removeprefix('https://')})"
                f" · {one_line(self.deployment_target, 40)}")

    async def prepare(self) -> None:
        """httpx's imports and the TLS context, off the loop, before the first request."""
        await self._http.prepare()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- reading -------------------------------------------------------------------------

    async def current_and_previous(self, deadline: float | None = None) -> LiveDeployments:
        """The deployment serving the target and the one a rollback would return to.

        Asks the project (its `targets.<target>`) and the READY deployments of the target
        at once, both done by `deadline` (a time.monotonic() instant; default: the client's
        timeout from now). When the project cannot say, the newest READY deployment stands
        in and `source` is "newest". Raises HostingError when the list cannot be read.
        """
        deadline = self._deadline(deadline)
        project_task = asyncio.ensure_future(self._project(deadline))
        try:
            listed = await self._deployments(deadline)
        except BaseException:
            project_task.cancel()
            await asyncio.gather(project_task, return_exceptions=True)
            raise
        project_problem = None
        try:
            project: Parsed | None = self._without_echoes(await project_task)
        except HostingError as exc:
            project, project_problem = None, exc.reason
        live = live_deployments(self._without_echoes(listed), project, self.deployment_target,
                                project_problem)
        return replace(live, problems=tuple(self.redact(p) for p in live.problems))

    async def wait_until_live(self, uid: str, within: float, *,
                              interval: float = POLL_INTERVAL) -> LiveDeployments:
        """Poll the project until `uid` serves the target; return what was seen then.

        Bounded by `within` seconds in all. A failed poll (5xx, a timeout, a rate limit)
        is retried until then; a rejected token or an unknown project ends the wait at once.
        Raises HostingError("... not live within ...") when the time runs out.
        """
        deadline = time.monotonic() + within
        last = "no answer yet"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HostingError(f"deployment {one_line(uid, 40)} not live within {within:g}s "
                                   f"({last})")
            wait = interval
            try:
                live = await self.current_and_previous(
                    time.monotonic() + min(left, self._timeout))
            except HostingError as exc:
                if exc.status in (401, 403, 404):
                    raise
                last = exc.reason
                wait = max(interval, exc.retry_after or 0.0)
            else:
                if live.source == "project" and live.current and live.current.uid == uid:
                    return live
                shown = live.current.uid if live.current else "none"
                last = f"live: {shown}" + ("" if live.source == "project" else " (guessed)")
            await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))

    def _echoes(self, text: str | None) -> bool:
        """Whether `text` holds the token's start or a long piece of it: an id or URL that
        does is never shown, not even shortened to 8 characters."""
        token = self._token
        if not text or len(token) < _ECHO_START:
            return False
        return token[:_ECHO_START] in text or any(
            token[i:i + _ECHO_PIECE] in text for i in range(len(token) - _ECHO_PIECE + 1))

    def _without_echoes(self, parsed: Parsed) -> Parsed:
        kept = tuple(d for d in parsed.deployments
                     if not any(self._echoes(v) for v in (d.uid, d.url, d.sha)))
        if len(kept) == len(parsed.deployments):
            return parsed
        return Parsed(kept, ("a deployment's id, URL or SHA holds a piece of the API token "
                             "(ignored)", *parsed.problems))

    # --- changing ------------------------------------------------------------------------

    async def rollback(self, project_id: str, deployment_uid: str, description: str,
                       ) -> RollbackAccepted:
        """POST /v1/projects/{project_id}/rollback/{deployment_uid}?description=...

        201 → RollbackAccepted. Anything else → HostingError saying what Vercel answered
        (`code` "conflict" when the deployment already serves the target). A request that was
        sent but not answered raises HostingError with `maybe_done` true.
        """
        if not project_id:
            raise HostingError("no project id to roll back")
        if not is_deployment_uid(deployment_uid):
            raise HostingError("not a deployment id: "
                               f"{one_line(deployment_uid, 40)!r}")
        path = (f"/v1/projects/{quote(project_id, safe='')}/rollback/"
                f"{quote(deployment_uid, safe='')}")
        params = {"description": one_line(description, MAX_DESCRIPTION)}
        answer = await self._request("POST", path, params, self._deadline(None), change=True)
        if answer.status == 201:
            return RollbackAccepted(project_id, deployment_uid, answer.status,
                                    answer.request_id)
        self._raise_for_status(answer, f"the rollback to {deployment_uid}")
        raise HostingError(
            f"Vercel answered the rollback to {deployment_uid} with {answer.status}, "
            "not 201: the rollback may not have happened", status=answer.status,
            request_id=answer.request_id)

    # --- requests ------------------------------------------------------------------------

    def _deadline(self, deadline: float | None) -> float:
        return time.monotonic() + self._timeout if deadline is None else deadline

    async def _deployments(self, deadline: float) -> Parsed:
        params = {"projectId": self.project_id, "target": self.deployment_target,
                  "state": "READY", "limit": str(LIST_LIMIT)}
        answer = await self._request("GET", "/v6/deployments", params, deadline)
        data = self._json(answer, "the deployments list")
        try:
            return parse_deployments(data, self._reference_now(answer))
        except HostingAnswerError as exc:
            raise HostingError(f"Vercel API answered badly: {exc}",
                               request_id=answer.request_id) from None

    async def _project(self, deadline: float) -> Parsed:
        path = f"/v9/projects/{quote(self.project_id, safe='')}"
        answer = await self._request("GET", path, {}, deadline)
        data = self._json(answer, "the project")
        try:
            return parse_project_target(data, self.deployment_target,
                                        self._reference_now(answer))
        except HostingAnswerError as exc:
            raise HostingError(f"Vercel API answered badly: {exc}",
                               request_id=answer.request_id) from None

    def _reference_now(self, answer: _Answer) -> float:
        """The server's clock (its Date header) when it gives one, else ours: deployment
        times are the server's, and a rehearsal stand-in may run on accelerated time."""
        said = server_time(answer.headers.get("date"))
        if said is None:
            return self._now()
        self._server_clock = (said, time.monotonic())
        return said

    def server_now(self) -> float:
        """Now by the server's clock, as its last Date header said (ours before any):
        what a deployment's age is measured against."""
        if self._server_clock is None:
            return self._now()
        said, seen = self._server_clock
        return said + (time.monotonic() - seen)

    async def _request(self, method: str, path: str, params: dict[str, str],
                       deadline: float, *, change: bool = False) -> _Answer:
        if not self.project_id:
            raise ProbeMisconfigured("[environments.*.hosting] project_id is empty")
        if not self._token:
            raise ProbeMisconfigured("[environments.*.hosting] has no token")
        if not set(self._token) <= _PRINTABLE_TOKEN:
            raise ProbeMisconfigured("the hosting token holds characters an HTTP header "
                                     "cannot carry (spaces, line breaks, non-ASCII)")
        if self._team_id:
            params = {**params, "teamId": self._team_id}
        import httpx

        client = await self._http.get()
        budget = max(0.05, deadline - time.monotonic())
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "User-Agent": "ppcockpit-deployments"}
        try:
            async with asyncio.timeout(budget):
                async with client.stream(method, path, params=params, headers=headers,
                                         timeout=budget) as response:
                    body = await read_limited(response, MAX_BODY_BYTES)
        except TimeoutError:
            raise HostingError(f"Vercel API: no answer within {budget:.3g}s",
                               maybe_done=change) from None
        except httpx.TransportError as exc:
            sent = change and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            reason = self._transport_reason(exc, budget)
            raise HostingError(f"Vercel API: {reason}", maybe_done=sent) from None
        except httpx.InvalidURL:
            raise ProbeMisconfigured("the hosting api_url or project_id does not make a "
                                     "valid URL") from None
        answer = _Answer(response.status_code,
                         {k.lower(): v for k, v in response.headers.items()},
                         b"" if body is None else body, _request_id(response.headers))
        if body is None:
            raise HostingError(f"Vercel API answer is larger than {MAX_BODY_BYTES} bytes",
                               status=answer.status, request_id=answer.request_id)
        if not change:
            self._raise_for_status(answer, "the request")
        return answer

    def _json(self, answer: _Answer, what: str) -> Any:
        try:
            return json.loads(answer.body)
        except (ValueError, UnicodeDecodeError):
            kind = _content_type(answer.headers)
            raise HostingError(f"Vercel API answered badly: {what} is not JSON ({kind})",
                               status=answer.status, request_id=answer.request_id) from None
        except RecursionError:
            raise HostingError(f"Vercel API answered badly: {what} is JSON nested too deeply",
                               status=answer.status, request_id=answer.request_id) from None

    def _raise_for_status(self, answer: _Answer, what: str) -> None:
        status = answer.status
        if 200 <= status < 300:
            return
        rid = answer.request_id
        error = _error(answer.body)
        said = self._said(error)
        if 300 <= status < 400:
            where = _location_host(answer.headers.get("location", ""))
            raise HostingError(f"Vercel API redirected {what} (HTTP {status}{where}); "
                               "not followed: the token stays with the configured API",
                               status=status, request_id=rid)
        if status == 401:
            raise HostingError(f"Vercel token rejected (401){said}", status=status,
                               code=error.code if error else None, request_id=rid)
        if status == 403:
            raise HostingError(f"Vercel token rejected: it may not reach project "
                               f"{one_line(self.project_id, 60)} (403){said}",
                               status=status, code=error.code if error else None,
                               request_id=rid)
        if status == 404 and what == "the request":
            raise HostingError(f"Vercel project {one_line(self.project_id, 60)} not found "
                               f"(404){said}", status=status,
                               code=error.code if error else None, request_id=rid)
        if status == 429:
            wait = retry_after(answer.headers, error, self._now())
            hint = f"; retry in {wait:.0f}s" if wait else ""
            raise HostingError(f"Vercel API rate limit reached{hint}", status=status,
                               code="rate_limited", request_id=rid, retry_after=wait)
        kind = "" if error is not None or status < 500 else _not_json_note(answer)
        raise HostingError(f"Vercel API answered {what} with {status}{said}{kind}",
                           status=status, code=error.code if error else None,
                           request_id=rid)

    def _said(self, error: Any) -> str:
        """`: <code>: <message>` from an error body, never echoing the token."""
        if error is None:
            return ""
        text = self.redact(": ".join(part for part in (error.code, error.message) if part))
        return f": {text}" if text else ""

    def _transport_reason(self, exc: httpx.TransportError, timeout: float) -> str:
        import httpx

        where = _host_port(self.base_url)
        if isinstance(exc, httpx.ConnectTimeout):
            return f"no connection to {where} within {timeout:.3g}s"
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer within {timeout:.3g}s"
        for cause in _causes(exc):
            if isinstance(cause, ssl.SSLCertVerificationError):
                return "TLS error: certificate verify failed"
            if isinstance(cause, ssl.SSLError):
                return "TLS error"
            if isinstance(cause, socket.gaierror):
                return f"host name not found ({where})"
            if isinstance(cause, ConnectionRefusedError) or getattr(
                    cause, "errno", None) == errno.ECONNREFUSED:
                return f"connection refused by {where}"
            if isinstance(cause, ConnectionResetError):
                return f"connection reset by {where}"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"{where} broke the HTTP exchange"
        return f"cannot reach {where} ({type(exc).__name__})"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception chain, looking inside exception groups (several connect attempts)."""
    for cause in exception_chain(exc, limit=10):
        yield cause
        if isinstance(cause, BaseExceptionGroup):
            for inner in cause.exceptions[:10]:
                yield from exception_chain(inner, limit=5)


def _request_id(headers: httpx.Headers) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return one_line(value, 80) or None
    return None


def _error(body: bytes) -> Any:
    try:
        return parse_error(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _content_type(headers: dict[str, str]) -> str:
    value = headers.get("content-type", "")
    return one_line(value.split(";")[0], 40) or "no content type"


def _not_json_note(answer: _Answer) -> str:
    return f" ({_content_type(answer.headers)}, not JSON)"


def _location_host(location: str) -> str:
    if not location:
        return ""
    try:
        host = urlsplit(location).netloc
    except ValueError:
        return ""
    return f" to {one_line(host.rsplit('@', 1)[-1], 80)}" if host else ""


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
