"""SSH to a host the operator trusts, to stream or run a command there (asyncssh, imported
when first used). The host key is always checked against a known_hosts file: an unknown or
changed key refuses the connection, naming the host and the fingerprint it presented.

Shared by the log tail (`stream_remote`) and, later, rollback actions (`run_remote`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ppcockpit.text import one_line, strip_controls
from probes.log_parse import DEFAULT_MAX_LINE_BYTES, LineSplitter

if TYPE_CHECKING:
    import asyncssh

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
CONNECT_TIMEOUT = 10.0
KEEPALIVE_INTERVAL = 15.0  # a silent dead peer is noticed after 3 of these
READ_SIZE = 64 * 1024
MAX_OUTPUT = 64 * 1024


class SshTarget(msgspec.Struct, frozen=True):
    """Where to connect and how to prove who we are and who they are."""

    host: str
    port: int = 22
    user: str | None = None
    key_file: str | None = None  # None: asyncssh's defaults (agent, ~/.ssh/id_*)
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    connect_timeout: float = CONNECT_TIMEOUT
    keepalive_interval: float = KEEPALIVE_INTERVAL

    def __post_init__(self) -> None:
        if not self.known_hosts:
            raise ValueError("known_hosts must name a file: host keys are always verified")
        if not self.host:
            raise ValueError("host must not be empty")

    @property
    def address(self) -> str:
        """`user@host:port` (IPv6 hosts in brackets), for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}:{self.port}"

    @property
    def client_keys(self) -> list[str] | tuple[()]:
        return [os.path.expanduser(self.key_file)] if self.key_file else ()

    @property
    def known_hosts_path(self) -> Path:
        return Path(self.known_hosts).expanduser()


class SshError(Exception):
    """Connecting or running failed; the message is one safe line that names the host."""


class HostKeyRefused(SshError):
    """The host presented a key the known_hosts file does not trust."""

    def __init__(self, target: SshTarget, fingerprint: str | None, key_type: str | None,
                 changed: bool) -> None:
        self.target = target
        self.fingerprint = fingerprint
        self.changed = changed
        seen = f"{key_type} key {fingerprint}" if fingerprint else "a key"
        host = f"[{target.host}]:{target.port}" if target.port != 22 else target.host
        if changed:
            why = (f"the host key of {host} CHANGED: it presented {seen}, which does not "
                   f"match {target.known_hosts}; refusing (verify it before trusting it)")
        else:
            why = (f"unknown host {host}: it presented {seen}, which is not in "
                   f"{target.known_hosts}; refusing (verify it, then add it with "
                   f"ssh-keyscan or ssh)")
        super().__init__(f"ssh {target.address}: {why}")


class RemoteCommandExited(SshError):
    """The streamed remote command finished (how it ended is in the message)."""

    def __init__(self, target: SshTarget, status: int | None, signal: str | None) -> None:
        self.status = status
        self.signal = signal
        how = f"killed by signal {signal}" if signal else f"exited with status {status}"
        super().__init__(f"ssh {target.address}: remote command {how}")


class RemoteResult(msgspec.Struct, frozen=True):
    exit_status: int | None
    exit_signal: str | None
    output: str  # stdout and stderr merged, control sequences stripped, at most the tail
    truncated: int  # bytes of output dropped from the start

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@cache
def _witness_class() -> type:
    import asyncssh

    class HostKeyWitness(asyncssh.SSHClient):
        """Notes the host key that failed the known_hosts check (and never trusts it)."""

        seen: asyncssh.SSHKey | None = None

        def validate_host_public_key(self, host: str, addr: str, port: int,
                                     key: asyncssh.SSHKey) -> bool:
            self.seen = key
            return False

    return HostKeyWitness


@contextlib.asynccontextmanager
async def ssh_connection(target: SshTarget) -> AsyncIterator[asyncssh.SSHClientConnection]:
    """A connection with the host key verified; every failure is an SshError."""
    import asyncssh

    known_hosts = target.known_hosts_path
    if not await asyncio.to_thread(known_hosts.is_file):
        raise SshError(f"ssh {target.address}: known_hosts file {target.known_hosts} does not "
                       "exist, so the host key cannot be verified; refusing to connect")
    witness = _witness_class()()
    try:
        async with asyncio.timeout(target.connect_timeout + 1):
            conn = await asyncssh.connect(
                target.host, target.port, username=target.user or (),
                client_keys=target.client_keys,
                known_hosts=str(known_hosts), client_factory=lambda: witness,
                connect_timeout=target.connect_timeout,
                keepalive_interval=target.keepalive_interval, keepalive_count_max=3,
                config=None)  # the cockpit's config is the whole truth, not ~/.ssh/config
    except asyncssh.HostKeyNotVerifiable:
        raise await _refused(target, witness.seen) from None
    except Exception as exc:
        raise SshError(f"ssh {target.address}: {_reason(exc, target)}") from None
    try:
        yield conn
    finally:
        conn.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await conn.wait_closed()


async def _refused(target: SshTarget, key: Any) -> HostKeyRefused:
    fingerprint = key.get_fingerprint("sha256") if key is not None else None
    key_type = key.get_algorithm() if key is not None else None
    try:  # known_hosts is read again (and the name resolved) only to word the refusal
        async with asyncio.timeout(2.0):
            changed = await asyncio.to_thread(_host_is_known, target)
    except TimeoutError:
        changed = False
    return HostKeyRefused(target, fingerprint, key_type, changed)


