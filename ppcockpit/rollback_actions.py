"""What each kind of rollback action does, says it would do (a dry run), and shows as its
target in the plan. The engine (ppcockpit.rollback) journals and orders them; each
function here is one action's own work, and reports its output line by line.

A dry run changes nothing anywhere: it says the request, the command line, the pattern
and how many keys it matches (counting is read-only), the message it would post.

`${VAR}`s in an action's settings (the webhook `url`, an ssh `host`, ...) are resolved
here, when the action is shown or run, from the config's variables: a value that is a
secret joins the redactor before it is used, and a variable that is not set refuses that
action only, with a message naming the variable. A `run` line is the shell's: its
`${VAR}`s are expanded by the shell from the same variables.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ppcockpit.durations import format_duration
from ppcockpit.rollback_plan import ActionKind, RollbackAction, RollbackPlan
from ppcockpit.rollback_progress import RollbackRecord
from ppcockpit.secrets import Redactor, looks_secret, redact_url, url_password
from ppcockpit.text import one_line, strip_controls

if TYPE_CHECKING:
    from ppcockpit.config_model import PosthogEnvironment
    from ppcockpit.telemetry import CockpitTelemetry
    from probes.hosting import HostingClient

ROLLBACK_EVENT = "cockpit_rollback"
NOTIFY_TIMEOUT = 30.0  # a webhook gets at most this long, whatever the action's timeout
ANNOTATION_TIMEOUT = 10.0
PROGRESS_EVERY_S = 0.5  # a flush reports its progress at most this often
MAX_LINE = 1000
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Settings whose ${VAR} value is not a credential (unless the variable's name says it is).
_PLAIN = frozenset({"host", "user", "port", "cwd", "pattern", "key_file", "known_hosts"})


class ActionRefused(Exception):
    """The action cannot run as configured (or without a confirmation); the message is one
    safe line saying why and what to do."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    summary: str  # one line: what happened, or why it failed


@dataclass
class ActionContext:
    """Everything an action may use. `line` reports one line of output (the engine cleans
    and redacts it again before anyone sees it)."""

    plan: RollbackPlan
    record: RollbackRecord
    environment: str
    operator: str
    variables: Mapping[str, str]
    base_dir: Path
    redactor: Redactor
    line: Callable[[str], None]
    hosting: HostingClient | None = None
    redis_url: str | None = None
    posthog: PosthogEnvironment | None = None
    telemetry: CockpitTelemetry | None = None
    placeholders: Mapping[str, str] = field(default_factory=dict)
    links: Sequence[tuple[str, str]] = ()
    done: Sequence[str] = ()  # the actions before this one and how they went
    confirmed: bool = False  # the second typed confirmation was given


# --- ${VAR}s -------------------------------------------------------------------------------

def resolve(value: str | None, setting: str, variables: Mapping[str, str],
            redactor: Redactor, *, secret: bool = False) -> str | None:
    """`value` with its ${VAR}s filled in; ActionRefused naming the first one that is not
    set. A value that is a secret joins `redactor` before it is returned."""
    if value is None or "${" not in value:
        if value is not None and secret:
            redactor.add([value])
        return value
    missing: list[str] = []
    used: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            missing.append(name)
            return match.group(0)
        used.append(name)
        return variables[name]

    filled = _VAR.sub(fill, value)
    if missing:
        raise ActionRefused(f"${{{missing[0]}}} (used by `{setting}`) is not set: set it in "
                            "the environment or the --env-file")
    if secret or setting not in _PLAIN or any(looks_secret(name) for name in used):
        redactor.add([filled])
    elif password := url_password(filled):
        redactor.add([password])
    return filled


def variables_missing(action: RollbackAction, variables: Mapping[str, str]) -> list[str]:
    """The ${VAR}s an action's settings name that are not set (its `run` is the shell's)."""
    names: list[str] = []
    for value in (action.url, action.host, action.user, action.key_file, action.known_hosts,
                  action.pattern, action.cwd):
        for name in _VAR.findall(value or ""):
            if name not in variables and name not in names:
                names.append(name)
    return names


# --- the plan as shown ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PlanFacts:
    """What is known about the targets when the plan is shown."""

    environment: str
    target: Mapping[str, Any] | None = None  # {uid, url, sha, created}
    current: Mapping[str, Any] | None = None
    hosting_problem: str | None = None  # why no target is known
    now: float = 0.0  # for the target's age (the hosting API's clock)
    hosting_target: str = ""  # the hosting client's own words for what it watches
    deployment_target: str = "production"
    key_counts: Mapping[str, str] = field(default_factory=dict)  # action id -> "8 keys"
    redis_problem: str | None = None
    redis_shown: str | None = None
    has_posthog_key: bool = False
    has_capture_key: bool = False


