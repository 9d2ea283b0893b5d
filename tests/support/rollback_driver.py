"""Drives a rollback on the rehearsal stack until its second action (a command) is running,
prints the journal session's id, and waits there, so that a test can SIGKILL it mid-rollback.

    python -m tests.support.rollback_driver CONFIG WORKDIR
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ppcockpit.cli import GlobalFlags, build_session
from ppcockpit.config import load_config
from ppcockpit.rollback import RollbackEngine
from ppcockpit.session_events import RollbackProgressed
from tests.support.rollback_setup import drill_plan


async def main(config_path: Path, workdir: Path) -> None:
    config = load_config(config_path)
    session = build_session(config, GlobalFlags(config=str(config_path),
                                                new_session=True)).session
    engine = RollbackEngine.for_session(session, plan=drill_plan(workdir))
    holding = asyncio.Event()
    session.subscribe(lambda event: isinstance(event, RollbackProgressed)
                      and event.action == "hold" and event.line == "holding"
                      and holding.set())
    running = asyncio.create_task(engine.execute())
    await asyncio.wait({running, asyncio.ensure_future(holding.wait())},
                       return_when=asyncio.FIRST_COMPLETED)
    if running.done():  # it ended before holding: say how, for the test's message
        running.result()
    print(session.context.session_id, flush=True)
    await running


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
