"""Temporary directories owned by this process, and the sweep of those whose owner died.

A process killed with SIGKILL cannot remove its temporary directories; the next one to
make a directory of the same kind removes them. The owner's pid is part of the directory's
name (`<prefix><pid>-<random>`, made by mkdtemp in one step), so no directory ever exists
without a known owner. Older directories name their owner in an `owner.pid` file, or
nowhere (a redis-server's directory, or a process killed before it wrote the file): those
are removed once a minute old and no process works in them (a redis-server runs in its
directory, so an older cockpit's live one is left alone).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

OWNER_FILE = "owner.pid"  # the owner of a directory made before pids were in the names
UNOWNED_AFTER = 60.0  # seconds before a directory that names no owner is taken as left over


def make_owned_dir(prefix: str) -> Path:
    """A fresh temp directory named after this process; leftovers of dead ones go first."""
    sweep(prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(path)


def sweep(prefix: str, root: Path | None = None) -> list[Path]:
    """Remove this user's `prefix*` directories whose owner is gone; return them."""
    removed = []
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)-")
    for candidate in (root or Path(tempfile.gettempdir())).glob(f"{prefix}*"):
        try:
            status = candidate.lstat()
        except OSError:
            continue
        if not candidate.is_dir() or candidate.is_symlink() or status.st_uid != os.getuid():
            continue
        owner = _owner(candidate, pattern)
        if owner is None:
            if time.time() - status.st_mtime < UNOWNED_AFTER or _in_use(candidate):
                continue  # perhaps being made right now, or in use, by an older version
        elif owner == os.getpid() or _alive(owner):
            continue
        shutil.rmtree(candidate, ignore_errors=True)
        if not candidate.exists():
            removed.append(candidate)
    return removed


def _owner(directory: Path, pattern: re.Pattern[str]) -> int | None:
    named = pattern.match(directory.name)
    if named:
        return int(named.group(1))
    try:
        return int((directory / OWNER_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _in_use(directory: Path) -> bool:
    """Whether a process works in `directory` (its current directory); True when that
    cannot be told (no /proc), so a directory is never removed from under a process."""
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return True
    target = str(directory.resolve())
    for entry in proc.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "cwd") == target:
                    return True
    return False


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False  # names no process (and kill() would signal a whole group)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    return True
