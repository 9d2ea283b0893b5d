"""The app's log stream: JSON lines in the app's format (and a few plain lines) in a file
that grows, rotated past a size cap so it never fills the disk."""

from __future__ import annotations

import asyncio
import json
import os
from collections import deque
from pathlib import Path
from typing import Any

from ppcockpit.rehearsal.clock import iso_ms

DEFAULT_CAP_BYTES = 20 * 1024 * 1024
PENDING_LINES = 5000  # lines waiting for the next flush; the oldest are dropped beyond this


class LogSink:
    """Collects lines on the stack's loop; `flush()` appends them to the file off the loop."""

    def __init__(self, path: Path, cap_bytes: int = DEFAULT_CAP_BYTES) -> None:
        self.path = path
        self.cap_bytes = cap_bytes
        self._pending: deque[str] = deque(maxlen=PENDING_LINES)
        self.rotations = 0
        path.touch()

    def json(self, level: str, message: str, at: float, **fields: Any) -> None:
        """One line in the app's format; keys whose value is None are omitted."""
        record: dict[str, Any] = {"level": level, "message": message, "timestamp": iso_ms(at)}
        record.update({k: v for k, v in fields.items() if v is not None})
        self._pending.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))

    def text(self, line: str) -> None:
        """A line that is not JSON (a banner, a stack frame, a platform line)."""
        self._pending.append(line)

    async def flush(self) -> None:
        if not self._pending:
            return
        lines = list(self._pending)
        self._pending.clear()
        await asyncio.to_thread(self._append, lines)

    def _append(self, lines: list[str]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            size = handle.tell()
        if size > self.cap_bytes:
            # One generation kept, like logrotate with rotate 1: the follower reopens.
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self.path.touch()
            self.rotations += 1


def error_fields(name: str, message: str, frame: str) -> dict[str, str]:
    return {"name": name, "message": message,
            "stack": f"{name}: {message}\n    at {frame}"}


STARTUP_BANNER = (
    "> pocket-philosopher@2.4.0 start",
    "> next start -p 3000",
    "",
    "  ▲ Next.js 14.2.15",
    "  - Local:        http://localhost:3000",
    "",
    " ✓ Starting...",
    " ✓ Ready in 1184ms",
)
