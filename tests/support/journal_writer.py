"""A process that journals until it is killed: the subject of the SIGKILL tests.

    python -m tests.support.journal_writer DIRECTORY loop
        opens a session, prints its id, then appends events forever, printing each event's
        seq only after append() has returned (the moment the screen would show it done).
    python -m tests.support.journal_writer DIRECTORY torn
        opens a session, appends two events, writes half of a third line straight into the
        file (a write cut short), prints the id and kills itself with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from ppcockpit.journal import STEP_CONFIRMED, FileJournal, NewEvent


async def loop(directory: Path) -> None:
    journal = FileJournal(directory)
    session = await journal.create("production", "killed-writer", {"runbook": "built-in"})
    print(session.id, flush=True)
    number = 0
    while True:
        number += 1
        event = await journal.append(session.id, NewEvent(
            STEP_CONFIRMED, "killed-writer", {"step": f"phase/step-{number}", "n": number}))
        print(event.seq, flush=True)


def torn(directory: Path) -> None:
    journal = FileJournal(directory)
    session = journal.files.create("production", "torn-writer")
    for number in (1, 2):
        journal.files.append(session.id, NewEvent(STEP_CONFIRMED, "torn-writer",
                                                  {"step": f"phase/step-{number}"}))
    line = (b'{"v": 1, "seq": 4, "at": "2026-12-01T17:09:00.000000Z", "event": '
            b'"step_confirmed", "session": "' + session.id.encode() + b'"}\n')
    with open(directory / f"{session.id}.jsonl", "ab") as handle:
        handle.write(line[: len(line) // 2])
    print(session.id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    target, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "loop":
        asyncio.run(loop(target))
    else:
        torn(target)
