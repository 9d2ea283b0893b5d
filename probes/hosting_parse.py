"""Vercel's JSON answers as plain data: deployments, the one serving a target, errors.

Pure: no I/O, no clock (`now` is given). Tolerant of fields it does not know, strict about
the types of those it reads: an entry that cannot be trusted is left out and said so in
`problems` (one line each, bounded), a top-level shape that is wrong raises
`HostingAnswerError`. Nothing here ever raises anything else on outside data.
"""

from __future__ import annotations

import email.utils
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ppcockpit.text import one_line
from probes.body import json_kind

READY = "READY"
MAX_CLOCK_SKEW = 300.0  # seconds a `created` may run ahead of the server's clock
MAX_ENTRIES = 100  # entries of one list that are read; the request asks for 20
MAX_PROBLEMS = 5
MAX_RETRY_AFTER = 3600.0
MIN_EPOCH = 946_684_800.0  # 2000-01-01: anything earlier is not a deployment time
MAX_EPOCH = 32_503_680_000.0  # year 3000
_UID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_STATE = re.compile(r"[A-Z_]{1,24}")
_TARGET = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
_SHA_KEYS = ("githubCommitSha", "gitlabCommitSha", "bitbucketCommitSha")


class HostingAnswerError(ValueError):
    """The answer's shape is not the documented one; the message is one safe line."""


@dataclass(frozen=True, slots=True)
class Deployment:
    uid: str
    url: str | None  # https://<host>, as Vercel's `url` names the host
    sha: str | None  # the git commit (meta.githubCommitSha), when the deployment has one
    state: str  # READY, BUILDING, ERROR, ...
    created: float  # unix seconds
    target: str | None  # production, staging, ...; None for a preview
    is_rollback_candidate: bool | None  # Vercel's word on it, when given

    @property
    def short_uid(self) -> str:
        return self.uid[:8]

    @property
    def short_sha(self) -> str | None:
        return self.sha[:7] if self.sha else None


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one answer held that can be trusted, and what was left out and why."""

    deployments: tuple[Deployment, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveDeployments:
    """The deployment serving the target now and the one a rollback would return to."""

    current: Deployment | None
    previous: Deployment | None
    # "project": the project's own `targets.<target>`; "newest": the newest READY deployment
    # of the target, a guess made when the project endpoint could not say (after a rollback
    # the newest is not the live one).
    source: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VercelError:
    code: str
    message: str
    reset: float | None = None  # unix seconds when a rate limit lifts (error.limit.reset)


@dataclass
class _Problems:
    items: list[str] = field(default_factory=list)
    dropped: int = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(one_line(text, 160))
        else:
            self.dropped += 1

    def done(self) -> tuple[str, ...]:
        more = [f"{self.dropped} more problems"] if self.dropped else []
        return (*self.items, *more)


# --- single values ----------------------------------------------------------------------

def _epoch_seconds(value: object) -> float | None:
    """Unix seconds from Vercel's milliseconds (seconds are accepted too); None if unusable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    if number > MAX_EPOCH:
        number /= 1000.0
    return number if MIN_EPOCH <= number <= MAX_EPOCH else None


def _first(entry: dict[str, Any], *keys: str) -> object:
    for key in keys:
        if entry.get(key) is not None:
            return entry[key]
    return None


def _url(value: object) -> str | None:
    """https://<host> from Vercel's `url` (a bare host); None when it is not one."""
    if not isinstance(value, str):
        return None
    host = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    return f"https://{host.lower()}" if _HOST.fullmatch(host) else None


def _sha(meta: object) -> str | None:
    if not isinstance(meta, dict):
        return None
    for key in _SHA_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and _SHA.fullmatch(value):
            return value.lower()
    return None


def is_deployment_uid(value: object) -> bool:
    """A deployment id that is safe in a URL path: letters, digits, `_` and `-`."""
    return isinstance(value, str) and _UID.fullmatch(value) is not None


