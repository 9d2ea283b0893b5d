"""Preparation (imports, TLS contexts) never queues a check's thread work, never keeps the
process alive, and never competes with the checks of a sweep."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ppcockpit import offloop
from ppcockpit.cli import build_probes
from ppcockpit.config import load_config
from ppcockpit.model import Reading, Status
from ppcockpit.probe import Preparable
from ppcockpit.runner import ProbeRunner
from tests.support.every_probe import every_probe_config

ROOT = Path(__file__).resolve().parent.parent


class RecordingPool(ThreadPoolExecutor):
    """asyncio's default pool, noting what is submitted to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.submitted.append(getattr(fn, "__qualname__", repr(fn)))
        return super().submit(fn, *args, **kwargs)


async def test_no_probe_prepares_on_the_checks_thread_pool(tmp_path: Path) -> None:
    config = load_config(every_probe_config(tmp_path), environ={})
    probes, _ = build_probes(config)
    preparable = [p for p in probes if isinstance(p, Preparable)]
    assert {p.name for p in preparable} >= {"health", "redis", "posthog", "pwa",
                                            "supabase_auth", "supabase_backups"}
    pool = RecordingPool()
    asyncio.get_running_loop().set_default_executor(pool)
    try:
        await asyncio.wait_for(asyncio.gather(*(p.prepare() for p in preparable)), 30)
    finally:
        for probe in probes:
            await probe.aclose()
    assert pool.submitted == []


@dataclass
class Timed:
    """A probe that notes when its preparation ended and when its check began."""

    name: str
    prepare_seconds: float | None = None
    interval: float = 60.0
    timeout: float = 5.0
    target: str = "t"
    log: list[tuple[str, str, float]] = field(default_factory=list)

    async def check(self, deadline: float) -> Reading:
        self.log.append((self.name, "check", time.monotonic()))
        return Reading(probe=self.name, target=self.target, status=Status.HEALTHY,
                       summary="ok")

    async def aclose(self) -> None:
        return None


@dataclass
class TimedCold(Timed):
    async def prepare(self) -> None:
        await asyncio.sleep(self.prepare_seconds or 0.0)
        self.log.append((self.name, "prepared", time.monotonic()))


async def test_a_sweep_checks_nothing_before_every_probe_is_prepared() -> None:
    log: list[tuple[str, str, float]] = []
    runner = ProbeRunner([Timed("plain", log=log), TimedCold("cold", 0.2, log=log),
                          TimedCold("quick", 0.0, log=log)])
    readings = await runner.sweep()
    assert [r.status for r in readings] == [Status.HEALTHY] * 3
    prepared = max(at for _, what, at in log if what == "prepared")
    checks = [at for _, what, at in log if what == "check"]
    assert len(checks) == 3 and min(checks) >= prepared
    await runner.stop()


def test_a_thread_blocked_forever_never_keeps_the_process_alive(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    script = textwrap.dedent(f"""
        import asyncio
        from ppcockpit import offloop

        def read_forever():
            with open({str(fifo)!r}) as stream:  # no writer ever comes
                return stream.read()

        async def main():
            try:
                await asyncio.wait_for(offloop.once(read_forever), 0.2)
            except TimeoutError:
                print("gave up", flush=True)

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "gave up\n"


async def test_once_runs_one_call_for_all_and_retries_a_failure() -> None:
    calls: list[int] = []
    release = threading.Event()

    def slow_setup(n: int) -> int:
        calls.append(n)
        if len(calls) == 1:
            release.wait(5)
            raise OSError("first try fails")
        return n * 2

    first = asyncio.ensure_future(offloop.once(slow_setup, 21))
    second = asyncio.ensure_future(offloop.once(slow_setup, 21))
    impatient = asyncio.ensure_future(offloop.once(slow_setup, 21))
    await asyncio.sleep(0)
    impatient.cancel()  # one caller giving up ends nothing for the others
    release.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert [type(r) for r in results] == [OSError, OSError]
    assert await offloop.once(slow_setup, 21) == 42  # the failure was not kept
    assert await offloop.once(slow_setup, 21) == 42  # the success is
    assert calls == [21, 21]


async def test_run_drops_a_job_whose_caller_gave_up_before_it_started() -> None:
    started = threading.Semaphore(0)
    release = threading.Event()
    ran: list[int] = []

    def hold() -> None:
        started.release()
        release.wait(5)

    busy = [asyncio.ensure_future(offloop.run(hold)) for _ in range(offloop.MAX_WORKERS)]
    for _ in busy:  # every preparation thread is taken
        assert await asyncio.to_thread(started.acquire, timeout=5)
    queued = asyncio.ensure_future(offloop.run(ran.append, 1))
    await asyncio.sleep(0)  # it is submitted
    queued.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await queued
    release.set()
    await asyncio.gather(*busy)
    assert await offloop.run(ran.append, 2) is None
    assert ran == [2]


@pytest.mark.parametrize("workers", [0, -1])
def test_a_pool_needs_a_worker(workers: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        offloop.DaemonThreadPool(workers, "x")
