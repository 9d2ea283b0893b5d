"""run_step_command against real /bin/sh processes: results, streaming, cleaning, redaction,
bounded memory, placeholders, and no process left behind after timeout or cancellation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ppcockpit.command_output import CUT_MARK
from ppcockpit.secrets import Redactor, fingerprint
from ppcockpit.step_command import CommandResult, StepCommandError, run_step_command

SECRET = "sbp_PLANTEDsecret0123456789"
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


class Lines(list[str]):
    """on_line's record, with an event for lines that start with a given text."""

    def __init__(self) -> None:
        super().__init__()
        self._events: dict[str, asyncio.Event] = {}
        self.pid_seen = self.seen("pid=")

    def seen(self, prefix: str) -> asyncio.Event:
        return self._events.setdefault(prefix, asyncio.Event())

    def __call__(self, line: str) -> None:
        self.append(line)
        for prefix, event in self._events.items():
            if line.startswith(prefix):
                event.set()

    @property
    def pgid(self) -> int:
        return int(next(line for line in self if line.startswith("pid="))[4:])


async def run(command: str, tmp_path: Path, *, lines: Lines | None = None,
              limit: float = 30.0, placeholders: dict[str, str] | None = None,
              redact: Redactor | None = None, **options: object) -> CommandResult:
    return await run_step_command(
        command, cwd=tmp_path, env=options.pop("env", ENV),  # type: ignore[arg-type]
        timeout=limit, placeholders=placeholders or {},
        on_line=lines if lines is not None else Lines(), redact=redact or Redactor(),
        **options)  # type: ignore[arg-type]