def parse_deployment(entry: object, now: float, problems: _Problems | None = None,
                     ) -> Deployment | None:
    """One deployment object (list entry or `targets.<name>`), or None with a problem said.

    Both spellings are read: `uid`/`created`/`state` (deployment list) and
    `id`/`createdAt`/`readyState` (the project's targets).
    """
    problems = problems if problems is not None else _Problems()
    if not isinstance(entry, dict):
        problems.add(f"a deployment entry is {_kind(entry)}, not an object (ignored)")
        return None
    uid = _first(entry, "uid", "id")
    if not is_deployment_uid(uid):
        problems.add(f"a deployment's id is {_describe(uid)} (ignored)")
        return None
    assert isinstance(uid, str)
    state = _first(entry, "state", "readyState")
    if not isinstance(state, str) or not _STATE.fullmatch(state.upper()):
        problems.add(f"deployment {uid}: state is {_describe(state)} (ignored)")
        return None
    created = _epoch_seconds(_first(entry, "created", "createdAt"))
    if created is None:
        problems.add(f"deployment {uid}: no usable creation time (ignored)")
        return None
    if created > now + MAX_CLOCK_SKEW:
        problems.add(f"deployment {uid}: created {age_text(created - now)} in the future "
                     "(ignored)")
        return None
    target = entry.get("target")
    if target is not None and not (isinstance(target, str) and _TARGET.fullmatch(target)):
        problems.add(f"deployment {uid}: target is {_describe(target)} (ignored)")
        return None
    candidate = entry.get("isRollbackCandidate")
    return Deployment(
        uid=uid,
        url=_url(entry.get("url")),
        sha=_sha(entry.get("meta")),
        state=state.upper(),
        created=created,
        target=target,
        is_rollback_candidate=candidate if isinstance(candidate, bool) else None,
    )


# --- whole answers ----------------------------------------------------------------------

def parse_deployments(data: object, now: float) -> Parsed:
    """`GET /v6/deployments` → its deployments, newest first. HostingAnswerError when the
    answer is not `{"deployments": [...]}`."""
    if not isinstance(data, dict):
        raise HostingAnswerError(f"the deployments answer is {_kind(data)}, not an object")
    entries = data.get("deployments")
    if not isinstance(entries, list):
        raise HostingAnswerError(
            f"the deployments answer's `deployments` is {_kind(entries)}, not a list")
    problems = _Problems()
    if len(entries) > MAX_ENTRIES:
        problems.add(f"{len(entries)} deployments listed; the first {MAX_ENTRIES} were read")
    found: dict[str, Deployment] = {}
    for entry in entries[:MAX_ENTRIES]:
        deployment = parse_deployment(entry, now, problems)
        if deployment is None:
            continue
        if deployment.uid in found and found[deployment.uid] != deployment:
            problems.add(f"deployment {deployment.uid} is listed twice, differently "
                         "(the first kept)")
            continue
        found.setdefault(deployment.uid, deployment)
    ordered = sorted(found.values(), key=lambda d: d.created, reverse=True)
    return Parsed(tuple(ordered), problems.done())


def parse_project_target(data: object, target: str, now: float) -> Parsed:
    """`GET /v9/projects/{id}` → the deployment in `targets.<target>` (none when the project
    has none). HostingAnswerError when the answer is not an object."""
    if not isinstance(data, dict):
        raise HostingAnswerError(f"the project answer is {_kind(data)}, not an object")
    targets = data.get("targets")
    if targets is None:
        return Parsed()
    if not isinstance(targets, dict):
        raise HostingAnswerError(f"the project's `targets` is {_kind(targets)}, not an object")
    entry = targets.get(target)
    if entry is None:
        return Parsed()
    problems = _Problems()
    deployment = parse_deployment(entry, now, problems)
    if deployment is not None and deployment.target not in (None, target):
        problems.add(f"the project's {target} deployment says its target is "
                     f"{deployment.target} (ignored)")
        deployment = None
    return Parsed((deployment,) if deployment else (), problems.done())


