"""Where the app's log lines come from: a local command, a command over SSH, or a file.

Every source has one shape: `stream()` is an async iterator that yields one empty batch once
it is connected, then batches of raw lines (bytes, newline removed, at most the cap + 1
bytes each), and ends by raising `SourceEnded` (or any error) saying why. `supervise` runs a
source for as long as the cockpit lives, restarting it with jittered backoff and reporting
its state (streaming / down since T with the reason / restarting in N s)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shlex
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from ppcockpit.logs import SourceState
from ppcockpit.text import one_line
from probes.log_parse import DEFAULT_MAX_LINE_BYTES, LineSplitter, identity
from probes.ssh import SshError, SshTarget, stream_remote

READ_SIZE = 64 * 1024
MAX_BATCH = 1000  # lines parsed between two chances for the UI to run
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
PIPE_BATCHES = 16  # batches waiting between a command's pipes and the parser
TAIL_SCAN_BYTES = 4 * 1024 * 1024  # how far back a file source looks for its last N lines


_GONE = object()  # a command exited while a child of it kept its output open


class SourceEnded(Exception):
    """A source's stream stopped; the message says how, in one safe line."""


class LogSource(Protocol):
    description: str

    def stream(self) -> AsyncIterator[list[bytes]]: ...


# --- command ------------------------------------------------------------------------------