def describe(action: RollbackAction, facts: PlanFacts, plan: RollbackPlan,
             variables: Mapping[str, str], redactor: Redactor) -> tuple[str, str | None]:
    """One line naming the action's target, and why it cannot run (None when it can)."""
    missing = variables_missing(action, variables)
    kind = action.kind
    if kind is ActionKind.HOSTING:
        return _describe_hosting(facts)
    if kind in (ActionKind.COMMAND, ActionKind.MIGRATION_DOWN):
        where = f" (in {action.cwd})" if action.cwd else ""
        second = " · asks a second confirmation" if kind is ActionKind.MIGRATION_DOWN else ""
        return (f"$ {one_line(action.run, 160)}{where} · up to "
                f"{format_duration(action.timeout)}{second}", _unset(missing))
    if kind is ActionKind.SSH:
        try:
            target = _ssh_target(action, variables, redactor)
            where = f"ssh {target.address}"
        except ActionRefused:
            where = f"ssh {action.user + '@' if action.user else ''}{action.host}:{action.port}"
        return f"{where}: {one_line(action.run, 140)}", _unset(missing)
    if kind is ActionKind.REDIS_FLUSH:
        return _describe_redis(action, facts, plan, missing)
    if kind is ActionKind.NOTIFY:
        if missing:
            return "POST to a Slack-compatible webhook", _unset(missing)
        from ppcockpit.rollback_notify import check_webhook_url, webhook_host

        url = resolve(action.url, "url", variables, redactor, secret=True) or ""
        return f"POST to the webhook at {webhook_host(url)}", check_webhook_url(url)
    return _describe_posthog(facts)


def _unset(missing: list[str]) -> str | None:
    if not missing:
        return None
    names = ", ".join(f"${{{name}}}" for name in missing)
    return f"{names} {'is' if len(missing) == 1 else 'are'} not set"


def deployment_text(deployment: Mapping[str, Any] | None, now: float = 0.0) -> str:
    """`dpl_abc12345 · 3f2a1b7 · https://… · deployed 1d ago`, from a {uid, url, sha,
    created} table."""
    if not deployment:
        return ""
    from probes.hosting_parse import age_text

    parts = [one_line(deployment.get("uid") or "?", 40)[:12]]
    sha = deployment.get("sha")
    parts.append(one_line(sha, 40)[:7] if isinstance(sha, str) and sha else "no SHA")
    url = deployment.get("url")
    if isinstance(url, str) and url:
        parts.append(redact_url(one_line(url, 200)))
    created = deployment.get("created")
    if now and isinstance(created, int | float) and math.isfinite(created):
        parts.append(f"deployed {age_text(now - created)} ago")
    return " · ".join(parts)


def _describe_hosting(facts: PlanFacts) -> tuple[str, str | None]:
    where = facts.hosting_target or "no hosting API configured"
    if facts.target:
        return (f"{where} → {deployment_text(facts.target, facts.now)}", None)
    why = facts.hosting_problem or "not resolved yet"
    return f"{where} → no previous READY {facts.deployment_target} deployment known", why


def _describe_redis(action: RollbackAction, facts: PlanFacts, plan: RollbackPlan,
                    missing: list[str]) -> tuple[str, str | None]:
    where = facts.redis_shown or "no redis_url"
    counted = facts.key_counts.get(action.id)
    if action.flushall:
        said = f"redis {where}: FLUSHALL (every key"
        said += f": {counted})" if counted else ")"
        return said + " · asks a second confirmation", \
            None if facts.redis_shown else "no redis_url in this environment"
    said = f"redis: SCAN MATCH {one_line(action.pattern, 80)}"
    said += f" → {counted}" if counted else f" COUNT {action.batch}, then UNLINK"
    why = _unset(missing) or (None if facts.redis_shown else "no redis_url in this environment")
    if facts.redis_problem and not counted:
        said += f" (not counted: {facts.redis_problem})"
    return said, why


def _describe_posthog(facts: PlanFacts) -> tuple[str, str | None]:
    parts = []
    if facts.has_capture_key:
        parts.append(f"capture {ROLLBACK_EVENT}")
    if facts.has_posthog_key:
        parts.append("annotate the rollback time")
    if not parts:
        return "PostHog", "no [environments.*.posthog] api_key or capture_key"
    why = None if facts.has_posthog_key else "no PostHog api_key: no annotation"
    return "PostHog: " + " and ".join(parts), why


# --- running -------------------------------------------------------------------------------