def of_target(deployment: Deployment, target: str) -> bool:
    """Whether a deployment belongs to `target` (Vercel leaves a preview's target null)."""
    return deployment.target == target or (target == "preview" and deployment.target is None)


def live_deployments(listed: Parsed, project: Parsed | None, target: str,
                     project_problem: str | None = None) -> LiveDeployments:
    """The current deployment (the project's `targets.<target>` when the project endpoint
    named one, else the newest READY one of the target) and the previous one: the newest
    READY deployment of the target created before the current one that Vercel does not
    call unfit for a rollback."""
    problems: list[str] = []  # what matters most first: where "live" came from
    ready = [d for d in listed.deployments if d.state == READY and of_target(d, target)]
    if project is not None and project.deployments:
        current: Deployment | None = project.deployments[0]
        source = "project"
    else:
        if project_problem:
            problems.append(f"project endpoint: {project_problem}")
        elif project is not None:
            problems.append(f"the project names no {target} deployment")
        current = ready[0] if ready else None
        source = "newest"
    problems += [*(project.problems if project else ()), *listed.problems]
    previous = None
    if current is not None:
        previous = next((d for d in ready if d.created < current.created
                         and d.uid != current.uid and d.is_rollback_candidate is not False),
                        None)
    shown = tuple(one_line(p, 160) for p in problems[:MAX_PROBLEMS + 1])
    return LiveDeployments(current, previous, source, shown)


def parse_error(data: object) -> VercelError | None:
    """`{"error": {"code", "message", "limit": {"reset"}}}`, or None when it is not one."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    message = error.get("message")
    limit = error.get("limit")
    reset = _epoch_seconds(limit.get("reset")) if isinstance(limit, dict) else None
    return VercelError(
        code=one_line(code, 40) if isinstance(code, str) else "",
        message=one_line(message, 160) if isinstance(message, str) else "",
        reset=reset,
    )


def retry_after(headers: dict[str, str], error: VercelError | None, now: float,
                ) -> float | None:
    """Seconds to wait before asking again: X-RateLimit-Reset (unix seconds, or a delay),
    Retry-After (seconds or an HTTP date), else the error body's `limit.reset`; bounded to
    [1 s, 1 h]. None when nothing usable was said."""
    for name in ("x-ratelimit-reset", "retry-after"):
        raw = headers.get(name)
        if raw is None:
            continue
        wait = _header_wait(raw.strip(), now)
        if wait is not None:
            return wait
    if error is not None and error.reset is not None:
        return _bounded(error.reset - now)
    return None


def _header_wait(raw: str, now: float) -> float | None:
    if len(raw) > 64:
        return None
    try:
        value = float(raw)
    except ValueError:
        when = server_time(raw)
        return _bounded(when - now) if when is not None else None
    if not math.isfinite(value) or value < 0:
        return None
    if value > 1_000_000_000:  # a unix time, not a delay
        value -= now
    return _bounded(value)


def _bounded(seconds: float) -> float:
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


def server_time(date_header: str | None) -> float | None:
    """Unix seconds of an HTTP `Date` header, or None when it is absent or unreadable."""
    if not date_header or len(date_header) > 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    try:
        seconds = when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return seconds if MIN_EPOCH <= seconds <= MAX_EPOCH else None


# --- words -------------------------------------------------------------------------------

def age_text(seconds: float) -> str:
    """An age as an operator reads a deploy's: 45s, 12m, 2h, 30h (a soak counts in hours),
    then days."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 72 * 3600:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86400:.0f}d"


def _kind(value: object) -> str:
    """A field the answer does not hold reads as missing (`.get()` gives None for both)."""
    return "missing" if value is None else json_kind(value)


def _describe(value: object) -> str:
    """What a bad value is, without repeating more than a few safe characters of it."""
    if isinstance(value, str):
        shown = one_line(value, 24)
        return repr(shown) if shown else "an empty string"
    return _kind(value)
