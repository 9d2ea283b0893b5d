"""The rehearsal stack: a real redis-server and the loopback stand-ins, run in their own
thread with their own event loop so the simulated traffic never loads the cockpit's loop."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from ppcockpit.redis_server import RedisServer
from ppcockpit.rehearsal import (
    app_server,
    management_server,
    posthog_server,
    supabase_server,
    vercel_server,
    webhook_server,
)
from ppcockpit.rehearsal import credentials as cred
from ppcockpit.rehearsal.clock import SimClock
from ppcockpit.rehearsal.deployments import STAGING_HISTORY
from ppcockpit.rehearsal.generated_config import make_workdir, remove_workdir, write_workdir
from ppcockpit.rehearsal.http_common import RequestLog, serve
from ppcockpit.rehearsal.logs import LogSink
from ppcockpit.rehearsal.redis_load import RedisLoad
from ppcockpit.rehearsal.scenarios import CALM, SCENARIO_NAMES, SCENARIOS
from ppcockpit.rehearsal.world import World
from ppcockpit.text import one_line

T = TypeVar("T")
TICK_SECONDS = 0.25
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
CALL_TIMEOUT = 10.0
MAX_TIME_SCALE = 3600.0
REDIS_MAXMEMORY = "64mb"


class RehearsalError(Exception):
    """The stack cannot start or is not running; the message says why, in one line."""


class _WatchedFaults(dict[str, float]):
    """The world's active faults, keeping a copy any thread may read without waiting.

    Faults change on the stack's loop (a drill, a rollback through the Vercel stand-in,
    the Redis load draining); every change replaces `copy` with a new dict that is never
    changed again, so reading it from the UI's thread needs no lock and no loop.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.copy_for_readers: dict[str, float] = dict(self)

    def _changed(self) -> None:
        self.copy_for_readers = dict(self)

    def __setitem__(self, key: str, value: float) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def __ior__(self, other: Any) -> _WatchedFaults:
        super().__ior__(other)
        self._changed()
        return self

    def pop(self, *args: Any) -> Any:
        value = super().pop(*args)
        self._changed()
        return value

    def popitem(self) -> tuple[str, float]:
        item = super().popitem()
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        value = super().setdefault(key, default)
        self._changed()
        return value