def needs_second_confirmation(action: RollbackAction) -> str | None:
    """The word the operator must type before this action runs (None: no second one)."""
    if action.kind is ActionKind.MIGRATION_DOWN:
        return action.id
    if action.kind is ActionKind.REDIS_FLUSH and action.flushall:
        return "FLUSHALL"
    return None


async def perform(action: RollbackAction, ctx: ActionContext, *,
                  dry_run: bool) -> ActionResult:
    """Run the action (or, with `dry_run`, say what it would do). ActionRefused when it
    cannot run as configured; any other failure comes back as a result or an exception
    for the engine to word."""
    word = needs_second_confirmation(action)
    if word is not None and not dry_run and not ctx.confirmed:
        raise ActionRefused(f"“{action.title}” needs its own confirmation first: type "
                            f"{word} to run it")
    runner = _RUNNERS[action.kind]
    return await runner(action, ctx, dry_run)


async def _hosting(action: RollbackAction, ctx: ActionContext, dry_run: bool) -> ActionResult:
    from probes.hosting import HostingError

    client = ctx.hosting
    if client is None:
        raise ActionRefused(f"no [environments.{ctx.environment}.hosting] in cockpit.toml: "
                            "there is no hosting API to roll back with")
    target = ctx.record.target or {}
    uid = target.get("uid")
    deployment_target = client.deployment_target
    if not isinstance(uid, str) or not uid:
        raise ActionRefused(f"no previous READY {deployment_target} deployment is known: "
                            "there is nothing to roll back to")
    shown = deployment_text(target)
    request = (f"POST {redact_url(client.base_url)}/v1/projects/{client.project_id}/rollback/"
               f"{uid}?description=… (Authorization: Bearer [token])")
    if dry_run:
        ctx.line(f"would send {request}")
        ctx.line(f"then wait until {uid} serves {deployment_target} (up to "
                 f"{format_duration(action.timeout)})")
        return ActionResult(True, f"would roll back to {shown}")
    # Look first: a rollback whose answer was lost (or a cockpit that stopped after sending
    # it) may have happened already; it is never asked for twice.
    try:
        live = await client.current_and_previous()
    except HostingError as exc:
        ctx.line(f"could not look at the live deployment first ({exc.reason}); asking for "
                 "the rollback")
    else:
        serving = live.current.uid if live.source == "project" and live.current else None
        if serving == uid:
            ctx.line(f"{uid} already serves {deployment_target}: no rollback request sent")
            return ActionResult(True, f"{shown} is live (it already was)")
        armed_from = (ctx.record.current or {}).get("uid")
        if serving and isinstance(armed_from, str) and serving != armed_from:
            # Someone deployed since the rollback was armed: never roll back over it blind.
            return ActionResult(False, f"{deployment_target} changed since the rollback was "
                                       f"armed: {serving} serves it now (it was "
                                       f"{armed_from}); abort, and look at the plan again")
    ctx.line(request.replace("?description=… (Authorization: Bearer [token])", ""))
    description = f"ppcockpit rollback of {ctx.environment} by {ctx.operator}"
    try:
        accepted = await client.rollback(client.project_id, uid, description)
    except HostingError as exc:
        if exc.status == 409:
            ctx.line(f"{exc.reason}: it serves {deployment_target} already")
        elif exc.maybe_done:
            return ActionResult(False, f"{exc.reason}: the rollback may have happened (Retry "
                                       "looks before asking again)")
        else:
            return ActionResult(False, exc.reason)
    else:
        rid = f" (request {accepted.request_id})" if accepted.request_id else ""
        ctx.line(f"→ {accepted.status} accepted{rid}")
    ctx.line(f"waiting until {uid} serves {deployment_target} (up to "
             f"{format_duration(action.timeout)})")
    try:
        await client.wait_until_live(uid, within=action.timeout)
    except HostingError as exc:
        return ActionResult(False, exc.reason)
    ctx.line(f"live: {shown}")
    return ActionResult(True, f"{shown} is live")


async def _command(action: RollbackAction, ctx: ActionContext, dry_run: bool) -> ActionResult:
    from ppcockpit.command_template import fill_placeholders
    from ppcockpit.step_command import StepCommandError, run_step_command

    assert action.run is not None
    cwd = _path(ctx.base_dir, resolve(action.cwd, "cwd", ctx.variables, ctx.redactor))
    try:
        filled = fill_placeholders(action.run, ctx.placeholders)
    except StepCommandError as exc:
        raise ActionRefused(str(exc)) from None
    if dry_run:
        ctx.line(f"would run: {filled}")
        ctx.line(f"in {cwd}, up to {format_duration(action.timeout)}, through /bin/sh")
        return ActionResult(True, f"would run: {one_line(filled, 120)}")
    ctx.line(f"$ {filled}")
    try:
        result = await run_step_command(
            action.run, cwd=cwd, env=ctx.variables, timeout=action.timeout,
            placeholders=ctx.placeholders, on_line=ctx.line, redact=ctx.redactor)
    except StepCommandError as exc:
        raise ActionRefused(str(exc)) from None
    return ActionResult(result.passed, result.summary)


