"""Stopping for sure: a task that swallows a cancellation is cancelled again, and a stop()
never waits for ever on one (a log source that kept restarting hung CI this way)."""

from __future__ import annotations

import asyncio

from ppcockpit.logs import LogBuffer
from ppcockpit.task_stop import cancel_and_wait
from probes.log_sources import Backoff
from probes.log_tail import LogTail


class StubbornSource:
    """A log source whose clean-up swallows the first cancellation and goes on streaming."""

    description = "command: stubborn"

    def __init__(self) -> None:
        self.swallowed = asyncio.Event()

    async def stream(self):  # type: ignore[no-untyped-def]
        yield [b"first"]
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.swallowed.set()  # and carries on, as a careless clean-up would
        yield [b"still here"]
        await asyncio.Event().wait()


async def test_a_log_tail_stops_even_when_its_source_swallows_the_cancellation() -> None:
    source = StubbornSource()
    buffer = LogBuffer()
    tail = LogTail(buffer, source, backoff=Backoff(0.01, 0.02))  # type: ignore[arg-type]
    arrived = asyncio.Event()
    buffer.subscribe(lambda: arrived.set() if any(line.raw == "first" for line in buffer) else None)
    tail.start()
    await asyncio.wait_for(arrived.wait(), 5)
    task = tail._task
    stopping = asyncio.create_task(tail.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)  # waits; cancels nothing itself
    if not done:  # the old stop(): still waiting on the task that goes on
        await cancel_and_wait([stopping, task])  # type: ignore[list-item]
    assert stopping in done, "stop() was still waiting after 5 s"
    assert source.swallowed.is_set() and not tail.running


async def test_cancel_and_wait_gives_up_after_its_grace_and_says_which_task_is_left() -> None:
    release = asyncio.Event()
    cancels = 0

    async def deaf() -> None:
        nonlocal cancels
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                cancels += 1

    task = asyncio.create_task(deaf())
    await asyncio.sleep(0)
    left = await cancel_and_wait([task], grace=0.3)
    assert left == {task} and cancels >= 1
    release.set()
    await task


async def test_cancel_and_wait_ends_tasks_and_collects_their_errors() -> None:
    async def fails() -> None:
        raise RuntimeError("on the way out")

    async def sleeps() -> None:
        await asyncio.sleep(60)

    tasks = [asyncio.create_task(fails()), asyncio.create_task(sleeps())]
    await asyncio.sleep(0)
    assert await cancel_and_wait(tasks) == set()
    assert all(task.done() for task in tasks)
