"""The rollback engine on a session of its own: a failing action offers retry / skip (with a
reason) / abort, each journaled; second typed confirmations; cancelling an action; a
cockpit that stops mid-action; ${VAR}s that are not set; the flush against a real
redis-server; the ssh action against a real asyncssh server; `rollback plan` without a
plan."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest

from ppcockpit import cli_rollback
from ppcockpit.cli import GlobalFlags
from ppcockpit.config import ConfigError
from ppcockpit.journal import ROLLBACK_ABORTED, ROLLBACK_DECIDED
from ppcockpit.redis_server import RedisServer
from ppcockpit.rollback import RollbackEngine
from ppcockpit.rollback_progress import ActionState, RollbackState
from ppcockpit.session import Refused
from tests.support.rollback_setup import (
    Watch,
    is_waiting,
    journal_events,
    plan,
    rollback_events,
    small_session,
)
from tests.support.ssh_server import running_ssh_server

FAILING = {"id": "smoke", "kind": "command", "title": "Smoke test",
           "run": "echo checking; echo boom >&2; exit 1", "timeout": "30s"}
AFTER = {"id": "after", "kind": "command", "title": "After", "run": "echo after"}


async def test_a_failing_action_offers_retry_then_skip_with_a_reason(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(FAILING, AFTER))
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("smoke"))
    waiting = engine.waiting
    assert waiting is not None and waiting.why == "failed"
    assert "“Smoke test” failed: failed (exit 1)" in waiting.message and "boom" in \
        waiting.message
    smoke = engine.plan_view().actions[0]
    assert smoke.state is ActionState.FAILED and smoke.output[:2] == ("$ echo checking; "
                                                                      "echo boom >&2; exit 1",
                                                                      "checking")
    with pytest.raises(Refused, match="needs a reason"):
        await engine.decide("smoke", "skip", "")
    with pytest.raises(Refused, match="not waiting for a decision"):
        await engine.decide("after", "skip", "a reason")
    with pytest.raises(Refused, match="Say retry, skip or abort"):
        await engine.decide("smoke", "ignore")
    await engine.decide("smoke", "retry")
    await watch.until(lambda _: sum(map(is_waiting("smoke"), watch.events)) == 2)
    assert engine.plan_view().actions[0].attempts == 2
    await engine.decide("smoke", "skip", "smoke is flaky, checked the app by hand")
    record = await running
    await session.stop()
    assert record.state is RollbackState.FINISHED
    assert record.actions["smoke"].state is ActionState.SKIPPED
    assert record.actions["smoke"].attempts == 2
    assert record.actions["after"].state is ActionState.OK
    events = await journal_events(session)
    decided = [(e["decision"], e["reason"]) for e in events if e["event"] == ROLLBACK_DECIDED]
    assert decided == [("retry", ""), ("skip", "smoke is flaky, checked the app by hand")]
    assert rollback_events(events).count(("rollback_action_started", "smoke")) == 2
    rollback = engine.release_rollback()
    assert rollback is not None
    assert rollback.actions[0].result == \
        "skipped by alice: smoke is flaky, checked the app by hand"


async def test_abort_ends_the_rollback_there_and_is_journaled(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(FAILING, AFTER))
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("smoke"))
    await engine.decide("smoke", "abort", "rolling forward instead")
    record = await running
    await session.stop()
    assert record.state is RollbackState.ABORTED
    assert record.actions["after"].state is ActionState.PENDING  # never ran
    events = await journal_events(session)
    aborted = [e for e in events if e["event"] == ROLLBACK_ABORTED]
    assert [(e["action"], e["reason"]) for e in aborted] == [
        ("smoke", "rolling forward instead")]
    assert ("rollback_action_started", "after") not in rollback_events(events)
    assert engine.release_rollback().actions[-1].result == \
        "aborted by alice: rolling forward instead"  # type: ignore[union-attr]
    assert engine.plan_view().rollback.state == "aborted"  # type: ignore[union-attr]


async def test_two_answers_at_once_are_journaled_once(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(FAILING, AFTER))
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("smoke"))
    answers = await asyncio.gather(engine.decide("smoke", "abort", "first Enter"),
                                   engine.decide("smoke", "retry"), return_exceptions=True)
    record = await running
    await session.stop()
    assert answers[0] is None and isinstance(answers[1], Refused)
    assert record.state is RollbackState.ABORTED
    events = rollback_events(await journal_events(session))
    assert ("rollback_decided", "smoke") not in events
    assert events.count(("rollback_aborted", "smoke")) == 1


async def test_an_optional_action_is_skipped_without_a_reason(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan({**FAILING, "optional": True}, AFTER))
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("smoke"))
    assert "Retry, skip, or abort" in engine.waiting.message  # type: ignore[union-attr]
    await engine.decide("smoke", "skip")
    record = await running
    await session.stop()
    assert record.actions["smoke"].state is ActionState.SKIPPED


async def test_migration_down_asks_its_own_typed_confirmation(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "migrate-down", "kind": "migration_down", "title": "Undo the migration",
         "run": "echo migrated down"}))
    assert engine.needs_second_confirmation("migrate-down") == "migrate-down"
    assert engine.needs_second_confirmation("nope") is None
    with pytest.raises(Refused, match="what was typed is only part of it"):
        await engine.execute(confirmations={"migrate-down": "migrate"})
    assert rollback_events(await journal_events(session)) == []  # nothing armed
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("migrate-down"))
    assert engine.waiting is not None and engine.waiting.why == "confirm"
    with pytest.raises(Refused, match="type migrate-down to run it"):
        await engine.decide("migrate-down", "retry")
    with pytest.raises(Refused, match="is not it"):
        await engine.confirm("migrate-down", "production")
    assert engine.plan_view().actions[0].state is ActionState.PENDING  # has not run
    await engine.confirm("migrate-down", "migrate-down")
    record = await running
    assert record.actions["migrate-down"].state is ActionState.OK
    # Confirmed at arming: it runs without stopping.
    again = await engine.execute(confirmations={"migrate-down": "migrate-down"})
    await session.stop()
    assert again.actions["migrate-down"].state is ActionState.OK


async def test_flushall_needs_the_plan_to_allow_it_and_a_typed_flushall(
        tmp_path: Path, redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.mset({f"k{n}": "v" for n in range(20)})
    with pytest.raises(ValueError, match="does not allow it"):
        plan({"id": "wipe", "kind": "redis_flush", "title": "Wipe", "flushall": True})
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "wipe", "kind": "redis_flush", "title": "Wipe", "flushall": True},
        allow_flushall=True), redis_url=redis_server.url)
    dry = await engine.execute(dry_run=True)  # no confirmation: it changes nothing
    assert dry.actions["wipe"].summary == "would FLUSHALL: 20 keys"
    assert client.dbsize() == 20
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("wipe"))
    with pytest.raises(Refused, match="Type FLUSHALL exactly"):
        await engine.confirm("wipe", "FLUSH")
    assert client.dbsize() == 20
    await engine.confirm("wipe", "FLUSHALL")
    record = await running
    await session.stop()
    assert record.actions["wipe"].summary == "FLUSHALL ASYNC: 20 keys removed"
    assert client.dbsize() == 0


async def test_the_flush_removes_only_matching_keys_in_batches(
        tmp_path: Path, redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.mset({f"persona:{n}": "p" for n in range(1200)})
    client.mset({f"personal:{n}": "x" for n in range(50)})
    client.set(b"persona:\x00\xff", b"binary")
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "flush", "kind": "redis_flush", "title": "Flush", "pattern": "persona:*",
         "batch": 100}), redis_url=redis_server.url)
    view = await engine.resolve()
    assert view.actions[0].detail == "redis: SCAN MATCH persona:* → 1,201 keys"
    record = await engine.execute()
    clients = [c["name"] for c in client.client_list()]
    await session.stop()
    assert record.actions["flush"].summary == "removed 1,201 keys matching persona:*"
    assert client.dbsize() == 50
    assert "ppcockpit-rollback" not in clients  # its connection was closed after


async def test_cancelling_a_running_action_fails_it_and_waits(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "slow", "kind": "command", "title": "Slow", "run": "echo started; exec sleep 60"},
        AFTER))
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(lambda e: getattr(e, "line", "") == "started")
    assert engine.plan_view().actions[0].state is ActionState.RUNNING
    assert engine.cancel()
    await watch.until(is_waiting("slow"))
    assert "cancelled" in engine.plan_view().actions[0].summary
    await engine.decide("slow", "abort")
    record = await running
    await session.stop()
    assert record.state is RollbackState.ABORTED and not engine.cancel()


async def test_a_cockpit_stopping_mid_action_leaves_it_interrupted(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    slow = {"id": "slow", "kind": "command", "title": "Slow",
            "run": "if [ -e done ]; then echo again; else echo started; exec sleep 60; fi",
            "cwd": str(tmp_path)}
    engine = RollbackEngine(session, plan(slow, AFTER))
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(lambda e: getattr(e, "line", "") == "started")
    running.cancel()  # the cockpit closes
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not engine.running
    # Restarted: the fold says interrupted; it asks before running it again.
    restarted = RollbackEngine(session, plan(slow, AFTER),
                               events=await journal_events(session))
    half_done = restarted.progress.open
    assert half_done is not None
    assert half_done.actions["slow"].state is ActionState.INTERRUPTED
    with pytest.raises(Refused, match="nothing to decide"):
        await restarted.decide("after", "retry")
    (tmp_path / "done").touch()
    await restarted.decide("slow", "retry")  # decided before resuming: it just runs
    record = await restarted.execute(resume=True)
    await session.stop()
    assert record.state is RollbackState.FINISHED
    assert record.actions["slow"].attempts == 2 and record.actions["slow"].summary.startswith(
        "passed")


async def test_a_variable_that_is_not_set_refuses_only_that_action(tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "notify", "kind": "notify", "title": "Tell", "url": "${SLACK_WEBHOOK_URL}"},
        AFTER), variables={})
    view = engine.plan_view()
    assert view.actions[0].blocked == "${SLACK_WEBHOOK_URL} is not set"
    watch = Watch(session)
    running = asyncio.create_task(engine.execute())
    await watch.until(is_waiting("notify"))
    assert "${SLACK_WEBHOOK_URL} (used by `url`) is not set" in \
        engine.plan_view().actions[0].summary
    await engine.decide("notify", "skip", "posted in the channel by hand")
    record = await running
    await session.stop()
    assert record.actions["after"].state is ActionState.OK


async def test_no_previous_deployment_means_the_hosting_action_cannot_run(
        tmp_path: Path) -> None:
    session = small_session(tmp_path)
    engine = RollbackEngine(session, plan(
        {"id": "hosting", "kind": "hosting", "title": "Roll back"}))
    view = await engine.resolve()
    assert view.target is None
    assert view.actions[0].blocked == "no [environments.production.hosting] in cockpit.toml"
    record = await engine.execute(dry_run=True)
    await session.stop()
    assert record.actions["hosting"].state is ActionState.FAILED
    assert "there is no hosting API" in record.actions["hosting"].summary


async def test_the_ssh_action_streams_output_and_verifies_the_host_key(
        tmp_path: Path) -> None:
    async with running_ssh_server(tmp_path) as server:
        async def undo(process: asyncssh.SSHServerProcess) -> int:
            process.stdout.write(b"deployment.apps/web rolled back\n\x1b[31mdone\x1b[0m\n")
            return 0

        server.commands["kubectl"] = undo
        common = {"kind": "ssh", "host": "127.0.0.1", "port": server.port,
                  "user": server.user, "key_file": str(server.client_key_path),
                  "run": "kubectl rollout undo deployment/web", "timeout": "20s"}
        other_hosts = tmp_path / "other_known_hosts"
        other_hosts.write_text("")
        session = small_session(tmp_path)
        engine = RollbackEngine(session, plan(
            {**common, "id": "undo", "title": "Undo on web",
             "known_hosts": str(server.known_hosts_path)},
            {**common, "id": "unknown", "title": "Unknown host", "optional": True,
             "known_hosts": str(other_hosts)}))
        assert engine.plan_view().actions[0].detail.startswith(
            f"ssh deploy@127.0.0.1:{server.port}: kubectl")
        watch = Watch(session)
        running = asyncio.create_task(engine.execute())
        await watch.until(is_waiting("unknown"))
        await engine.decide("unknown", "skip")
        record = await running
        await session.stop()
    undo_view = engine.plan_view().actions[0]
    assert record.actions["undo"].state is ActionState.OK
    assert "deployment.apps/web rolled back" in undo_view.output
    assert "done" in undo_view.output  # control sequences stripped
    unknown = record.actions["unknown"]
    assert unknown.state is ActionState.SKIPPED
    assert "unknown host" in engine.plan_view().actions[1].summary


def test_rollback_plan_without_a_plan_exits_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runbook.toml").write_text(
        'title = "No rollback"\n[[phases]]\nid = "p"\ntitle = "P"\n'
        '[[phases.steps]]\nid = "s"\ntitle = "S"\nkind = "manual"\n')
    (tmp_path / "cockpit.toml").write_text(
        '[cockpit]\nrunbook = "runbook.toml"\n'
        '[environments.production]\nbase_url = "https://app.example"\n')
    flags = GlobalFlags(config=str(tmp_path / "cockpit.toml"))
    assert cli_rollback.main(["plan", "--json"], flags) == 2
    err = capsys.readouterr().err
    assert "There is no rollback plan: add [rollback]" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="say `rollback plan"):
        cli_rollback.main(["run"], flags)
    assert cli_rollback.main(["plan", "--bogus"], flags) == 2
