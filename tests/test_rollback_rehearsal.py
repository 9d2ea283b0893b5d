"""The guarded rollback against the rehearsal stack (one per module): the Vercel stand-in,
the real redis-server, the webhook sink, the PostHog stand-in, real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ppcockpit import cli_rollback
from ppcockpit.cli import GlobalFlags
from ppcockpit.journal import ROLLBACK_ARMED, ROLLBACK_FINISHED
from ppcockpit.rehearsal import StackHandle, start_stack
from ppcockpit.rehearsal.credentials import (
    POSTHOG_API_KEY,
    VERCEL_TOKEN,
    WEBHOOK_TOKEN,
)
from ppcockpit.rollback import RollbackEngine
from ppcockpit.rollback_progress import ActionState, RollbackState
from ppcockpit.session import Refused
from tests.support.rollback_setup import (
    NEAR_MISSES,
    PERSONA_KEYS,
    Watch,
    all_keys,
    annotation_count,
    drill_plan,
    fresh_deploy,
    is_waiting,
    journal_events,
    live_and_previous,
    plan,
    plant_keys,
    redis_client,
    rollback_events,
    rollback_posts,
    stack_session,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stack() -> Iterator[StackHandle]:
    handle = start_stack()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def webhook(stack: StackHandle, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", stack.endpoints["webhook"])
    return stack.endpoints["webhook"]


def error_lines(stack: StackHandle) -> list[str]:
    """The stack's newest error lines, as a log tail would hand them over; one carries a
    planted secret."""
    lines = [line for line in stack.log_path.read_text().splitlines()[-400:]
             if '"level":"error"' in line]
    return [*lines[-3:], f"ProviderError: upstream rejected token {VERCEL_TOKEN}"]


async def test_the_drill_rolls_back_once_flushes_only_personas_and_tells_everyone(
        stack: StackHandle, webhook: str) -> None:
    fresh_deploy(stack)
    stack.advance(600)  # the spike climbs past 5% within ~8 simulated minutes
    current, previous = live_and_previous(stack)
    posts, messages = len(rollback_posts(stack)), len(stack.webhook_messages())
    annotations = annotation_count(stack)
    client = redis_client(stack)
    plant_keys(client)
    before = all_keys(client)
    session = stack_session(stack)
    engine = RollbackEngine.for_session(session, recent_errors=lambda: error_lines(stack))
    try:
        await session.sweep()
        evidence = engine.evidence()
        assert evidence.failure_ratio is not None and evidence.failure_ratio > 0.05
        view = await engine.resolve()
        assert view.current is not None and view.current.uid == current
        assert view.target is not None and view.target.uid == previous
        assert [a.kind for a in view.actions] == [
            "hosting", "command", "redis_flush", "notify", "posthog"]  # the shipped plan
        assert "redis: SCAN MATCH persona:* → " in view.actions[2].detail
        record = await engine.execute(trigger=evidence, target_uid=previous)
    finally:
        await engine.aclose()
        await session.stop()

    assert record.state is RollbackState.FINISHED
    assert all(a.state is ActionState.OK for a in record.actions.values()), \
        {a.id: a.summary for a in record.actions.values()}
    # Vercel: exactly one rollback call, naming the previous deployment; it serves now.
    new_posts = rollback_posts(stack)[posts:]
    assert [p["path"].rsplit("/", 1)[-1] for p in new_posts] == [previous]
    assert stack.current_deployment()["uid"] == previous
    assert "failure-spike" not in stack.active_faults()  # the app recovered
    # Redis: the persona keys went, every other key stayed.
    after = all_keys(client)
    matching = {key for key in before if key.startswith(b"persona:")}
    assert set(PERSONA_KEYS) <= matching and len(matching) >= 8 + len(PERSONA_KEYS)
    assert before - after == matching
    assert set(NEAR_MISSES) <= after
    assert not any(key.startswith(b"persona:") for key in after)
    # The webhook: one message, with the evidence, without a secret.
    received = stack.webhook_messages()[messages:]
    assert len(received) == 1
    text = received[0]["text"]
    assert "Failure ratio" in text and "over the 5% line" in text
    assert previous[:12] in text and "*Who:*" in text
    for secret in (VERCEL_TOKEN, WEBHOOK_TOKEN, POSTHOG_API_KEY, webhook):
        assert secret not in text
    assert "[sha256:" in text  # the planted token, fingerprinted
    listed = (await asyncio.to_thread(httpx.get, webhook, timeout=10)).json()
    assert listed["messages"][-1]["text"] == text
    # PostHog: an annotation at the rollback, the event captured.
    assert annotation_count(stack) == annotations + 1
    assert any(c["event"] == "cockpit_rollback" for c in stack.posthog_captures())
    # The journal: armed, each action before and after, finished; the release log's record.
    events = rollback_events(await journal_events(session))
    ids = ["hosting", "health-after", "flush-personas", "notify", "posthog"]
    assert events == [(ROLLBACK_ARMED, None),
                      *[(name, action) for action in ids
                        for name in ("rollback_action_started", "rollback_action_finished")],
                      (ROLLBACK_FINISHED, None)]
    rollback = engine.release_rollback()
    assert rollback is not None and rollback.trigger.startswith("Failure ratio")
    assert rollback.operator == session.context.operator
    assert [a.result.split(":")[0] for a in rollback.actions][:5] == ["ok"] * 5


async def test_a_dry_run_says_everything_and_changes_nothing_anywhere(
        stack: StackHandle, webhook: str) -> None:
    fresh_deploy(stack)
    client = redis_client(stack)
    plant_keys(client)
    posts, messages = len(rollback_posts(stack)), len(stack.webhook_messages())
    annotations, captures = annotation_count(stack), len(stack.posthog_captures())
    live = stack.current_deployment()["uid"]
    before = all_keys(client)
    session = stack_session(stack)
    engine = RollbackEngine.for_session(session)
    try:
        record = await engine.execute(dry_run=True)
    finally:
        await engine.aclose()
        await session.stop()
    assert record.dry_run and record.state is RollbackState.FINISHED
    outputs = {a.id: "\n".join(a.output) for a in engine.plan_view().actions}
    assert "would send POST " in outputs["hosting"] and "/rollback/dpl_" in outputs["hosting"]
    assert VERCEL_TOKEN not in outputs["hosting"]
    assert "would run: " in outputs["health-after"]
    assert "SCAN MATCH persona:* COUNT 500 → " in outputs["flush-personas"]
    assert "would POST JSON" in outputs["notify"] and "*Why:*" in outputs["notify"]
    assert WEBHOOK_TOKEN not in outputs["notify"]
    assert "would capture cockpit_rollback" in outputs["posthog"]
    # Nothing changed anywhere.
    assert len(rollback_posts(stack)) == posts
    assert stack.current_deployment()["uid"] == live
    assert before <= all_keys(client)  # not one key removed
    assert all(client.get(key) == b"planted" for key in PERSONA_KEYS)
    assert len(stack.webhook_messages()) == messages
    assert annotation_count(stack) == annotations
    assert len(stack.posthog_captures()) == captures
    # Journaled as a dry run, never counted as a rollback.
    events = await journal_events(session)
    assert all(e["dry_run"] is True for e in events if e["event"].startswith("rollback_"))
    assert engine.release_rollback() is None and engine.progress.open is None


async def test_read_only_refuses_and_records_nothing(stack: StackHandle) -> None:
    posts = len(rollback_posts(stack))
    session = stack_session(stack, read_only=True)
    engine = RollbackEngine.for_session(session)
    try:
        with pytest.raises(Refused, match="Read-only: a rollback is refused"):
            await engine.execute()
        with pytest.raises(Refused, match="Read-only"):
            await engine.execute(dry_run=True)
        view = await engine.resolve()  # looking is allowed
        assert view.target is not None
    finally:
        await engine.aclose()
        await session.stop()
    assert len(rollback_posts(stack)) == posts and not engine.running


async def test_a_second_execute_while_one_runs_starts_nothing(
        stack: StackHandle, tmp_path: Path) -> None:
    fresh_deploy(stack)
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    posts = len(rollback_posts(stack))
    session = stack_session(stack)
    engine = RollbackEngine.for_session(session, plan=plan(
        {"id": "hosting", "kind": "hosting", "title": "Roll back", "timeout": "30s"},
        {"id": "hold", "kind": "command", "title": "Hold", "cwd": str(tmp_path),
         "run": "echo holding; read line < release; echo got $line"}))
    watch = Watch(session)
    try:
        first = asyncio.create_task(engine.execute())
        await watch.until(lambda e: getattr(e, "line", "") == "holding")
        for attempt in (engine.execute(), engine.execute(dry_run=True),
                        engine.execute(resume=True)):
            with pytest.raises(Refused, match="A rollback is running"):
                await attempt
        assert engine.plan_view().rollback.state == "running"  # type: ignore[union-attr]
        await asyncio.to_thread(fifo.write_text, "go\n")
        record = await first
    finally:
        await engine.aclose()
        await session.stop()
    assert record.state is RollbackState.FINISHED
    assert len(rollback_posts(stack)) == posts + 1
    events = rollback_events(await journal_events(session))
    assert events.count(("rollback_action_started", "hosting")) == 1
    assert events.count((ROLLBACK_ARMED, None)) == 1


async def test_sigkill_mid_rollback_then_restart_resumes_at_the_interrupted_action(
        stack: StackHandle, webhook: str, tmp_path: Path) -> None:
    fresh_deploy(stack)
    _, previous = live_and_previous(stack)
    client = redis_client(stack)
    plant_keys(client)
    posts, messages = len(rollback_posts(stack)), len(stack.webhook_messages())
    driver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.rollback_driver", str(stack.config_path),
        str(tmp_path), cwd=ROOT, env={**os.environ},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert driver.stdout is not None and driver.stderr is not None
    try:
        line = await asyncio.wait_for(driver.stdout.readline(), 30)
        assert line.strip(), await driver.stderr.read()
    finally:
        driver.kill()  # SIGKILL, while "hold" runs
        await driver.wait()
        pid = (tmp_path / "hold.pid").read_text().strip()
        os.killpg(int(pid), signal.SIGKILL)  # its command outlives it, as after a crash
    session_id = line.decode().strip()
    assert len(rollback_posts(stack)) == posts + 1  # the hosting action was done

    session = stack_session(stack, session_id=session_id)  # the cockpit restarts
    engine = RollbackEngine.for_session(session, plan=drill_plan(tmp_path))
    watch = Watch(session)
    try:
        await engine.load()
        half_done = engine.progress.open
        assert half_done is not None
        states = {a.id: a.state for a in half_done.actions.values()}
        assert states == {"hosting": ActionState.OK, "hold": ActionState.INTERRUPTED,
                          "flush": ActionState.PENDING, "notify": ActionState.PENDING}
        view = engine.plan_view()
        assert view.rollback is not None and view.rollback.state == "half-done"
        with pytest.raises(Refused, match="is half-done"):
            await engine.execute()  # a fresh one is not started over it
        (tmp_path / "go").touch()
        resumed = asyncio.create_task(engine.execute(resume=True))
        await watch.until(is_waiting("hold"))  # interrupted: it asks before running again
        assert engine.waiting is not None and engine.waiting.why == "interrupted"
        await engine.decide("hold", "retry")
        record = await resumed
    finally:
        await engine.aclose()
        await session.stop()
    assert record.state is RollbackState.FINISHED
    assert len(rollback_posts(stack)) == posts + 1  # hosting was not run again
    assert rollback_posts(stack)[-1]["path"].endswith(previous)
    assert len(stack.webhook_messages()) == messages + 1
    assert not any(key.startswith(b"persona:") for key in all_keys(client))
    events = rollback_events(await journal_events(session))
    assert events.count(("rollback_action_started", "hosting")) == 1
    assert events.count(("rollback_action_started", "hold")) == 2
    assert events.count(("rollback_action_started", "flush")) == 1
    assert ("rollback_decided", "hold") in events and ("rollback_resumed", None) in events


def test_rollback_plan_json_and_text(stack: StackHandle,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    current, previous = live_and_previous(stack)
    flags = GlobalFlags(config=str(stack.config_path))
    posts = len(rollback_posts(stack))
    assert cli_rollback.main(["plan", "--json"], flags) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"environment", "current", "target", "actions"}
    assert document["environment"] == "rehearsal"
    assert set(document["current"]) == {"uid", "url", "sha"}
    assert document["current"]["uid"] == current
    assert set(document["target"]) == {"uid", "url", "sha", "age_s"}
    assert document["target"]["uid"] == previous and document["target"]["age_s"] > 0
    for action in document["actions"]:
        assert set(action) == {"id", "kind", "title", "optional", "detail"}
    assert [a["id"] for a in document["actions"]] == [
        "hosting", "health-after", "flush-personas", "notify", "posthog"]
    assert WEBHOOK_TOKEN not in json.dumps(document)
    assert cli_rollback.main(["plan"], flags) == 0
    text = capsys.readouterr().out
    assert text.startswith("Rollback plan · rehearsal") and previous[:12] in text
    assert "Nothing was run" in text
    assert len(rollback_posts(stack)) == posts  # nothing ran


async def _held_rollback(stack: StackHandle, tmp_path: Path,
                         while_held: Callable[[], object]) -> tuple[RollbackState, str, str]:
    """A plan that holds (on a FIFO) before its hosting action; `while_held` runs then.
    The rollback's state, the hosting action's summary and the target it was armed with."""
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    session = stack_session(stack)
    engine = RollbackEngine.for_session(session, plan=plan(
        {"id": "hold", "kind": "command", "title": "Hold", "cwd": str(tmp_path),
         "run": "echo holding; read line < release"},
        {"id": "hosting", "kind": "hosting", "title": "Roll back", "timeout": "30s"}))
    watch = Watch(session)
    try:
        running = asyncio.create_task(engine.execute())
        await watch.until(lambda e: getattr(e, "line", "") == "holding")
        await asyncio.to_thread(while_held)
        await asyncio.to_thread(fifo.write_text, "go\n")
        await watch.until(lambda e: getattr(e, "state", "") in ("finished", "waiting"))
        if engine.waiting is not None:
            await engine.decide("hosting", "abort", "production moved on")
        done = await running
    finally:
        await engine.aclose()
        await session.stop()
    target = (done.target or {}).get("uid")
    return done.state, done.actions["hosting"].summary, str(target)


async def test_a_rollback_that_already_happened_is_not_asked_for_again(
        stack: StackHandle, tmp_path: Path) -> None:
    fresh_deploy(stack)
    _, previous = live_and_previous(stack)
    project = stack.credentials["vercel_project_id"]
    posts = len(rollback_posts(stack))

    def roll_back_by_hand() -> None:  # as if the answer to our own request had been lost
        httpx.post(f"{stack.endpoints['vercel']}/v1/projects/{project}/rollback/{previous}",
                   headers={"Authorization": f"Bearer {VERCEL_TOKEN}"},
                   timeout=10).raise_for_status()

    state, summary, target = await _held_rollback(stack, tmp_path, roll_back_by_hand)
    assert target == previous and state is RollbackState.FINISHED
    assert summary.endswith("is live (it already was)")
    assert len(rollback_posts(stack)) == posts + 1  # the hand-made one only


async def test_production_moving_on_after_arming_stops_the_hosting_action(
        stack: StackHandle, tmp_path: Path) -> None:
    fresh_deploy(stack)
    posts = len(rollback_posts(stack))
    state, summary, _ = await _held_rollback(stack, tmp_path, lambda: fresh_deploy(stack))
    assert state is RollbackState.ABORTED
    assert "production changed since the rollback was armed" in summary
    assert len(rollback_posts(stack)) == posts  # never rolled back over the new deploy
