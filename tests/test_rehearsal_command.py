"""`ppcockpit rehearse` as a command: scenarios, bad input, and the lifecycle guarantee that
no redis-server, server or port outlives the process, however it ends (SIGKILL included)."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ppcockpit.config import load_config
from ppcockpit.rehearsal import StackHandle
from ppcockpit.rehearsal.command import main
from ppcockpit.rehearsal.generated_config import sweep_stale_workdirs
from ppcockpit.rehearsal.scenarios import SCENARIO_NAMES

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
GONE_TIMEOUT = 5.0
ENDPOINT_LINES = ("redis", "app", "posthog", "supabase", "management", "vercel", "webhook",
                  "logs")


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    lines: list[str]
    ports: list[int]
    redis_pid: int
    workdir: Path


def read_lines(process: subprocess.Popen[bytes], count: int, timeout: float) -> list[str]:
    """The first `count` stdout lines, read from the pipe itself (no hidden buffering)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < count:
        left = deadline - time.monotonic()
        if left <= 0 or not selector.select(left):
            raise AssertionError(f"only {data!r} within {timeout}s")
        chunk = os.read(fd, 65536)
        if not chunk:
            stderr = process.stderr.read() if process.stderr else b""
            raise AssertionError(f"exited early after {data!r}: {stderr!r}")
        data += chunk
    selector.close()
    return data.decode().splitlines()[:count]


def children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("PPid:"))
        if ppid == pid:
            found.append((int(entry.name), cmdline))
    return found


def gone(pid: int) -> bool:
    """Dead, or a zombie waiting to be reaped (it holds no port)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # not refused (yet): a timeout or a reset is asked again
    return False


def wait_until(condition, timeout: float = GONE_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # an external process is ending: poll with a bounded deadline
    return True


def start_rehearsal(*extra: str) -> Running:
    process = subprocess.Popen(
        [sys.executable, "-m", "ppcockpit.rehearsal", "--no-tui", *extra], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = read_lines(process, 2 + len(ENDPOINT_LINES), START_TIMEOUT)
        assert lines[0].startswith("config: ")
        endpoints = dict(line.split(": ", 1) for line in lines[1:-1])
        assert list(endpoints) == list(ENDPOINT_LINES)
        ports = [urlsplit(endpoints[name]).port or 0 for name in ENDPOINT_LINES[:-1]]
        redis = [pid for pid, cmd in children(process.pid) if "redis-server" in cmd]
        assert len(redis) == 1, children(process.pid)
        assert not any(refuses(port) for port in ports)
    except BaseException:
        stop(process)
        raise
    workdir = Path(lines[0].removeprefix("config: ")).parent
    return Running(process, lines, ports, redis[0], workdir)


def stop(process: subprocess.Popen[bytes]) -> None:
    """However a test ends, the rehearsal it started ends too."""
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)


def assert_nothing_left(running: Running) -> None:
    assert wait_until(lambda: gone(running.redis_pid)), \
        f"redis-server {running.redis_pid} outlived the rehearsal"
    assert wait_until(lambda: all(refuses(port) for port in running.ports)), \
        f"ports still answering: {[p for p in running.ports if not refuses(p)]}"


def test_sigkill_leaves_no_redis_server_and_no_bound_port() -> None:
    running = start_rehearsal()
    running.process.kill()
    stop(running.process)
    assert_nothing_left(running)
    # The next rehearsal sweeps the work directory a killed one could not remove.
    sweep_stale_workdirs()
    assert not running.workdir.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_exit_zero_and_clean_up(signum: int) -> None:
    running = start_rehearsal("--scenario", "provider-outage", "--time-scale", "60")
    try:
        config = Path(running.lines[0].removeprefix("config: "))
        load_config(config, environ={})  # usable by `ppcockpit check --config` while it serves
        running.process.send_signal(signum)
        _, stderr = running.process.communicate(timeout=15)
    finally:
        stop(running.process)
    assert running.process.returncode == 0, stderr
    assert b"Traceback" not in stderr
    assert "×60" in running.lines[-1]  # faster-than-real time is said on screen
    assert_nothing_left(running)
    assert not running.workdir.exists()


def test_open_cockpit_gets_the_handle_and_the_stack_stops_after(tmp_path: Path) -> None:
    seen: list[StackHandle] = []

    def fake_tui(handle: StackHandle) -> int:
        seen.append(handle)
        assert handle.config_path.is_file() and handle.scenario == "db-down"
        assert handle.time_scale == 30
        return 7

    assert main(["--scenario", "db-down", "--time-scale", "30"], fake_tui) == 7
    handle = seen[0]
    assert handle.redis_pid is not None and gone(handle.redis_pid)
    assert not handle.workdir.exists()
    assert handle.inject("calm").startswith("Cannot inject calm")  # stopped: says so


def test_ctrl_c_in_the_cockpit_still_stops_the_stack() -> None:
    seen: list[StackHandle] = []

    def interrupted(handle: StackHandle) -> int:
        seen.append(handle)
        raise KeyboardInterrupt

    assert main([], interrupted) == 0
    assert not seen[0].workdir.exists()


def test_list_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-scenarios"], None) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIO_NAMES)
    assert all(len(line.split(None, 1)) == 2 for line in lines)  # each has a description


@pytest.mark.parametrize(("argv", "expected"), [
    (["--scenario", "volcano"], "unknown scenario 'volcano'; the scenarios are: calm, "),
    (["--time-scale", "0"], "--time-scale: must be above 0"),
    (["--time-scale", "fast"], "--time-scale: expected a number, got 'fast'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["logs", "/nonexistent/app.log"], "/nonexistent/app.log: no such file"),
])
def test_bad_input_is_a_clear_message_and_exit_2(
        argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv, None) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err


def test_logs_command_prints_the_file_as_a_subprocess(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text('{"level":"info","message":"one","timestamp":"2026-11-28T10:00:00.000Z"}\n'
                   "plain banner line\n")
    done = subprocess.run(
        [sys.executable, "-m", "ppcockpit.rehearsal", "logs", str(log), "--no-follow"],
        cwd=REPO, capture_output=True, text=True, timeout=20, env={**os.environ})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == log.read_text().splitlines()


def test_logs_command_follows_until_terminated(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("first\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "ppcockpit.rehearsal", "logs", str(log)], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert read_lines(process, 1, START_TIMEOUT) == ["first"]
        with log.open("a") as handle:
            handle.write('{"level":"error","message":"later"}\n')
        assert read_lines(process, 1, START_TIMEOUT) == ['{"level":"error","message":"later"}']
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0 and b"Traceback" not in stderr
    finally:
        stop(process)
