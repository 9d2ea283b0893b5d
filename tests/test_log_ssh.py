"""The SSH module and the ssh log source against a real asyncssh server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from ppcockpit.logs import LogBuffer, SourceState
from probes.log_sources import Backoff, SshSource, supervise
from probes.log_tail import LogTail, make_log_source
from probes.ssh import (
    HostKeyRefused,
    RemoteCommandExited,
    SshError,
    SshTarget,
    run_remote,
    stream_remote,
)
from tests.support.ssh_server import SshServer, known_hosts_line, running_ssh_server

APP_LINE = ('{"level":"error","message":"Provider request failed","requestId":"r-%d",'
            '"route":"/api/chat","metadata":{"providerId":"openai"}}\n')


@pytest.fixture
async def ssh_server(tmp_path: Path) -> AsyncIterator[SshServer]:
    async with running_ssh_server(tmp_path) as server:
        async def lines(process: asyncssh.SSHServerProcess) -> int:
            count = int(process.command.split()[1])
            process.stdout.write(b"".join(APP_LINE.encode() % n for n in range(count)))
            process.stderr.write(b"a line on stderr\n")
            await process.stdout.drain()
            return 0

        async def fail(process: asyncssh.SSHServerProcess) -> int:
            process.stderr.write(b"kubectl: not logged in\n")
            return 3

        async def forever(process: asyncssh.SSHServerProcess) -> int:
            n = 0
            while True:
                process.stdout.write(APP_LINE.encode() % n)
                n += 1
                await process.stdout.drain()
                await asyncio.sleep(0.01)

        server.commands.update(lines=lines, fail=fail, forever=forever)
        yield server


def target(server: SshServer, **changes: object) -> SshTarget:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": server.port, "user": server.user,
        "key_file": str(server.client_key_path), "known_hosts": str(server.known_hosts_path),
        "connect_timeout": 5.0}
    values.update(changes)
    return SshTarget(**values)  # type: ignore[arg-type]


async def collect(stream: AsyncIterator[list[bytes]]) -> tuple[list[list[bytes]], Exception]:
    batches: list[list[bytes]] = []
    try:
        async for batch in stream:
            batches.append(batch)
    except Exception as exc:
        return batches, exc
    raise AssertionError("a remote stream always ends by saying why")


async def test_stream_remote_yields_lines_then_says_the_command_exited(
        ssh_server: SshServer) -> None:
    batches, end = await collect(stream_remote(target(ssh_server), "lines 500"))
    assert batches[0] == []  # connected
    lines = [line for batch in batches for line in batch]
    assert len(lines) == 501
    assert lines[0] == (APP_LINE % 0).rstrip("\n").encode()
    assert b"a line on stderr" in lines
    assert isinstance(end, RemoteCommandExited) and end.status == 0
    assert str(end) == f"ssh deploy@127.0.0.1:{ssh_server.port}: remote command exited with " \
                       "status 0"


async def test_a_changed_host_key_is_refused_naming_host_and_fingerprint(
        ssh_server: SshServer, tmp_path: Path) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    ssh_server.known_hosts_path.write_text(known_hosts_line(ssh_server.port, impostor))
    _, end = await collect(stream_remote(target(ssh_server), "lines 1"))
    assert isinstance(end, HostKeyRefused)
    assert end.changed and end.fingerprint == ssh_server.fingerprint()
    message = str(end)
    assert "\n" not in message
    assert f"[127.0.0.1]:{ssh_server.port}" in message
    assert ssh_server.fingerprint() in message and "CHANGED" in message
    assert not ssh_server.started.is_set()  # nothing ran on the impostor's side


async def test_an_unknown_host_is_refused_naming_the_key_it_presented(
        ssh_server: SshServer) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    ssh_server.known_hosts_path.write_text(known_hosts_line(2222, other, "10.0.0.9"))
    with pytest.raises(HostKeyRefused) as refused:
        await run_remote(target(ssh_server), "lines 1")
    assert not refused.value.changed
    assert "unknown host" in str(refused.value)
    assert ssh_server.fingerprint() in str(refused.value)


async def test_a_missing_known_hosts_file_refuses_before_connecting(
        ssh_server: SshServer, tmp_path: Path) -> None:
    with pytest.raises(SshError, match=r"known_hosts file .* does not exist"):
        await run_remote(target(ssh_server, known_hosts=str(tmp_path / "nope")), "lines 1")
    assert not ssh_server.connections
    with pytest.raises(ValueError, match="always verified"):
        SshTarget("127.0.0.1", known_hosts="")


async def test_a_key_the_server_does_not_accept_is_a_clear_refusal(
        ssh_server: SshServer, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    with pytest.raises(SshError, match="authentication refused for user deploy with key"):
        await run_remote(target(ssh_server, key_file=str(stranger)), "lines 1")


async def test_connection_refused_and_timeouts_are_one_line_reasons(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(SshError, match="connection refused"):
        await run_remote(SshTarget("127.0.0.1", 1, known_hosts=str(known)), "true")

    silent = asyncio.Event()

    async def never_speaks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await silent.wait()  # accepts the TCP connection, never says a word of SSH
        writer.close()

    server = await asyncio.start_server(never_speaks, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(SshError) as hung:
            await run_remote(SshTarget("127.0.0.1", port, known_hosts=str(known),
                                       connect_timeout=0.3), "true")
    finally:
        silent.set()
        server.close()
    assert str(hung.value) == f"ssh 127.0.0.1:{port}: no answer within 0.3s"


async def test_run_remote_returns_the_status_and_the_tail_of_the_output(
        ssh_server: SshServer) -> None:
    result = await run_remote(target(ssh_server), "lines 2000", max_output=1000)
    assert result.ok and result.exit_status == 0
    assert len(result.output.encode()) <= 1000 and result.truncated > 0
    assert result.output.endswith("a line on stderr\n")
    failed = await run_remote(target(ssh_server), "fail")
    assert failed.exit_status == 3 and not failed.ok
    assert failed.output == "kubectl: not logged in\n"


async def test_ssh_source_restarts_after_the_server_drops_it_and_says_so(
        ssh_server: SshServer) -> None:
    source = make_log_source("ssh", host="127.0.0.1", port=ssh_server.port,
                             user=ssh_server.user, key_file=str(ssh_server.client_key_path),
                             known_hosts=str(ssh_server.known_hosts_path), run="forever")
    assert isinstance(source, SshSource)
    states: asyncio.Queue[SourceState] = asyncio.Queue()
    buffer = LogBuffer()
    got_lines = asyncio.Event()
    buffer.subscribe(lambda: got_lines.set() if buffer.received >= 5 else None)
    tail = LogTail(buffer, source, backoff=Backoff(0.01, 0.05))
    buffer.subscribe(lambda: states.put_nowait(buffer.state))
    tail.start()
    try:
        await asyncio.wait_for(got_lines.wait(), 10)
        assert buffer.state.phase == "streaming"
        received = buffer.received
        ssh_server.drop_connections()
        down = await asyncio.wait_for(_next_phase(states, "down"), 10)
        assert down.reason == "connection lost"
        assert down.since is not None and down.retry_at is not None
        await asyncio.wait_for(_next_phase(states, "streaming"), 10)
        got_lines.clear()
        buffer.subscribe(lambda: got_lines.set() if buffer.received > received + 5 else None)
        await asyncio.wait_for(got_lines.wait(), 10)
    finally:
        await tail.stop()
    assert buffer.lines_per_second() > 0


async def _next_phase(states: asyncio.Queue[SourceState], phase: str) -> SourceState:
    while True:
        state = await states.get()
        if state.phase == phase:
            return state


async def test_a_refused_host_key_keeps_the_source_down_with_the_fingerprint(
        ssh_server: SshServer) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    ssh_server.known_hosts_path.write_text(known_hosts_line(ssh_server.port, impostor))
    states: asyncio.Queue[SourceState] = asyncio.Queue()
    task = asyncio.create_task(supervise(SshSource(target(ssh_server), "forever"),
                                         lambda lines: None, states.put_nowait,
                                         backoff=Backoff(5, 5, jitter=0)))
    try:
        down = await asyncio.wait_for(_next_phase(states, "down"), 10)
    finally:
        task.cancel()
    assert ssh_server.fingerprint() in down.reason
    assert down.reason.startswith(f"the host key of [127.0.0.1]:{ssh_server.port} CHANGED")
    assert "down" in down.describe(down.since or 0) and "restarting in 5s" in \
        down.describe(down.since or 0)