class _StackThread(threading.Thread):
    """Owns everything: redis-server is started from here, so PR_SET_PDEATHSIG ties it to
    this long-lived thread, and everything is torn down here when the loop ends."""

    def __init__(self, scenario: str, time_scale: float, seed: int) -> None:
        super().__init__(name="ppcockpit-rehearsal", daemon=True)
        self.scenario = scenario
        self.clock = SimClock(time_scale)
        self.seed = seed
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.redis: RedisServer | None = None
        self.workdir: Path | None = None
        self.config_path: Path | None = None
        self.endpoints: dict[str, str] = {}
        self.hosting = RequestLog()
        self.webhook = RequestLog(webhook_server.MAX_MESSAGES)
        self.world: World | None = None
        self.faults = _WatchedFaults()  # replaced by the world's own when it exists
        self.staging: World | None = None  # staging's app: its own traffic and deployments
        self._stop_event: asyncio.Event | None = None
        self._tick_lock: asyncio.Lock | None = None
        self._load: RedisLoad | None = None

    def run(self) -> None:
        try:
            self.workdir = make_workdir()
            self.redis = RedisServer.start(maxmemory=REDIS_MAXMEMORY)
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(self._main())
        except BaseException as exc:
            self.error = exc
        finally:
            if self.loop is not None:
                with contextlib.suppress(Exception):
                    self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.close()
            if self.redis is not None:
                self.redis.stop()
            if self.workdir is not None:
                remove_workdir(self.workdir)
            self.ready.set()

    async def _main(self) -> None:
        assert self.workdir is not None and self.redis is not None
        self._stop_event = asyncio.Event()
        self._tick_lock = asyncio.Lock()
        log = LogSink(self.workdir / "app.log")
        world = self.world = World(self.clock, log, self.seed)
        world.faults = self.faults = _WatchedFaults(world.faults)
        world.seed_history()
        staging = self.staging = World(self.clock, LogSink(self.workdir / "staging.log"),
                                       self.seed + 100, target=cred.VERCEL_STAGING_TARGET,
                                       history=STAGING_HISTORY)
        staging.seed_history()
        self._load = RedisLoad(self.redis.url, world, self.seed)
        runners: list[web.AppRunner] = []
        try:
            await self._load.seed()
            self.endpoints["redis"] = self.redis.url
            apps = (("app", app_server.build_app(world)),
                    ("posthog", posthog_server.build_app(
                        world, {cred.POSTHOG_STAGING_PROJECT_ID: staging})),
                    ("supabase", supabase_server.build_app(world)),
                    ("management", management_server.build_app()),
                    ("vercel", vercel_server.build_app(world, self.hosting, [staging])),
                    ("staging_app", app_server.build_app(staging)),
                    ("webhook", webhook_server.build_app(self.webhook)))
            for name, app in apps:
                runner, port = await serve(app)
                runners.append(runner)
                self.endpoints[name] = f"http://127.0.0.1:{port}"
            self.endpoints["webhook"] += cred.WEBHOOK_PATH
            self.endpoints["logs"] = str(log.path)
            if self.scenario != CALM:
                world.inject(self.scenario, self.clock.start)
            self.config_path = await asyncio.to_thread(write_workdir, self.workdir,
                                                       self.endpoints)
            await self.tick()
            self.ready.set()
            while not self._stop_event.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(TICK_SECONDS):
                        await self._stop_event.wait()
                await self.tick()
        finally:
            await self._load.aclose()
            for runner in runners:
                await runner.cleanup()
            await log.flush()
            await staging.log.flush()

    async def tick(self) -> None:
        assert self._tick_lock is not None and self.world is not None and self._load
        async with self._tick_lock:
            world = self.world
            try:
                now = self.clock.now()
                requests = world.step(now)
                await self._load.step(now, len(requests))
                if self.staging is not None:
                    self.staging.step(now)
            except Exception as exc:  # a stand-in bug must not end the drill: say it, go on
                world.log.text(f"[rehearsal] simulation step failed: {one_line(exc, 160)}")
            await world.log.flush()
            if self.staging is not None:
                await self.staging.log.flush()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the stack's loop (where the world lives) and return its result."""
        async def run() -> T:
            return fn()

        return self.submit(run())

    def submit(self, coroutine: Any) -> Any:
        loop = self.loop
        if loop is None or loop.is_closed() or not self.is_alive():
            coroutine.close()
            raise RehearsalError("the rehearsal stack is not running")
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:
            coroutine.close()
            raise RehearsalError("the rehearsal stack is not running") from None
        return future.result(CALL_TIMEOUT)

    def request_stop(self) -> None:
        loop, event = self.loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(event.set)


