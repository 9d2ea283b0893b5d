"""Saving the log tail's buffer: a new file, readable by its owner only (mode 0600)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def log_file_name(environment: str, at: datetime) -> str:
    """`ppcockpit-logs-production-20261128T100000Z.log`."""
    env = _UNSAFE_NAME.sub("-", environment).strip("-.") or "env"
    return f"ppcockpit-logs-{env}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.log"


def save_log_lines(directory: Path, lines: Iterable[str], *, environment: str,
                   at: datetime) -> Path:
    """Write `lines` to a new file in `directory` and return its path. Never overwrites and
    never follows a symlink planted at the name (O_EXCL); mode 0600 whatever the umask.
    Blocking: the App runs it in a thread. OSError when the directory cannot take it."""
    directory.mkdir(parents=True, exist_ok=True)
    name = log_file_name(environment, at)
    stem, suffix = name.removesuffix(".log"), ".log"
    for attempt in range(1000):
        path = directory / (name if attempt == 0 else f"{stem}-{attempt}{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o600)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"{directory}: 1000 saved log files for this second already")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n") as handle:
            fd = -1
            for line in lines:
                handle.write(line)
                handle.write("\n")
    except BaseException:
        if fd >= 0:
            os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return path
