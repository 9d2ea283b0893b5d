"""The running log tail: one source, supervised, parsed into the LogBuffer the panel reads.

The App owns one `LogTail`: `start()` after the first frame, `await stop()` on unmount. It
runs on the App's event loop; the panel never waits for it (it is told when the buffer
changed and pulls at most every 100 ms)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ppcockpit.logs import NO_SOURCE, LogBuffer, SourceState
from ppcockpit.task_stop import cancel_and_wait
from probes.log_parse import DEFAULT_MAX_LINE_BYTES, LineParser, identity
from probes.log_sources import Backoff, CommandSource, FileSource, LogSource, SshSource, supervise
from probes.ssh import CONNECT_TIMEOUT, DEFAULT_KNOWN_HOSTS, SshTarget

SOURCE_KINDS = ("command", "ssh", "file")
DEFAULT_TAIL_LINES = 200


def make_log_source(source: str | None, *, run: str | None = None, host: str | None = None,
                    port: int = 22, user: str | None = None, key_file: str | None = None,
                    known_hosts: str = DEFAULT_KNOWN_HOSTS, path: str | Path | None = None,
                    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                    tail_lines: int = DEFAULT_TAIL_LINES,
                    connect_timeout: float = CONNECT_TIMEOUT) -> LogSource | None:
    """The source `[environments.NAME.logs]` describes; None when it names none.
    ValueError (naming the key) when a key the source needs is missing or wrong."""
    if source is None:
        return None
    if source == "command":
        if not run:
            raise ValueError('logs: source = "command" needs `run`')
        return CommandSource(run, max_line_bytes=max_line_bytes)
    if source == "ssh":
        if not host or not run:
            raise ValueError('logs: source = "ssh" needs `host` and `run`')
        target = SshTarget(host, port, user, key_file, known_hosts or DEFAULT_KNOWN_HOSTS,
                           connect_timeout=connect_timeout)
        return SshSource(target, run, max_line_bytes=max_line_bytes)
    if source == "file":
        if not path:
            raise ValueError('logs: source = "file" needs `path`')
        return FileSource(path, tail_lines=tail_lines, max_line_bytes=max_line_bytes)
    raise ValueError(f"logs: source {source!r} is not one of {', '.join(SOURCE_KINDS)}")


class LogTail:
    """Supervises `source` (None: "no log source configured") into `buffer`."""

    def __init__(self, buffer: LogBuffer, source: LogSource | None, *,
                 redact: Callable[[str], str] = identity,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 backoff: Backoff | None = None, stable_after: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.buffer = buffer
        self.source = source
        self.redact = redact
        self.parser = LineParser(redact=redact, max_line_bytes=max_line_bytes)
        self.backoff = backoff
        self.stable_after = stable_after
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        buffer.set_state(NO_SOURCE)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start streaming on the running loop (nothing to do without a source)."""
        if self.source is None or self.running:
            return
        self._task = asyncio.get_running_loop().create_task(
            supervise(self.source, self._lines, self._state, backoff=self.backoff,
                      stable_after=self.stable_after, redact=self.redact, clock=self.clock),
            name="log-tail")

    async def stop(self) -> None:
        """Stop the source (its command killed, its connection closed) and wait for it."""
        task, self._task = self._task, None
        if task is None:
            return
        await cancel_and_wait([task])

    def _lines(self, raws: Sequence[bytes]) -> None:
        self.parser.parse_into(raws, self.buffer, self.clock())

    def _state(self, state: SourceState) -> None:
        self.buffer.set_state(state)
