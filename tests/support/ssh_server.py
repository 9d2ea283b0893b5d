"""A real asyncssh server on 127.0.0.1 for the SSH log source and remote commands.

Generated ed25519 host and client keys; a known_hosts file in the `[127.0.0.1]:PORT` form
that trusts the host key; the client key on disk, as the cockpit reads it. Commands are
served by `commands[name]`, a coroutine given the server-side process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

Handler = Callable[[asyncssh.SSHServerProcess], Awaitable[int | None]]


@dataclass
class SshServer:
    host_key: asyncssh.SSHKey
    client_key_path: Path
    known_hosts_path: Path
    user: str = "deploy"
    port: int = 0
    commands: dict[str, Handler] = field(default_factory=dict)
    connections: list[asyncssh.SSHServerConnection] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    _listener: Any = None

    def fingerprint(self) -> str:
        return self.host_key.get_fingerprint("sha256")

    def drop_connections(self) -> None:
        """The server goes away mid-stream: every client connection cut at once."""
        for conn in self.connections:
            conn.abort()
        self.connections.clear()

    async def _serve(self, process: asyncssh.SSHServerProcess) -> None:
        self.started.set()
        name = (process.command or "").split(" ", 1)[0]
        handler = self.commands.get(name)
        if handler is None:
            process.stderr.write(f"no such command: {name}\n")
            process.exit(127)
            return
        try:
            status = await handler(process)
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, BrokenPipeError,
                ConnectionError, asyncssh.Error):
            return
        process.exit(status or 0)


class _Server(asyncssh.SSHServer):
    def __init__(self, owner: SshServer) -> None:
        self.owner = owner

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.owner.connections.append(conn)


def write_keys(directory: Path) -> tuple[asyncssh.SSHKey, asyncssh.SSHKey, Path]:
    """A host key, a client key and the client key's file (mode 0600)."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_path = directory / "id_ed25519"
    client_key.write_private_key(str(client_path))
    client_path.chmod(0o600)
    return host_key, client_key, client_path


def known_hosts_line(port: int, key: asyncssh.SSHKey, host: str = "127.0.0.1") -> str:
    public = key.export_public_key("openssh").decode().strip()
    return f"[{host}]:{port} {public}\n"


@contextlib.asynccontextmanager
async def running_ssh_server(directory: Path) -> AsyncIterator[SshServer]:
    host_key, client_key, client_path = write_keys(directory)
    known_hosts = directory / "known_hosts"
    server = SshServer(host_key, client_path, known_hosts)
    authorized = asyncssh.import_authorized_keys(
        client_key.export_public_key("openssh").decode())
    listener = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[host_key], authorized_client_keys=authorized,
        process_factory=server._serve, server_factory=lambda: _Server(server),
        encoding=None)
    server.port = listener.sockets[0].getsockname()[1]
    known_hosts.write_text(known_hosts_line(server.port, host_key))
    server._listener = listener
    try:
        yield server
    finally:
        listener.close()
        server.drop_connections()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener.wait_closed(), 2.0)