class StackHandle:
    """A running stack. Thread-safe: every method may be called from any thread.

    `faults`, `active_faults`, `hosting_requests` and `webhook_messages` answer at once from
    any thread, the UI's event loop included. `inject`, `current_deployment`, `posthog_captures` and
    `advance` run on the stack's own loop and wait for it (up to CALL_TIMEOUT seconds):
    call them from a worker thread, never from an event loop.
    """

    def __init__(self, thread: _StackThread, scenario: str) -> None:
        assert thread.config_path is not None and thread.workdir is not None
        self._thread = thread
        self._stopped = False
        self._lock = threading.Lock()
        self.config_path: Path = thread.config_path
        self.workdir: Path = thread.workdir
        self.scenario = scenario
        self.clock = thread.clock
        self.time_scale = thread.clock.time_scale
        self.endpoints: dict[str, str] = dict(thread.endpoints)
        self.log_path = Path(thread.endpoints["logs"])
        self.credentials: dict[str, str] = cred.as_dict()
        self.redis_pid: int | None = thread.redis.process.pid if thread.redis else None

    def faults(self) -> list[tuple[str, str]]:
        return [(s.name, s.description) for s in SCENARIOS]

    def inject(self, name: str) -> str:
        """Apply a fault live; "calm" clears every fault. Returns a one-line message."""
        if name not in SCENARIO_NAMES:
            return f"Unknown fault {name!r}; the faults are: {', '.join(SCENARIO_NAMES)}"
        world = self._world()
        try:
            return self._thread.call(lambda: world.inject(name, self.clock.now()))
        except RehearsalError as exc:
            return f"Cannot inject {name}: {exc}"

    def active_faults(self) -> dict[str, float]:
        """Active fault names and their simulated activation times. Never waits: the copy
        kept up to date by every change (the last one known once the stack stopped)."""
        return dict(self._thread.faults.copy_for_readers)

    def hosting_requests(self) -> list[dict[str, Any]]:
        """What the hosting (Vercel) stand-in was asked, oldest first (bounded)."""
        return self._thread.hosting.snapshot()

    def webhook_messages(self) -> list[dict[str, Any]]:
        """What the webhook sink received (`{"text", "received_at", "content_type"}`),
        oldest first (bounded). Answers at once from any thread."""
        return self._thread.webhook.snapshot()

    def current_deployment(self, target: str = "production") -> dict[str, Any]:
        """The deployment serving `target` (production, or staging's)."""
        world = self._world() if target == "production" else self._thread.staging
        if world is None or world.deployments.target != target:
            raise RehearsalError(f"the rehearsal has no {target} deployments")
        current = self._thread.call(lambda: world.deployments.current)
        return {"uid": current.uid, "version": current.version, "sha": current.sha}

    def posthog_captures(self) -> list[dict[str, Any]]:
        world = self._world()
        return self._thread.call(lambda: list(world.analytics.captures))

    def advance(self, simulated_seconds: float) -> None:
        """Jump simulated time forward and let the world catch up before returning."""
        self.clock.advance(simulated_seconds)
        self._thread.submit(self._thread.tick())

    def stop(self) -> None:
        """Stop every server and the redis-server, remove the workdir. Idempotent; blocks."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.stop)
        thread = self._thread
        thread.request_stop()
        if threading.current_thread() is not thread:
            thread.join(STOP_TIMEOUT)
        if thread.redis is not None and thread.redis.process.poll() is None:
            thread.redis.kill()  # the loop hung: make sure no redis-server outlives us

    def _world(self) -> World:
        world = self._thread.world
        if world is None:
            raise RehearsalError("the rehearsal stack is not running")
        return world

    def __enter__(self) -> StackHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_stack(scenario: str = CALM, time_scale: float = 10.0, *, seed: int = 7,
                ) -> StackHandle:
    """Start the whole stack; block until it serves. RehearsalError if it cannot."""
    if scenario not in SCENARIO_NAMES:
        raise RehearsalError(f"unknown scenario {scenario!r}; the scenarios are: "
                             f"{', '.join(SCENARIO_NAMES)}")
    if not 0 < time_scale <= MAX_TIME_SCALE:
        raise RehearsalError(f"time scale must be above 0 and at most {MAX_TIME_SCALE:g}, "
                             f"got {time_scale:g}")
    thread = _StackThread(scenario, time_scale, seed)
    thread.start()
    if not thread.ready.wait(READY_TIMEOUT):
        thread.request_stop()
        thread.join(STOP_TIMEOUT)
        raise RehearsalError(f"the stack did not become ready within {READY_TIMEOUT:g}s")
    if thread.error is not None or thread.config_path is None:
        thread.join(STOP_TIMEOUT)
        reason = one_line(thread.error, 200) if thread.error else "it stopped at start"
        raise RehearsalError(f"cannot start the rehearsal stack: {reason}")
    handle = StackHandle(thread, scenario)
    atexit.register(handle.stop)
    return handle
