"""Drives a deployment session through the same commands the keys call, then waits inside
a running command step, so that a test can kill it with SIGKILL mid-session.

    python -m tests.support.session_driver CONFIG
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.support.checklist_setup import assemble


async def main(config: Path) -> None:
    assembled = assemble(config)
    checklist, session = assembled.checklist, assembled.session
    await checklist.confirm("pre/aware")
    await checklist.override("ship", "gate opened for the drill")
    await checklist.record("ship/url", "https://x.example")
    await checklist.override("ship/broken", "known flaky, ticket 42")
    started = asyncio.Event()
    # The fold takes command_started in once the journal has it on disk, then says so.
    session.subscribe(lambda _: "ship/slow" in checklist.progress.commands and started.set())
    running = asyncio.create_task(checklist.run("ship/slow"))
    await started.wait()
    print("running", flush=True)
    await running


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