def _ssh_target(action: RollbackAction, variables: Mapping[str, str],
                redactor: Redactor) -> Any:
    from probes.ssh import SshTarget

    host = resolve(action.host, "host", variables, redactor) or ""
    try:
        return SshTarget(host=host, port=action.port,
                         user=resolve(action.user, "user", variables, redactor),
                         key_file=resolve(action.key_file, "key_file", variables, redactor),
                         known_hosts=resolve(action.known_hosts, "known_hosts", variables,
                                             redactor) or "")
    except ValueError as exc:
        raise ActionRefused(f"ssh: {exc}") from None


async def _ssh(action: RollbackAction, ctx: ActionContext, dry_run: bool) -> ActionResult:
    from ppcockpit.command_template import fill_placeholders
    from ppcockpit.step_command import StepCommandError
    from probes.ssh import RemoteCommandExited, SshError, stream_remote

    assert action.run is not None
    target = _ssh_target(action, ctx.variables, ctx.redactor)
    try:
        command = fill_placeholders(action.run, ctx.placeholders)
    except StepCommandError as exc:
        raise ActionRefused(str(exc)) from None
    if dry_run:
        ctx.line(f"would run on ssh {target.address}: {command}")
        ctx.line(f"the host key verified against {target.known_hosts}, up to "
                 f"{format_duration(action.timeout)}")
        return ActionResult(True, f"would run on {target.address}: {one_line(command, 100)}")
    ctx.line(f"ssh {target.address}: {command}")
    began = time.monotonic()
    try:
        async with asyncio.timeout(action.timeout):
            async for batch in stream_remote(target, command):
                for raw in batch:
                    ctx.line(raw.decode("utf-8", "replace"))
                await asyncio.sleep(0)  # a flood of output leaves the screen time to draw
    except TimeoutError:
        return ActionResult(False, f"ssh {target.address}: did not finish within "
                                   f"{format_duration(action.timeout)}")
    except RemoteCommandExited as exc:
        took = format_duration(time.monotonic() - began)
        if exc.status == 0:
            return ActionResult(True, f"passed (exit 0) in {took} on {target.address}")
        return ActionResult(False, str(exc))
    except SshError as exc:
        return ActionResult(False, str(exc))
    return ActionResult(False, f"ssh {target.address}: the command's end was not seen")


