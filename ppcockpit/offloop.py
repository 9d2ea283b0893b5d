"""One-time preparation work (imports, TLS contexts) off the event loop, on threads of its own.

Probes' checks use asyncio's default thread pool (`asyncio.to_thread`) for their own small
blocking work, such as reading a file. If preparation shared that pool, a check's 1 ms read
would queue behind other probes' second-long imports, and the wait would count against the
check's timeout (eight `check`s at once on two cores: every secrets probe timed out). So
probes' `prepare()` runs its blocking work here instead, never with `asyncio.to_thread`.

The threads are daemons: one blocked forever (a CA bundle path that is a FIFO) cannot keep
the process from exiting, as a default-pool thread would (asyncio.run joins those).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")
MAX_WORKERS = 4


class DaemonThreadPool(Executor):
    """A small thread pool whose threads never delay the process's exit.

    Threads start on demand up to `max_workers` and then wait for work. A job whose future
    was cancelled before a thread took it is dropped, so waiters that give up leave nothing
    queued behind them.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue())
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._shut = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError(f"{self._name} is shut down")
            self._jobs.put((future, functools.partial(fn, *args, **kwargs)))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, call = job
            del job
            if future.set_running_or_notify_cancel():
                try:
                    result = call()
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, call  # hold nothing of a finished job while idle
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shut = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()


_pool = DaemonThreadPool(MAX_WORKERS, "ppcockpit-prepare")
_once: dict[Hashable, Future[Any]] = {}
_once_lock = threading.Lock()


async def run(fn: Callable[..., T], /, *args: Any) -> T:
    """`fn(*args)` on a preparation thread. Cancelling the caller drops it if not started."""
    future = _pool.submit(fn, *args)
    try:
        return await _awaited(future)
    except asyncio.CancelledError:
        future.cancel()
        raise


async def once(fn: Callable[..., T], /, *args: Hashable) -> T:
    """`fn(*args)` run once per process on a preparation thread; callers at the same time
    share the one run, later callers its result. A failure is not kept: the next caller
    tries again. A caller that gives up (is cancelled) leaves the run going for the others.
    """
    key = (fn, args)
    with _once_lock:
        future = _once.get(key)
        if future is None or future.cancelled() or (
                future.done() and future.exception() is not None):
            future = _once[key] = _pool.submit(fn, *args)
    return await _awaited(future)


async def _awaited(future: Future[T]) -> T:
    """Wait for a thread's future on this loop. Giving up never cancels the future, and a
    future that ends after this loop closed is simply not reported to it."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[T] = loop.create_future()

    def copy(done: Future[T]) -> None:
        if waiter.done():
            return
        if done.cancelled():
            waiter.cancel()
        elif (error := done.exception()) is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(done.result())

    def ended(done: Future[T]) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(copy, done)

    future.add_done_callback(ended)
    return await waiter
