"""Running a runbook `command` step: one shell command line, watched to the end.

The line runs under `/bin/sh -c` in `cwd` with exactly the environment given, in a process
group of its own, stdin from /dev/null. `{name}` placeholders are filled first, each value
shell-quoted (ppcockpit.command_template); `${VAR}` is left for the shell. Output (stdout
and stderr merged, in the order the process wrote it) is read in bounded chunks and cut
into bounded lines; every line is stripped of terminal control sequences and redacted
before `on_line` sees it or it enters the kept tail.

However it ends (exit, timeout, cancellation), nothing it started is left running: the
whole group gets SIGTERM, then SIGKILL after a short grace. That includes background
processes a passing command left behind.

Cancellation (the awaiting task is cancelled: Ctrl+C in the cockpit) is caught: the group
is stopped and a result with `cancelled=True` is RETURNED, so the caller can journal it.
The task's cancellation count is left as it is (no `uncancel()`), so a caller that must
stop anyway can check `asyncio.current_task().cancelling()` after recording.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from ppcockpit.command_output import LineAssembler
from ppcockpit.command_template import StepCommandError, fill_placeholders, placeholders_in
from ppcockpit.process_group import (
    KILL_GRACE_S,
    GroupProcess,
    signal_name,
    spawn_in_group,
    stop_group,
)
from ppcockpit.text import one_line, strip_controls

SHELL = "/bin/sh"
CHUNK = 8192  # small enough that one chunk's lines hold the event loop only a few ms
DRAIN_S = 2.0  # after the group is stopped, how long the rest of the output may take
_EXIT_MEANING = {126: "not executable", 127: "command not found"}


@dataclasses.dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command step ended. `exit_code` is None when it did not exit by itself
    (timed out, cancelled, never started); a negative one means killed by that signal."""

    exit_code: int | None
    duration_s: float
    output_tail: tuple[str, ...]  # the last lines, clean and redacted
    timed_out: bool
    cancelled: bool
    summary: str  # one line: what happened, fit to show and to journal
    line_count: int = 0  # every line the command printed, not only the tail
    started: bool = True

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


async def run_step_command(
        run: str, *, cwd: Path, env: Mapping[str, str],
        timeout: float,  # noqa: ASYNC109 (the step's own limit, journaled as timed_out)
        placeholders: Mapping[str, str], on_line: Callable[[str], None],
        redact: Callable[[str], str], max_tail: int = 200, max_line: int = 4096,
        shell: str = SHELL, kill_grace: float = KILL_GRACE_S) -> CommandResult:
    """Run the command line `run` and return how it ended.

    `env` is the child's whole environment (not added to os.environ). Raises
    StepCommandError before anything runs for an unknown placeholder, one inside quotes,
    or a timeout that is not a positive number. An exception raised by `on_line` stops
    the command and propagates. Everything else ends in a CommandResult."""
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise StepCommandError("the timeout must be a positive number of seconds")
    if max_tail < 0:
        raise StepCommandError("max_tail must not be negative")
    script = fill_placeholders(run, placeholders)
    output = _Output(redact, on_line, max_tail, LineAssembler(max_line))
    began = time.monotonic()

    not_started = _cannot_start(cwd, shell)
    if not_started:
        return output.result(None, began, summary=f"could not start: {not_started}",
                             started=False)
    try:
        process = await spawn_in_group([shell, "-c", script], cwd=cwd, env=env,
                                       merge_stderr=True)
    except asyncio.CancelledError:
        return output.result(None, began, cancelled=True, started=False,
                             summary="cancelled before it started")
    except (OSError, ValueError) as exc:
        why = _cannot_start(cwd, shell) or one_line(redact(str(exc)), 160)
        return output.result(None, began, summary=f"could not start: {why}", started=False)

    assert process.process.stdout is not None
    pump = asyncio.ensure_future(_pump(process.process.stdout, output))
    timed_out = cancelled = leftover = False
    stopped_with: str | None = None
    deadline = asyncio.timeout(timeout)
    try:
        try:
            async with deadline:
                await _until_exit(process, pump)
        except TimeoutError:
            if not deadline.expired():
                raise  # from on_line, not ours
            timed_out = True
        except asyncio.CancelledError:
            cancelled = True
        stopped_with = await stop_group(process, grace=kill_grace)
        leftover = await _drain(pump)
    except asyncio.CancelledError:  # cancelled again while stopping: the group got SIGKILL
        cancelled, stopped_with, leftover = True, "SIGKILL", False
    finally:
        if process.returncode is None or not pump.done():
            await _stop_quietly(process, pump)
        process.close()
    output.flush()

    result = output.result(None if timed_out or cancelled else process.returncode, began,
                           timed_out=timed_out, cancelled=cancelled)
    summary = _summary(result, timeout, stopped_with, leftover, output.last_line)
    return dataclasses.replace(result, summary=summary)