class CommandSource:
    """A local command (`kubectl logs -f …`, `vercel logs …`): its stdout and stderr."""

    def __init__(self, run: str, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 kill_grace: float = KILL_GRACE) -> None:
        self.argv = shlex.split(run)  # ValueError on unbalanced quotes: a config error
        if not self.argv:
            raise ValueError("run must name a command")
        self.max_line_bytes = max_line_bytes
        self.kill_grace = kill_grace
        self.description = f"command: {run}"
        self.pid: int | None = None  # of the running command, for tests and the curious

    async def stream(self) -> AsyncIterator[list[bytes]]:
        try:
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.subprocess_exec(
                lambda: _ExitAware(loop), *self.argv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
            process = asyncio.subprocess.Process(transport, protocol, loop)
        except FileNotFoundError:
            raise SourceEnded(f"command not found: {self.argv[0]}") from None
        except PermissionError:
            raise SourceEnded(f"command not executable: {self.argv[0]}") from None
        except OSError as exc:
            raise SourceEnded(f"cannot start {self.argv[0]}: {exc.strerror or exc}") from None
        self.pid = process.pid
        queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue(PIPE_BATCHES)
        assert process.stdout is not None and process.stderr is not None
        pumps = [asyncio.create_task(self._pump(pipe, queue))
                 for pipe in (process.stdout, process.stderr)]
        exited = asyncio.ensure_future(_exit_of(process, protocol))
        try:
            yield []
            open_pipes = len(pumps)
            while open_pipes:
                batch = await self._next_batch(queue, exited)
                if batch is _GONE:
                    break  # it exited, but something it started still holds its output
                if batch is None:
                    open_pipes -= 1
                elif batch:
                    yield batch
            try:  # both pipes closed: the command is ending (or hid itself; it gets killed)
                async with asyncio.timeout(self.kill_grace):
                    status = await asyncio.shield(exited)
            except TimeoutError:
                raise SourceEnded("command closed its output and was stopped") from None
            raise SourceEnded(_exit_text(status))
        finally:
            for pump in pumps:
                pump.cancel()
            exited.cancel()
            await self._stop(process)
            transport.close()  # its pipes too, even when a child of it still holds them
            self.pid = None

    async def _next_batch(self, queue: asyncio.Queue[list[bytes] | None],
                          exited: asyncio.Future[int]) -> list[bytes] | object | None:
        """The next batch from the pipes; once the command has exited, what is left in them
        for `kill_grace` seconds, then _GONE."""
        if exited.done():
            try:
                async with asyncio.timeout(self.kill_grace):
                    return await queue.get()
            except TimeoutError:
                return _GONE
        if not queue.empty():
            return queue.get_nowait()
        getter = asyncio.ensure_future(queue.get())
        await asyncio.wait((getter, exited), return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        return await self._next_batch(queue, exited)

    async def _pump(self, pipe: asyncio.StreamReader,
                    queue: asyncio.Queue[list[bytes] | None]) -> None:
        splitter = LineSplitter(self.max_line_bytes)
        with contextlib.suppress(OSError, ValueError):  # a broken pipe ends like EOF
            while chunk := await pipe.read(READ_SIZE):
                lines = splitter.feed(chunk)
                if lines:
                    await queue.put(lines)  # waits when the parser is behind: bounded memory
        await queue.put(splitter.flush())
        await queue.put(None)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """SIGTERM to the command's process group, SIGKILL after a grace; always reaped."""
        if process.returncode is None:
            for sig, grace in ((signal.SIGTERM, self.kill_grace), (signal.SIGKILL, None)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
                try:
                    async with asyncio.timeout(grace):
                        await asyncio.shield(process.wait())
                    break
                except TimeoutError:
                    continue
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # anything it left behind
        await process.wait()


class _ExitAware(asyncio.subprocess.SubprocessStreamProtocol):
    """Says when the command exits. (`process.wait()` also waits for its pipes to close,
    which a child it left running can hold open for ever.)"""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=READ_SIZE, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


async def _exit_of(process: asyncio.subprocess.Process, protocol: _ExitAware) -> int:
    await protocol.exited.wait()
    assert process.returncode is not None
    return process.returncode


def _exit_text(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = str(-status)
        return f"command killed by {name}"
    return f"command exited with status {status}"


# --- ssh ------------------------------------------------------------------------------------


class SshSource:
    """A command run on a host over SSH (host key verified against known_hosts)."""

    def __init__(self, target: SshTarget, run: str, *,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if not run.strip():
            raise ValueError("run must name a command")
        self.target = target
        self.run = run
        self.max_line_bytes = max_line_bytes
        self.description = f"ssh {target.address}: {run}"

    def stream(self) -> AsyncIterator[list[bytes]]:
        return stream_remote(self.target, self.run, max_line_bytes=self.max_line_bytes)


# --- file ----------------------------------------------------------------------------------


class FileSource:
    """A growing file, followed across rotation (renamed, a new file in its place) and
    truncation (copytruncate), starting from its last `tail_lines` lines."""

    def __init__(self, path: str | Path, *, tail_lines: int = 200,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, poll_interval: float = 0.25,
                 read_size: int = READ_SIZE) -> None:
        self.path = Path(path).expanduser()
        self.tail_lines = tail_lines
        self.max_line_bytes = max_line_bytes
        self.poll_interval = poll_interval
        self.read_size = read_size
        self.description = f"file: {self.path}"
        self._resume: tuple[int, int, int] | None = None  # (device, inode, offset) last read
        self.rotations = 0
        self.truncations = 0

    async def stream(self) -> AsyncIterator[list[bytes]]:
        handle = await asyncio.to_thread(self._open)
        splitter = LineSplitter(self.max_line_bytes)
        try:
            yield []
            while True:
                chunk, change = await asyncio.to_thread(self._read, handle)
                if chunk:
                    lines = splitter.feed(chunk)
                    if lines:
                        yield lines
                    continue
                if change is None:
                    await asyncio.sleep(self.poll_interval)
                    continue
                rest = splitter.flush()  # the old file's last line had no newline
                if rest:
                    yield rest
                if change == "rotated":
                    self.rotations += 1
                    new = await asyncio.to_thread(self._reopen)
                    if new is not None:
                        handle.close()
                        handle = new
                else:
                    self.truncations += 1
                    handle.seek(0)
        finally:
            handle.close()

    def _open(self) -> BinaryIO:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            raise SourceEnded(f"no such file: {self.path}") from None
        except IsADirectoryError:
            raise SourceEnded(f"{self.path} is a directory") from None
        except OSError as exc:
            raise SourceEnded(f"cannot open {self.path}: {exc.strerror or exc}") from None
        stat = os.fstat(handle.fileno())
        resume = self._resume
        if resume is None:  # the first start: the last lines, as tail -n does
            handle.seek(_tail_offset(handle, self.tail_lines, stat.st_size))
        elif resume[:2] == (stat.st_dev, stat.st_ino) and stat.st_size >= resume[2]:
            handle.seek(resume[2])  # the same file, restarted: no line twice
        self._remember(handle)
        return handle

    def _reopen(self) -> BinaryIO | None:
        try:
            handle = self.path.open("rb")
        except OSError:
            return None  # mid-rotation: the new file appears in a moment
        self._remember(handle)
        return handle

    def _read(self, handle: BinaryIO) -> tuple[bytes, str | None]:
        chunk = handle.read(self.read_size)
        if chunk:
            self._remember(handle)
            return chunk, None
        try:
            current = os.stat(self.path)
        except OSError:
            return b"", None  # moved away and not yet replaced: keep the old one
        mine = os.fstat(handle.fileno())
        if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
            return b"", "rotated"
        if current.st_size < handle.tell():
            return b"", "truncated"
        return b"", None

    def _remember(self, handle: BinaryIO) -> None:
        stat = os.fstat(handle.fileno())
        self._resume = (stat.st_dev, stat.st_ino, handle.tell())


def _tail_offset(handle: BinaryIO, lines: int, size: int) -> int:
    """Where the last `lines` lines start, looking back at most TAIL_SCAN_BYTES."""
    if lines <= 0:
        return size
    position, newlines = size, 0
    floor = max(0, size - TAIL_SCAN_BYTES)
    handle.seek(max(floor, size - 1))
    if size and handle.read(1) == b"\n":
        position -= 1  # the final newline ends the last line; it does not start one
    while position > floor:
        start = max(floor, position - READ_SIZE)
        handle.seek(start)
        block = handle.read(position - start)
        index = len(block)
        while (index := block.rfind(b"\n", 0, index)) >= 0:
            newlines += 1
            if newlines == lines:
                return start + index + 1
        position = start
    return floor


# --- supervision --------------------------------------------------------------------------


class Backoff:
    """1 s, 2 s, 4 s … up to `maximum`, each ±`jitter` (so many cockpits do not retry in
    step); back to the start once a stream has run for a while."""

    def __init__(self, initial: float = 1.0, maximum: float = 30.0, factor: float = 2.0,
                 jitter: float = 0.2, rng: Callable[[], float] = random.random) -> None:
        self.initial, self.maximum, self.factor, self.jitter = initial, maximum, factor, jitter
        self.rng = rng
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay * (1 + self.jitter * (2 * self.rng() - 1))

    def reset(self) -> None:
        self._next = self.initial


async def supervise(source: LogSource, on_lines: Callable[[Sequence[bytes]], None],
                    on_state: Callable[[SourceState], None], *,
                    backoff: Backoff | None = None, stable_after: float = 10.0,
                    redact: Callable[[str], str] = identity,
                    clock: Callable[[], float] = time.time) -> None:
    """Run `source` until cancelled: lines to `on_lines`, every change of state to
    `on_state`. A flood never starves the event loop: it yields after every batch."""
    backoff = backoff or Backoff()
    description = redact(one_line(source.description, 300))
    where = description.split(": ", 1)[0] + ": "  # "ssh deploy@web1:22: "
    down_since: float | None = None
    reason = ""
    while True:
        on_state(SourceState("connecting", description, since=down_since, reason=reason))
        started: float | None = None
        try:
            async with contextlib.aclosing(source.stream()) as batches:  # type: ignore[type-var]
                async for batch in batches:
                    if started is None:
                        started, down_since, reason = clock(), None, ""
                        on_state(SourceState("streaming", description, since=started))
                    for first in range(0, len(batch), MAX_BATCH):
                        on_lines(batch[first:first + MAX_BATCH])
                        await asyncio.sleep(0)
            reason = "the stream ended"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of a source is reported, never raised
            reason = str(exc) if isinstance(exc, SourceEnded | SshError) else \
                f"{type(exc).__name__}: {exc}"
        reason = redact(one_line(reason, 300))
        if reason.startswith(where) and len(reason) > len(where):
            reason = reason[len(where):]  # the state line names the source already
        now = clock()
        if started is not None and now - started >= stable_after:
            backoff.reset()
        if down_since is None:
            down_since = now
        delay = backoff.next()
        on_state(SourceState("down", description, since=down_since, reason=reason,
                             retry_at=now + delay))
        await asyncio.sleep(delay)