async def _redis_flush(action: RollbackAction, ctx: ActionContext,
                       dry_run: bool) -> ActionResult:
    from ppcockpit.rollback_redis import RedisKeys

    if not ctx.redis_url:
        raise ActionRefused(f"no redis_url for {ctx.environment}: there is no Redis to flush")
    keys = RedisKeys(ctx.redis_url)
    if action.flushall:
        if not ctx.plan.allow_flushall:
            raise ActionRefused("FLUSHALL is not allowed by the plan (allow_flushall)")
        size = await keys.dbsize()
        ctx.line(f"DBSIZE on {keys.shown} → {size:,} keys")
        if dry_run:
            ctx.line("would send FLUSHALL ASYNC: every key of the database goes")
            return ActionResult(True, f"would FLUSHALL: {size:,} keys")
        before = await keys.flushall()
        return ActionResult(True, f"FLUSHALL ASYNC: {before:,} keys removed")
    pattern = resolve(action.pattern, "pattern", ctx.variables, ctx.redactor) or ""
    counted = await keys.count(pattern, action.batch)
    ctx.line(f"SCAN MATCH {pattern} COUNT {action.batch} → {counted.text()}")
    if dry_run:
        ctx.line(f"would UNLINK them in batches of {action.batch} (SCAN + UNLINK: only keys "
                 "the server says match)")
        return ActionResult(True, f"would remove {counted.text()} matching {pattern}")
    last = [0.0]

    def progress(removed: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            ctx.line(f"removed {removed:,} of {counted.text()}")

    result = await keys.unlink_matching(pattern, action.batch, progress)
    ctx.line(f"removed {result.removed:,}; {result.remaining.text()} match {pattern} now")
    left = "" if not result.remaining.keys else \
        f" ({result.remaining.text()} written meanwhile match it now)"
    return ActionResult(True, f"removed {result.removed:,} keys matching {pattern}{left}")


async def _notify(action: RollbackAction, ctx: ActionContext, dry_run: bool) -> ActionResult:
    from ppcockpit.rollback_notify import Notice, message, post, webhook_host

    url = resolve(action.url, "url", ctx.variables, ctx.redactor, secret=True) or ""
    host = webhook_host(url)
    text = message(Notice(
        environment=ctx.environment, operator=ctx.operator, trigger=ctx.record.trigger,
        target=deployment_text(ctx.record.target), current=deployment_text(ctx.record.current),
        done=ctx.done, links=ctx.links, dry_run=dry_run), ctx.redactor)
    if dry_run:
        ctx.line(f"would POST JSON {{\"text\": …}} to the webhook at {host}:")
        for line in text.splitlines():
            ctx.line(f"  {line}")
        return ActionResult(True, f"would post to the webhook at {host}")
    timeout = min(action.timeout, NOTIFY_TIMEOUT)
    ctx.line(f"POST to the webhook at {host}")
    answer = await post(url, text, timeout=timeout)
    return ActionResult(True, f"posted to the webhook at {host} ({ctx.redactor(answer)})")


async def _posthog(action: RollbackAction, ctx: ActionContext, dry_run: bool) -> ActionResult:
    from ppcockpit.telemetry import CockpitTelemetry, create_annotation

    posthog = ctx.posthog
    if posthog is None or not (posthog.api_key or posthog.capture_key):
        raise ActionRefused(f"no [environments.{ctx.environment}.posthog] api_key or "
                            "capture_key: nothing to tell PostHog with")
    record = ctx.record
    target = record.target or {}
    properties = ctx.redactor.data({
        "rollback": record.id, "environment": ctx.environment,
        "target_uid": target.get("uid"), "target_sha": target.get("sha"),
        "trigger": one_line(record.trigger, 300)})
    at = datetime.fromtimestamp(record.stack_at or time.time(), UTC)
    returns_to = deployment_text(target) or "the previous deployment"
    content = ctx.redactor(one_line(
        f"Rollback of {ctx.environment} to {returns_to} by {ctx.operator}", 300))
    where = f"{posthog.host}/api/projects/{posthog.project_id}/annotations/"
    if dry_run:
        if posthog.capture_key:
            ctx.line(f"would capture {ROLLBACK_EVENT} {properties}")
        ctx.line(f"would POST {where} {{content: {content!r}, date_marker: "
                 f"{at.isoformat(timespec='seconds')}}}" if posthog.api_key
                 else "no api_key: no annotation would be made")
        return ActionResult(bool(posthog.api_key), "would tell PostHog" if posthog.api_key
                            else "no PostHog api_key: no annotation")
    said = []
    if posthog.capture_key:
        telemetry = ctx.telemetry
        own = telemetry is None or not telemetry.enabled
        if own:
            telemetry = CockpitTelemetry(posthog.capture_key, posthog.host,
                                         environment=ctx.environment, operator=ctx.operator)
        assert telemetry is not None
        telemetry.capture(ROLLBACK_EVENT, properties)
        if own:
            await telemetry.aclose()  # sent now, within its own time limit
        ctx.line(f"captured {ROLLBACK_EVENT}")
        said.append(f"{ROLLBACK_EVENT} captured")
    if not posthog.api_key:
        return ActionResult(False, "; ".join([*said, "no PostHog api_key: no annotation"]))
    ctx.line(f"POST {where}")
    annotation = await create_annotation(posthog.host, posthog.project_id, posthog.api_key,
                                         content, at, timeout=ANNOTATION_TIMEOUT)
    ctx.line(f"annotation {annotation} at {at.isoformat(timespec='seconds')}")
    said.append(f"annotation {annotation} created")
    return ActionResult(True, "; ".join(said))


_RUNNERS = {
    ActionKind.HOSTING: _hosting,
    ActionKind.COMMAND: _command,
    ActionKind.MIGRATION_DOWN: _command,
    ActionKind.SSH: _ssh,
    ActionKind.REDIS_FLUSH: _redis_flush,
    ActionKind.NOTIFY: _notify,
    ActionKind.POSTHOG: _posthog,
}


def clean_line(text: str, redact: Callable[[str], str]) -> str:
    """Output as it may be shown and journaled: no control sequences, no secret, bounded."""
    line = redact(strip_controls(text).rstrip("\n"))
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def _path(base: Path, relative: str | None) -> Path:
    if not relative:
        return base
    candidate = Path(relative).expanduser()
    return candidate if candidate.is_absolute() else base / candidate
