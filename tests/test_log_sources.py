"""The command and file log sources and their supervision, with real subprocesses and files."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ppcockpit.logs import LogBuffer, LogLine
from ppcockpit.rehearsal.logs import LogSink
from ppcockpit.secrets import Redactor
from probes.log_parse import cut_marker
from probes.log_sources import Backoff, CommandSource, FileSource, supervise
from probes.log_tail import LogTail, make_log_source

FAST = Backoff(0.02, 0.05)
SECRET = "sk-live-planted-secret-000111"


async def wait_until(buffer: LogBuffer, condition: Callable[[], bool]) -> None:
    """Wait (bounded) until `condition` holds after some change of the buffer."""
    happened = asyncio.Event()

    def check() -> None:
        if condition():
            happened.set()

    unsubscribe = buffer.subscribe(check)
    try:
        check()
        await asyncio.wait_for(happened.wait(), 10)
    finally:
        unsubscribe()


def python(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def texts(buffer: LogBuffer) -> list[str]:
    return [line.raw for line in buffer]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that does not reap, as PID 1 in some
    containers, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_command_that_dies_is_restarted_and_the_panel_is_told(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    code = ("import pathlib, sys\n"
            f"p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) if p.exists() else 0\n"
            "p.write_text(str(n + 1))\n"
            "print(f'run {n} stdout', flush=True)\n"
            "print(f'run {n} stderr', file=sys.stderr, flush=True)\n"
            "sys.exit(3)\n")
    buffer = LogBuffer()
    tail = LogTail(buffer, CommandSource(python(code)), backoff=FAST)
    states: list[str] = []
    buffer.subscribe(lambda: states.append(buffer.state.phase)
                     if not states or states[-1] != buffer.state.phase else None)
    tail.start()
    try:
        await wait_until(buffer, lambda: "run 1 stderr" in texts(buffer))
    finally:
        await tail.stop()
    assert {"run 0 stdout", "run 0 stderr", "run 1 stdout"} <= set(texts(buffer))
    assert states[:4] == ["connecting", "streaming", "down", "connecting"]
    assert buffer.state.reason == "command exited with status 3" or buffer.state.phase != "down"


async def test_down_state_names_the_reason_and_when_it_restarts(tmp_path: Path) -> None:
    buffer = LogBuffer(clock=lambda: 1000.0)
    tail = LogTail(buffer, CommandSource("/nonexistent/kubectl logs -f"),
                   backoff=Backoff(4, 4, jitter=0), clock=lambda: 1000.0)
    tail.start()
    try:
        await wait_until(buffer, lambda: buffer.state.phase == "down")
    finally:
        await tail.stop()
    state = buffer.state
    assert state.reason == "command not found: /nonexistent/kubectl"
    assert state.since == 1000.0 and state.retry_at == 1004.0
    assert state.describe(1001.0).endswith(
        "command not found: /nonexistent/kubectl · restarting in 3s")


async def test_stop_kills_the_command_and_its_children_and_reaps_them(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    run = f"sh -c 'sleep 60 & echo $! > {pid_file}; echo started; wait'"
    source = CommandSource(run, kill_grace=0.5)
    buffer = LogBuffer()
    tail = LogTail(buffer, source, backoff=FAST)
    tail.start()
    await wait_until(buffer, lambda: "started" in texts(buffer))
    shell, child = source.pid, int(pid_file.read_text())
    assert shell is not None and alive(child)
    await tail.stop()
    assert not alive(shell)  # reaped: not even a zombie left in the table
    for _ in range(100):  # the orphaned sleep is reaped by init, shortly after its SIGTERM
        if not alive(child):
            break
        await asyncio.sleep(0.01)
    assert not alive(child)


async def test_the_rehearsal_stream_through_its_logs_command(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "app.log")
    sink.json("error", "Provider request failed", 1_800_000_000.0, requestId="r-1",
              route="/api/chat", metadata={"providerId": "openai"})
    sink.text("  ▲ Next.js 14.2.15")
    await sink.flush()
    run = (f"{shlex.quote(sys.executable)} -m ppcockpit rehearse logs "
           f"{shlex.quote(str(tmp_path / 'app.log'))}")
    source = make_log_source("command", run=run)
    buffer = LogBuffer()
    tail = LogTail(buffer, source, backoff=FAST)
    tail.start()
    try:
        await wait_until(buffer, lambda: len(buffer) >= 2)
        sink.json("warn", "Provider health degraded", 1_800_000_001.0,
                  metadata={"providerId": "anthropic"})
        await sink.flush()
        await wait_until(buffer, lambda: len(buffer) >= 3)
    finally:
        await tail.stop()
    first, banner, latest = list(buffer)
    assert (first.is_json, first.level, first.provider, first.request_id) == (
        True, "error", "openai", "r-1")
    assert banner.raw == "  ▲ Next.js 14.2.15" and not banner.is_json
    assert latest.provider == "anthropic" and latest.level == "warn"
    assert buffer.errors == 1


async def test_file_source_starts_at_the_tail_and_follows_rotation_and_truncation(
        tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"old {n}\n" for n in range(500)))
    source = FileSource(log, tail_lines=3, poll_interval=0.01)
    buffer = LogBuffer()
    tail = LogTail(buffer, source, backoff=FAST)
    tail.start()
    try:
        await wait_until(buffer, lambda: len(buffer) == 3)
        assert texts(buffer) == ["old 497", "old 498", "old 499"]
        with log.open("a") as handle:
            handle.write("new 1\nnew 2 without newline yet")
        await wait_until(buffer, lambda: texts(buffer)[-1] == "new 1")
        log.rename(tmp_path / "app.log.1")  # logrotate: rename, then a new file
        log.write_text("after rotation\n")
        await wait_until(buffer, lambda: texts(buffer)[-1] == "after rotation")
        assert "new 2 without newline yet" in texts(buffer)  # the old file's last line
        with log.open("r+") as handle:  # copytruncate; the new text is shorter than the old,
            handle.truncate(0)  # so the truncation shows whenever the source looks
            handle.write("short\n")
        await wait_until(buffer, lambda: texts(buffer)[-1] == "short")
    finally:
        await tail.stop()
    assert (source.rotations, source.truncations) == (1, 1)
    assert texts(buffer).count("after rotation") == 1  # nothing read twice


async def test_file_source_waits_for_a_missing_file_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    buffer = LogBuffer()
    tail = LogTail(buffer, FileSource(log, poll_interval=0.01), backoff=FAST)
    tail.start()
    try:
        await wait_until(buffer, lambda: buffer.state.phase == "down")
        assert buffer.state.reason == f"no such file: {log}"
        log.write_text("hello\n")
        await wait_until(buffer, lambda: texts(buffer) == ["hello"])
        assert buffer.state.phase == "streaming"
    finally:
        await tail.stop()


async def test_hostile_lines_from_a_file_are_shown_safely(tmp_path: Path) -> None:
    log = tmp_path / "hostile.log"
    log.write_bytes(b"")
    source = FileSource(log, tail_lines=0, poll_interval=0.01, max_line_bytes=16 * 1024)
    buffer = LogBuffer()
    tail = LogTail(buffer, source, redact=Redactor([SECRET]), backoff=FAST)
    tail.start()
    try:
        await wait_until(buffer, lambda: buffer.state.phase == "streaming")
        with log.open("ab") as handle:
            handle.write(b"\x1b[2J\x1b[31mansi\x1b[0m \x1b]0;title\x07osc\n")
            handle.write(b"y" * 1_000_000)  # a megabyte, no newline yet
            handle.flush()
            handle.write(b"\nbad \xff\xfe utf8 \x00nul\n")
            handle.write(b"[bold]x[/] [@click=app.quit]q[/]\n")
            handle.write(f"token={SECRET}\n".encode())
            handle.write(json.dumps({"level": "error", "message": f"auth {SECRET}",
                                     "requestId": "r"}).encode() + b"\n")
        await wait_until(buffer, lambda: len(buffer) == 6)
    finally:
        await tail.stop()
    lines: list[LogLine] = list(buffer)
    assert lines[0].raw == "ansi osc"
    assert lines[1].cut and lines[1].raw == "y" * 16 * 1024 + cut_marker(16 * 1024)
    assert lines[2].raw == "bad \ufffd\ufffd utf8 nul"
    assert lines[3].raw == "[bold]x[/] [@click=app.quit]q[/]"
    assert SECRET not in lines[4].raw and "[sha256:" in lines[4].raw
    assert lines[5].is_json and SECRET not in lines[5].message + lines[5].raw
    assert (buffer.received, buffer.errors) == (6, 1)


async def test_supervise_reports_a_failing_stream_without_raising() -> None:
    class Broken:
        description = "broken"

        async def stream(self):  # type: ignore[no-untyped-def]
            yield []
            yield [b"one"]
            raise RuntimeError("boom\x1b[31m")

    lines: list[bytes] = []
    states = asyncio.Queue()  # type: ignore[var-annotated]
    task = asyncio.create_task(supervise(Broken(), lines.extend, states.put_nowait,
                                         backoff=Backoff(60, 60)))
    try:
        while (state := await asyncio.wait_for(states.get(), 5)).phase != "down":
            pass
    finally:
        task.cancel()
    assert lines == [b"one"]
    assert state.reason == "RuntimeError: boom"


def test_backoff_grows_jitters_and_resets() -> None:
    backoff = Backoff(1, 8, jitter=0.2, rng=lambda: 1.0)
    assert [round(backoff.next(), 2) for _ in range(5)] == [1.2, 2.4, 4.8, 9.6, 9.6]
    backoff.reset()
    assert Backoff(1, 8, jitter=0.2, rng=lambda: 0.0).next() == pytest.approx(0.8)
    assert round(backoff.next(), 2) == 1.2


def test_make_log_source_names_the_missing_key() -> None:
    assert make_log_source(None) is None
    for kind, message in (("command", "needs `run`"), ("ssh", "needs `host` and `run`"),
                          ("file", "needs `path`"), ("syslog", "not one of")):
        with pytest.raises(ValueError, match=message):
            make_log_source(kind)
