"""What the rollback tests share: sessions on the rehearsal stack (or on a small config of
their own), plans, the stand-ins' state read independently of the cockpit's code, and
waiting for the engine's events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis
import tomli_w

from ppcockpit.cli import GlobalFlags, build_session
from ppcockpit.config import load_config
from ppcockpit.config_types import dec_hook
from ppcockpit.rehearsal import StackHandle
from ppcockpit.rollback import RollbackEngine
from ppcockpit.rollback_plan import RollbackPlan
from ppcockpit.session import Session
from ppcockpit.session_events import SessionEvent

# Keys the flush of persona:* must remove, and keys it must leave (near misses included).
PERSONA_KEYS = (b"persona:alpha", b"persona:beta", b"persona:\xff\xfe binary")
NEAR_MISSES = (b"persona", b"personas:1", b"xpersona:1", b"PERSONA:1", b"\xffpersona:1")


def plan(*actions: dict[str, Any], allow_flushall: bool = False) -> RollbackPlan:
    return msgspec.convert({"allow_flushall": allow_flushall, "actions": list(actions)},
                           RollbackPlan, strict=True, dec_hook=dec_hook)


def drill_plan(workdir: Path) -> RollbackPlan:
    """The SIGKILL drill: roll back, hold (until `go` exists in `workdir`), flush, notify."""
    hold = ("echo $$ > hold.pid; if [ -e go ]; then echo released; "
            "else echo holding; exec sleep 60; fi")
    return plan(
        {"id": "hosting", "kind": "hosting", "title": "Roll back", "timeout": "30s"},
        {"id": "hold", "kind": "command", "title": "Hold", "run": hold, "cwd": str(workdir),
         "timeout": "2m"},
        {"id": "flush", "kind": "redis_flush", "title": "Flush personas",
         "pattern": "persona:*"},
        {"id": "notify", "kind": "notify", "title": "Tell the channel",
         "url": "${SLACK_WEBHOOK_URL}"})


def stack_session(stack: StackHandle, *, read_only: bool = False,
                  session_id: str | None = None) -> Session:
    """A new deployment session on the rehearsal's config (its journal in the workdir)."""
    config = load_config(stack.config_path)
    flags = GlobalFlags(config=str(stack.config_path), read_only=read_only, new_session=True)
    return build_session(config, flags, stack_clock=stack.clock.now,
                         session_id=session_id).session


def small_session(directory: Path, **flags: Any) -> Session:
    """A session of its own (journal in `directory`), no probe started: for plans that
    need no stack."""
    config = directory / "cockpit.toml"
    off = {name: {"enabled": False} for name in
           ("health", "redis", "posthog", "supabase", "pwa", "secrets", "deployments")}
    config.write_text(tomli_w.dumps({
        "cockpit": {"journal_dir": "journal", "release_log": "release-log.toml",
                    "operator": "alice"},
        "environments": {"production": {"base_url": "https://app.example"}},
        "probes": off}))
    return build_session(load_config(config), GlobalFlags(**flags)).session


async def journal_events(session: Session) -> list[dict[str, Any]]:
    journal = session.context.journal
    assert journal is not None and session.context.session_id is not None
    read = await journal.read(session.context.session_id)  # type: ignore[attr-defined]
    return [event.record() for event in read.events]


def rollback_events(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["event"], e.get("action")) for e in events
            if str(e["event"]).startswith("rollback_")]


class Watch:
    """The session's events, and a way to wait (event-driven) until one arrives."""

    def __init__(self, session: Session) -> None:
        self.events: list[SessionEvent] = []
        self._waiters: list[tuple[Callable[[SessionEvent], bool], asyncio.Event]] = []
        session.subscribe(self._seen)

    def _seen(self, event: SessionEvent) -> None:
        self.events.append(event)
        for condition, flag in self._waiters:
            if condition(event):
                flag.set()

    async def until(self, condition: Callable[[SessionEvent], bool],
                    timeout: float = 30.0) -> None:  # noqa: ASYNC109
        if any(condition(event) for event in self.events):
            return
        flag = asyncio.Event()
        self._waiters.append((condition, flag))
        await asyncio.wait_for(flag.wait(), timeout)


def is_waiting(action: str) -> Callable[[SessionEvent], bool]:
    return lambda e: getattr(e, "state", None) == "waiting" and \
        getattr(e, "action", None) == action


# --- the stand-ins, read on their own terms ------------------------------------------------

def vercel(stack: StackHandle, path: str, **params: str) -> Any:
    answer = httpx.get(stack.endpoints["vercel"] + path, params=params, timeout=10,
                       headers={"Authorization": f"Bearer {stack.credentials['vercel_token']}"})
    answer.raise_for_status()
    return answer.json()


def live_and_previous(stack: StackHandle) -> tuple[str, str]:
    """The deployment serving production and the newest READY one before it, as the
    Vercel-shaped API lists them."""
    project = stack.credentials["vercel_project_id"]
    current = vercel(stack, f"/v9/projects/{project}")["targets"]["production"]
    listed = vercel(stack, "/v6/deployments", projectId=project, target="production",
                    state="READY", limit="50")["deployments"]
    before = sorted((d for d in listed if d["created"] < current["created"]),
                    key=lambda d: d["created"], reverse=True)
    return current["uid"], before[0]["uid"]


def rollback_posts(stack: StackHandle) -> list[dict[str, Any]]:
    return [r for r in stack.hosting_requests()
            if r["method"] == "POST" and "/rollback/" in r["path"]]


def annotation_count(stack: StackHandle) -> int:
    answer = httpx.get(
        f"{stack.endpoints['posthog']}/api/projects/{stack.credentials['posthog_project_id']}"
        "/annotations/", params={"limit": "1000"}, timeout=10,
        headers={"Authorization": f"Bearer {stack.credentials['posthog_api_key']}"})
    answer.raise_for_status()
    return int(answer.json()["count"])


def redis_client(stack: StackHandle) -> redis.Redis:
    return redis.Redis.from_url(stack.endpoints["redis"], socket_timeout=5)


def plant_keys(client: redis.Redis) -> None:
    for key in (*PERSONA_KEYS, *NEAR_MISSES):
        client.set(key, b"planted")


def all_keys(client: redis.Redis) -> set[bytes]:
    return set(client.scan_iter(count=1000))


def fresh_deploy(stack: StackHandle) -> None:
    """A new (bad) production deploy: the failure-spike drill, from calm."""
    stack.inject("calm")
    stack.inject("failure-spike")


def engine_for(session: Session, **options: Any) -> RollbackEngine:
    return RollbackEngine.for_session(session, **options)