def _host_is_known(target: SshTarget) -> bool:
    """Whether known_hosts holds some key for this host (so the one presented is a change)."""
    import asyncssh

    try:
        addr = socket.gethostbyname(target.host)
    except OSError:
        addr = target.host
    try:
        keys = asyncssh.match_known_hosts(str(target.known_hosts_path), target.host, addr,
                                          target.port)
    except (OSError, ValueError):
        return False
    return bool(keys[0] or keys[1])


def _reason(exc: BaseException, target: SshTarget) -> str:
    """Why connecting failed, in words (the exception's own text is outside text)."""
    import asyncssh

    if isinstance(exc, TimeoutError):
        return f"no answer within {target.connect_timeout:g}s"
    if isinstance(exc, asyncssh.PermissionDenied):
        key = f" with key {target.key_file}" if target.key_file else ""
        return f"authentication refused for user {target.user or '(default)'}{key}"
    if isinstance(exc, asyncssh.KeyImportError):
        return f"cannot use key file {target.key_file}: {one_line(exc, 120)}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"host {target.host} not found"
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {one_line(exc.filename or exc, 160)}"
    if isinstance(exc, PermissionError):
        return f"permission denied reading {one_line(exc.filename or exc, 160)}"
    if isinstance(exc, asyncssh.ConnectionLost | BrokenPipeError | ConnectionResetError):
        return "connection lost"
    if isinstance(exc, asyncssh.DisconnectError):
        return f"disconnected: {one_line(exc.reason, 160)}"
    if isinstance(exc, OSError):
        return one_line(exc.strerror or exc, 160)
    return f"{type(exc).__name__}: {one_line(exc, 160)}"


async def stream_remote(target: SshTarget, command: str, *,
                        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
                        ) -> AsyncIterator[list[bytes]]:
    """Run `command` on the host; yield its output (stdout and stderr merged) as batches of
    raw lines. Yields one empty batch once connected. Always ends by raising: an SshError,
    or RemoteCommandExited when the command finishes."""
    async with ssh_connection(target) as conn:
        async for batch in stream_on(conn, target, command, max_line_bytes=max_line_bytes):
            yield batch


async def stream_on(conn: asyncssh.SSHClientConnection, target: SshTarget, command: str, *,
                    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
                    ) -> AsyncIterator[list[bytes]]:
    """`stream_remote` on a connection already made."""
    import asyncssh

    splitter = LineSplitter(max_line_bytes)
    try:
        process = await conn.create_process(command, encoding=None, stderr=asyncssh.STDOUT)
    except asyncssh.Error as exc:
        raise SshError(f"ssh {target.address}: {_reason(exc, target)}") from None
    try:
        process.stdin.write_eof()
        yield []
        while True:
            try:
                chunk = await process.stdout.read(READ_SIZE)
            except (asyncssh.Error, OSError) as exc:
                raise SshError(f"ssh {target.address}: {_reason(exc, target)}") from None
            if not chunk:  # EOF arrives as an empty read
                break
            lines = splitter.feed(chunk)
            if lines:
                yield lines
        rest = splitter.flush()
        if rest:
            yield rest
        await _wait_process(process)
        if process.exit_status is None and process.exit_signal is None:
            raise SshError(f"ssh {target.address}: connection lost")
        signal = process.exit_signal[0] if process.exit_signal else None
        raise RemoteCommandExited(target, process.exit_status, signal)
    finally:
        process.close()


async def _wait_process(process: Any) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5.0):
            await process.wait_closed()


async def run_remote(target: SshTarget, command: str, *,
                     timeout: float = 60.0,  # noqa: ASYNC109 - connecting and running, together
                     max_output: int = MAX_OUTPUT,
                     redact: Callable[[str], str] = lambda text: text) -> RemoteResult:
    """Run `command` to its end (at most `timeout` seconds, connecting included); keep the
    last `max_output` bytes of its output. Raises SshError when it cannot run it."""
    try:
        async with asyncio.timeout(timeout), ssh_connection(target) as conn:
            return await run_on(conn, target, command, max_output=max_output, redact=redact)
    except TimeoutError:
        raise SshError(f"ssh {target.address}: command did not finish within {timeout:g}s") \
            from None


async def run_on(conn: asyncssh.SSHClientConnection, target: SshTarget, command: str, *,
                 max_output: int = MAX_OUTPUT,
                 redact: Callable[[str], str] = lambda text: text) -> RemoteResult:
    """`run_remote` on a connection already made (several commands, one connection)."""
    import asyncssh

    kept: deque[bytes] = deque()
    size = dropped = 0
    try:
        process = await conn.create_process(command, encoding=None, stderr=asyncssh.STDOUT)
        try:
            process.stdin.write_eof()
            while chunk := await process.stdout.read(READ_SIZE):
                kept.append(chunk)
                size += len(chunk)
                while size - len(kept[0]) >= max_output:
                    size -= len(kept[0])
                    dropped += len(kept.popleft())
            await _wait_process(process)
        finally:
            process.close()
    except (asyncssh.Error, OSError) as exc:
        raise SshError(f"ssh {target.address}: {_reason(exc, target)}") from None
    data = b"".join(kept)
    if len(data) > max_output:
        dropped += len(data) - max_output
        data = data[-max_output:]
    output = redact(strip_controls(data.decode("utf-8", "replace")))
    signal = process.exit_signal[0] if process.exit_signal else None
    return RemoteResult(process.exit_status, signal, output, dropped)
