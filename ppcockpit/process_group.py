"""Child processes in a process group of their own, stopped as a whole.

A command the cockpit starts (a runbook step, git) runs in a new session, so its process
group holds it and everything it starts. Stopping it signals the whole group: SIGTERM, a
short grace, then SIGKILL for whatever is still alive. Nothing it started outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

KILL_GRACE_S = 2.0
_POLL_S = 0.02
_DEATH_S = 1.0
_STREAM_LIMIT = 1 << 16  # asyncio's default; reading pauses beyond twice this
_PROC = Path("/proc")


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Says when the process exits, whether or not its pipes are still open (asyncio's own
    Process.wait() also waits for the pipes, which a background child may hold forever)."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclass(eq=False)
class GroupProcess:
    """A started process leading its own group."""

    process: asyncio.subprocess.Process
    transport: asyncio.SubprocessTransport
    exited: asyncio.Event

    @property
    def pgid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.transport.get_returncode()

    async def wait_exit(self) -> int:
        """The leader's exit code, as soon as it exits (its pipes may stay open)."""
        await self.exited.wait()
        code = self.returncode
        assert code is not None
        return code

    def close(self) -> None:
        """Release the pipes (once the group is stopped)."""
        self.transport.close()


async def spawn_in_group(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                         merge_stderr: bool = False) -> GroupProcess:
    """Start `argv` (never through a shell) as the leader of a new session and process
    group, stdin from /dev/null (nothing it asks can wait for an answer, and with no
    controlling terminal nothing can prompt on one). OSError/ValueError as exec raises."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: _ExitAwareProtocol(limit=_STREAM_LIMIT, loop=loop), *argv,
        cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        start_new_session=True)
    process = asyncio.subprocess.Process(transport, protocol, loop)
    return GroupProcess(process, transport, protocol.exited)


def live_members(pgid: int) -> bool:
    """Whether any process of group `pgid` is still running. Zombies do not count: a dead
    child whose new parent (init) has not reaped it yet runs nothing."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def reap_orphans(pgid: int) -> None:
    """Reap members of group `pgid` that became our children when their parent died: that
    happens when this process is a subreaper or PID 1 (a container without an init), and
    then nobody else will. Call only after the group's leader has been awaited, so that
    asyncio's own wait for the leader is never robbed."""
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


async def stop_group(process: GroupProcess, *, grace: float = KILL_GRACE_S) -> str | None:
    """Stop every process of `process`'s group and await its leader's exit. Returns the last
    signal that was needed ("SIGTERM", "SIGKILL"), None when nothing was left running.

    If this coroutine is cancelled midway, the group gets SIGKILL before the cancellation
    goes on: a second Ctrl+C never leaves a half-stopped group behind."""
    pgid = process.pgid
    if process.returncode is not None and not live_members(pgid):
        reap_orphans(pgid)
        return None
    try:
        used = "SIGTERM"
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        if process.returncode is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await process.wait_exit()
        # Members that outlive the leader give no event when they exit: poll for them.
        while live_members(pgid) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_S)
        if live_members(pgid) or process.returncode is None:
            used = "SIGKILL"
            _signal_group(pgid, signal.SIGKILL)
            # Killed is not yet dead: wait until no member runs (bounded, for a process
            # stuck in the kernel).
            deadline = time.monotonic() + _DEATH_S
            while live_members(pgid) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(_POLL_S / 4)
        await process.wait_exit()
    except BaseException:
        _signal_group(pgid, signal.SIGKILL)
        raise
    reap_orphans(pgid)
    return used


@dataclass(frozen=True, slots=True)
class Captured:
    """What a short-lived tool (git) said: its exit code, stdout and stderr (each cut at a
    limit), or that it was stopped at its timeout."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


async def run_captured(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                       timeout: float, limit: int = 4 << 20) -> Captured:  # noqa: ASYNC109
    """Run `argv` in its own group, capture at most `limit` bytes of each stream (the rest
    is read and dropped, so the tool never blocks on a full pipe), stop the group at
    `timeout`. OSError/ValueError when it cannot start."""
    process = await spawn_in_group(argv, cwd=cwd, env=env)
    streams = (process.process.stdout, process.process.stderr)
    assert streams[0] is not None and streams[1] is not None
    readers = [asyncio.ensure_future(_read_bounded(stream, limit)) for stream in streams]
    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            await process.wait_exit()
            out, err = await asyncio.gather(*readers)
    except TimeoutError:
        timed_out = True
    finally:
        try:
            await stop_group(process)
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            process.close()
    if timed_out:
        return Captured(None, b"", b"", timed_out=True)
    return Captured(process.returncode, out, err)


async def _read_bounded(stream: asyncio.StreamReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


def signal_name(returncode: int) -> str:
    """"SIGKILL" for an asyncio returncode of -9."""
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


__all__ = ["KILL_GRACE_S", "Captured", "GroupProcess", "live_members", "reap_orphans",
           "run_captured", "signal_name", "spawn_in_group", "stop_group"]
