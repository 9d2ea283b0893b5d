"""Stopping tasks for sure: cancel, wait, and cancel again while one is still running.

One cancellation is not always enough: a clean-up can catch it, and on Python 3.11
`asyncio.wait_for` drops it when the awaited thing finishes at the same moment
(CPython gh-86296). A `stop()` that awaited such a task once would wait for ever while the
task went on (a log source restarting its command thousands of times, say).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

RECANCEL_EVERY = 0.5  # seconds between cancellations of a task that is still running


async def cancel_and_wait(tasks: Iterable[asyncio.Future[object]], *,
                          grace: float | None = None) -> set[asyncio.Future[object]]:
    """Cancel `tasks` and wait until they have ended, cancelling again every
    RECANCEL_EVERY seconds. With `grace`, give up after that many seconds and return the
    tasks still running (else wait as long as it takes: the empty set)."""
    tasks = list(tasks)
    loop = asyncio.get_running_loop()
    deadline = None if grace is None else loop.time() + grace
    pending = {task for task in tasks if not task.done()}
    ended = [task for task in tasks if task.done()]
    while pending:
        for task in pending:
            task.cancel()
        wait = RECANCEL_EVERY if deadline is None else min(RECANCEL_EVERY,
                                                           max(0.0, deadline - loop.time()))
        done, pending = await asyncio.wait(pending, timeout=wait)
        ended += done
        if deadline is not None and loop.time() >= deadline:
            break
    for task in ended:  # an error on the way out is not "never retrieved"
        if not task.cancelled():
            with contextlib.suppress(BaseException):
                task.exception()
    return pending