def group_processes(pgid: int) -> list[tuple[int, str, int]]:
    """(pid, state, ppid) of every process whose process group is `pgid`, read from /proc
    here, independently of the code under test."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid, pgrp = stat[stat.rfind(")") + 2:].split()[:3]
        if int(pgrp) == pgid:
            found.append((int(entry.name), state, int(ppid)))
    return found


def assert_group_gone(pgid: int) -> None:
    """Nothing of the group runs, and nothing is our zombie. (A dead grandchild handed to
    PID 1 waits for PID 1 to reap it; the subreaper test below proves none stays when the
    cockpit is the reaper.)"""
    left = group_processes(pgid)
    assert [p for p in left if p[1] not in ("Z", "X")] == [], left
    assert [p for p in left if p[2] == os.getpid()] == [], left


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


async def test_exit_zero_passes(tmp_path: Path) -> None:
    result = await run("echo hello", tmp_path)
    assert result.passed and result.exit_code == 0
    assert result.output_tail == ("hello",)
    assert result.summary.startswith("passed (exit 0) in ")
    assert not result.timed_out and not result.cancelled


async def test_exit_one_fails_with_its_last_line(tmp_path: Path) -> None:
    result = await run("echo working; echo 'assertion failed' >&2; exit 1", tmp_path)
    assert not result.passed and result.exit_code == 1
    assert result.summary.startswith("failed (exit 1) in ")
    assert result.summary.endswith(": assertion failed")


async def test_stdout_and_stderr_stream_in_order_while_it_runs(tmp_path: Path) -> None:
    lines = Lines()
    flag = tmp_path / "flag"

    def on_line(line: str) -> None:
        lines(line)
        if line == "ready":  # the command waits for this: lines arrive while it runs
            flag.touch()

    result = await run_step_command(
        "echo one; echo two >&2; echo ready; while [ ! -e flag ]; do sleep 0.01; done; "
        "echo three >&2; echo four", cwd=tmp_path, env=ENV, timeout=30, placeholders={},
        on_line=on_line, redact=Redactor())
    assert result.passed
    assert lines == ["one", "two", "ready", "three", "four"]
    assert result.line_count == 5


async def test_planted_secret_never_reaches_lines_tail_or_summary(tmp_path: Path) -> None:
    lines = Lines()
    result = await run(
        f"echo token={SECRET}; printf 'sbp_PLANTED\\033[1msecret0123456789\\n';"
        f" echo fatal: {SECRET} >&2; exit 2", tmp_path, lines=lines,
        redact=Redactor([SECRET]))
    everything = "\n".join([*lines, *result.output_tail, result.summary])
    assert SECRET not in everything
    assert "sbp_PLANTEDsecret" not in everything
    assert lines[0] == f"token=[{fingerprint(SECRET)}]"
    assert lines[1] == f"[{fingerprint(SECRET)}]"  # hidden even when split by an escape


async def test_secret_cut_by_the_line_limit_is_hidden(tmp_path: Path) -> None:
    result = await run(f"printf '%090d{SECRET}\\n' 0", tmp_path, max_line=100,
                       redact=Redactor([SECRET]))
    line = result.output_tail[0]
    assert "sbp_PLANT" not in line and "[redacted]" in line


async def test_terminal_control_sequences_are_stripped(tmp_path: Path) -> None:
    result = await run(
        r"printf '\033[31mred\033[0m \033]0;pwned title\007ok \033]8;;http://x\033\\link"
        r"\033]8;;\033\\ \033P+q\033\\bell\007 \302\2332Jdone\n'", tmp_path)
    (line,) = result.output_tail
    assert "\x1b" not in line and "\x07" not in line and "\x9b" not in line
    assert line == "red ok link bell done"


async def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    result = await run(r"printf 'caf\351 \377\n'", tmp_path)
    assert result.output_tail == ("caf\ufffd \ufffd",)


async def test_megabyte_line_without_newline_is_cut_and_bounded(tmp_path: Path) -> None:
    result = await run("head -c 1048576 /dev/zero | tr '\\0' x", tmp_path)
    assert result.passed
    assert result.output_tail == ("x" * 4096 + CUT_MARK.format(max_line=4096),)


async def test_endless_output_without_newline_stays_one_bounded_line(tmp_path: Path) -> None:
    lines = Lines()
    result = await run("yes | tr -d '\\n'", tmp_path, lines=lines, limit=0.5,
                       max_line=64)
    assert result.timed_out and not result.passed
    assert len(lines) == 1 and len(lines[0]) < 200


async def test_huge_output_keeps_only_the_tail(tmp_path: Path) -> None:
    lines = Lines()
    result = await run("seq 100000", tmp_path, lines=lines)
    assert result.passed and result.line_count == 100000 and len(lines) == 100000
    assert result.output_tail == tuple(str(n) for n in range(99801, 100001))


async def test_placeholder_values_cannot_inject_shell_syntax(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    values = {"deployment_url": f"x; touch {pwned}", "sha": f"$(touch {pwned})`touch {pwned}`"}
    result = await run("echo {deployment_url} {sha}", tmp_path, placeholders=values)
    assert result.passed
    assert result.output_tail == (f"{values['deployment_url']} {values['sha']}",)
    assert not pwned.exists()


async def test_unknown_placeholder_raises_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(StepCommandError, match=r"unknown placeholder \{shaa\}.*\{sha\}"):
        await run("touch ran; echo {shaa}", tmp_path, placeholders={"sha": "abc"})
    assert not (tmp_path / "ran").exists()


async def test_environment_variables_are_the_shells(tmp_path: Path) -> None:
    result = await run("echo ${GREETING} $GREETING", tmp_path,
                       env={**ENV, "GREETING": "hi there"})
    assert result.output_tail == ("hi there hi there",)


async def test_missing_working_directory(tmp_path: Path) -> None:
    result = await run_step_command(
        "echo x", cwd=tmp_path / "nowhere", env=ENV, timeout=5, placeholders={},
        on_line=Lines(), redact=Redactor())
    assert not result.started and result.exit_code is None and not result.passed
    assert result.summary == f"could not start: the working directory {tmp_path / 'nowhere'}" \
        " does not exist"


async def test_missing_shell(tmp_path: Path) -> None:
    result = await run("echo x", tmp_path, shell=str(tmp_path / "sh"))
    assert not result.started and not result.passed
    assert result.summary == f"could not start: {tmp_path / 'sh'} not found"


async def test_command_not_found_says_so(tmp_path: Path) -> None:
    result = await run("no-such-command-xyz --flag", tmp_path)
    assert result.exit_code == 127
    assert result.summary.startswith("failed (exit 127: command not found) in ")
    assert "no-such-command-xyz" in result.summary


async def test_killed_by_a_signal_says_which(tmp_path: Path) -> None:
    result = await run("kill -9 $$", tmp_path)
    assert result.exit_code == -9
    assert result.summary.startswith("failed (killed by SIGKILL)")


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
async def test_a_timeout_that_is_not_a_positive_number_is_refused(
        tmp_path: Path, bad: float) -> None:
    with pytest.raises(StepCommandError, match="timeout"):
        await run("touch ran", tmp_path, limit=bad)
    assert not (tmp_path / "ran").exists()


@needs_proc
async def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    lines = Lines()
    result = await run("echo pid=$$; sh -c 'sleep 60 & sleep 60'", tmp_path, lines=lines,
                       limit=0.5)
    assert result.timed_out and not result.passed and result.exit_code is None
    assert result.summary.startswith("timed out after 0.5s (stopped with SIGTERM)")
    assert_group_gone(lines.pgid)


@needs_proc
async def test_cancellation_kills_the_whole_group_and_returns_cancelled(tmp_path: Path) -> None:
    lines = Lines()
    task = asyncio.create_task(run("echo pid=$$; sh -c 'sleep 60 & sleep 60'", tmp_path,
                                   lines=lines))
    await lines.pid_seen.wait()
    task.cancel()
    result = await task
    assert result.cancelled and not result.passed and result.exit_code is None
    assert result.summary.startswith("cancelled after ")
    assert_group_gone(lines.pgid)


@needs_proc
async def test_a_process_ignoring_sigterm_gets_sigkill(tmp_path: Path) -> None:
    lines = Lines()
    result = await run("trap '' TERM; echo pid=$$; sleep 60", tmp_path, lines=lines,
                       limit=0.3, kill_grace=0.2)
    assert result.timed_out
    assert result.summary.startswith("timed out after 0.3s (stopped with SIGKILL)")
    assert_group_gone(lines.pgid)


@needs_proc
async def test_second_cancel_while_stopping_still_leaves_nothing(tmp_path: Path) -> None:
    lines = Lines()
    # The shell survives SIGTERM (it only says so); its sleeps do not.
    task = asyncio.create_task(run(
        "trap 'echo got-term' TERM; echo pid=$$; while :; do sleep 1 & wait; done",
        tmp_path, lines=lines, kill_grace=30))
    await lines.pid_seen.wait()
    task.cancel()
    await lines.seen("got-term").wait()  # now in its grace period
    task.cancel()
    result = await task
    assert result.cancelled and "SIGKILL" in result.summary
    assert_group_gone(lines.pgid)


@needs_proc
async def test_processes_a_passing_command_leaves_behind_are_stopped(tmp_path: Path) -> None:
    lines = Lines()
    result = await run("echo pid=$$; sleep 60 & echo started", tmp_path, lines=lines)
    assert result.passed
    assert "processes it left running were stopped" in result.summary
    assert_group_gone(lines.pgid)


@needs_proc
async def test_an_error_in_on_line_stops_the_command_and_propagates(tmp_path: Path) -> None:
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        if line.startswith("pid="):
            raise RuntimeError("screen went away")

    with pytest.raises(RuntimeError, match="screen went away"):
        await run_step_command("echo pid=$$; sleep 60", cwd=tmp_path, env=ENV, timeout=30,
                               placeholders={}, on_line=on_line, redact=Redactor())
    assert_group_gone(int(seen[0][4:]))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_as_its_own_reaper_the_cockpit_leaves_not_even_a_zombie(tmp_path: Path) -> None:
    """When the cockpit is a subreaper (or PID 1 in a container), orphaned members of the
    group become its children: it reaps them, so not even a zombie is left."""
    script = textwrap.dedent("""
        import asyncio, ctypes, os, sys
        from pathlib import Path
        from ppcockpit.secrets import Redactor
        from ppcockpit.step_command import run_step_command
        PR_SET_CHILD_SUBREAPER = 36
        assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1) == 0
        lines = []
        result = asyncio.run(run_step_command(
            "echo pid=$$; sh -c 'sleep 60 & sleep 60 & wait' & sleep 60",
            cwd=Path(sys.argv[1]), env=dict(os.environ), timeout=0.5, placeholders={},
            on_line=lines.append, redact=Redactor()))
        pgid = int(lines[0][4:])
        left = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rfind(")") + 2:].split()[2]) == pgid:
                    left.append(entry.name)
        print(result.timed_out, left)
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "True []"
