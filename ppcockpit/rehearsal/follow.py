"""`ppcockpit rehearse logs PATH`: print a growing log file's lines, like `tail -F`.

It follows the file across rotation (the writer renames it and starts a new one), so the
log-tail's `command` source can run it unchanged for as long as the cockpit lives.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO, TextIO

POLL_SECONDS = 0.1
READ_CHUNK = 64 * 1024
MAX_LINE_BYTES = 256 * 1024  # a longer "line" is cut into pieces rather than held whole
TAIL_BYTES_PER_LINE = 1024


def _tail_offset(handle: BinaryIO, lines: int) -> int:
    """Where the last `lines` lines start (-1 lines: the whole file)."""
    size = handle.seek(0, os.SEEK_END)
    if lines < 0:
        return 0
    start = max(0, size - lines * TAIL_BYTES_PER_LINE - 1)
    handle.seek(start)
    data = handle.read(size - start)
    offsets = [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    if offsets and offsets[-1] == len(data):
        offsets.pop()  # the final newline ends the last line, it does not start one
    keep = offsets[-lines:] if lines else [len(data)]
    if start == 0 and len(offsets) < lines:
        return 0
    return start + (keep[0] if keep else 0)


class Follower:
    def __init__(self, path: Path, out: TextIO, stop: threading.Event | None = None) -> None:
        self.path = path
        self.out = out
        self.stop = stop or threading.Event()
        self._partial = b""

    def run(self, *, follow: bool, lines: int) -> None:
        handle = self.path.open("rb")
        try:
            handle.seek(_tail_offset(handle, lines))
            while True:
                self._drain(handle)
                if not follow:
                    self._emit_partial()
                    return
                if self._rotated(handle):
                    self._drain(handle)
                    self._emit_partial()
                    handle.close()
                    handle = self.path.open("rb")
                    continue
                if self.stop.wait(POLL_SECONDS):
                    return
        finally:
            handle.close()

    def _drain(self, handle: BinaryIO) -> None:
        while chunk := handle.read(READ_CHUNK):
            data = self._partial + chunk
            *complete, self._partial = data.split(b"\n")
            if len(self._partial) > MAX_LINE_BYTES:
                complete.append(self._partial)
                self._partial = b""
            if complete:
                self.out.write("\n".join(c.decode("utf-8", "replace") for c in complete) + "\n")
                self.out.flush()

    def _emit_partial(self) -> None:
        if self._partial:
            self.out.write(self._partial.decode("utf-8", "replace") + "\n")
            self.out.flush()
            self._partial = b""

    def _rotated(self, handle: BinaryIO) -> bool:
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return False  # mid-rotation: the new file appears in a moment
        mine = os.fstat(handle.fileno())
        return current.st_ino != mine.st_ino or current.st_size < handle.tell()