class _Output:
    """The lines seen so far: counted, cleaned, redacted, streamed, the last kept."""

    def __init__(self, redact: Callable[[str], str], on_line: Callable[[str], None],
                 max_tail: int, assembler: LineAssembler) -> None:
        self._redact = redact
        self._on_line = on_line
        self.tail: deque[str] = deque(maxlen=max_tail)
        self.count = 0
        self.assembler = assembler
        self.last_line = ""  # the last line with something on it, for the summary

    def feed(self, data: bytes) -> None:
        self._emit(self.assembler.feed(data))

    def flush(self) -> None:
        self._emit(self.assembler.finish())

    def _emit(self, lines: list[str]) -> None:
        for raw in lines:
            line = self._redact(strip_controls(raw))
            self.count += 1
            self.tail.append(line)
            if line.strip():
                self.last_line = line
            self._on_line(line)

    def result(self, exit_code: int | None, began: float, *, timed_out: bool = False,
               cancelled: bool = False, started: bool = True,
               summary: str = "") -> CommandResult:
        return CommandResult(exit_code=exit_code,
                             duration_s=round(time.monotonic() - began, 3),
                             output_tail=tuple(self.tail), timed_out=timed_out,
                             cancelled=cancelled, summary=summary, line_count=self.count,
                             started=started)


async def _pump(stream: asyncio.StreamReader, output: _Output) -> None:
    while chunk := await stream.read(CHUNK):
        output.feed(chunk)
        # read() returns buffered data without yielding: let the screen redraw between
        # chunks of a flood of output.
        await asyncio.sleep(0)


async def _until_exit(process: GroupProcess, pump: asyncio.Future[None]) -> None:
    """Until the command's shell exits; an error raised by `on_line` ends it early."""
    waiter = asyncio.ensure_future(process.wait_exit())
    try:
        await asyncio.wait({waiter, pump}, return_when=asyncio.FIRST_COMPLETED)
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            pump.result()  # raise it
        await waiter
    finally:
        waiter.cancel()


async def _drain(pump: asyncio.Future[None]) -> bool:
    """Read what is left of the output. True when something outside the process group
    (a daemon that left it) still held the output open and reading had to stop."""
    try:
        async with asyncio.timeout(DRAIN_S):
            await pump
    except TimeoutError:
        return True
    return False


async def _stop_quietly(process: GroupProcess, pump: asyncio.Future[None]) -> None:
    """Last-resort cleanup on an error path: SIGKILL the group, stop reading."""
    pump.cancel()
    try:
        await stop_group(process, grace=0)
    except asyncio.CancelledError:
        pass  # stop_group sent SIGKILL before letting it through
    except Exception:  # the error being handled matters more than this one
        return


def _cannot_start(cwd: Path, shell: str) -> str | None:
    if not cwd.exists():
        return f"the working directory {cwd} does not exist"
    if not cwd.is_dir():
        return f"the working directory {cwd} is not a directory"
    if not Path(shell).is_file():
        return f"{shell} not found"
    return None


def _summary(result: CommandResult, timeout: float, stopped_with: str | None,
             leftover: bool, last_line: str) -> str:
    took = f"{result.duration_s:.1f}s"
    stop = f" (stopped with {stopped_with})" if stopped_with else ""
    if result.cancelled:
        text = f"cancelled after {took}{stop}"
    elif result.timed_out:
        text = f"timed out after {timeout:g}s{stop}"
    elif result.exit_code == 0:
        text = f"passed (exit 0) in {took}"
    elif result.exit_code is not None and result.exit_code < 0:
        text = f"failed (killed by {signal_name(result.exit_code)}) after {took}"
    else:
        meaning = _EXIT_MEANING.get(result.exit_code or 0)
        text = f"failed (exit {result.exit_code}" + (f": {meaning}" if meaning else "") + \
            f") in {took}"
    if not result.cancelled and not result.timed_out and stopped_with:
        text += f"; processes it left running were stopped ({stopped_with})"
    if leftover:
        text += "; output still held open outside its process group, no longer read"
    if last_line and not result.passed:
        text += f": {last_line}"
    return one_line(text, 240)


__all__ = ["CommandResult", "StepCommandError", "placeholders_in", "run_step_command"]
