"""A rehearsal killed with SIGKILL, at any moment, leaves no temp directory for good: the
next start sweeps the work directory and the redis-server directory alike."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ppcockpit import tempdirs
from ppcockpit.redis_server import WORKDIR_PREFIX as REDIS_PREFIX
from ppcockpit.rehearsal.generated_config import WORKDIR_PREFIX as REHEARSAL_PREFIX
from ppcockpit.rehearsal.generated_config import sweep_stale_workdirs
from ppcockpit.rehearsal.stack import start_stack

ROOT = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.gettempdir())


def owned_by(pid: int) -> set[Path]:
    """The temp directories of process `pid` (other test runs may share the temp folder)."""
    return {*TMP.glob(f"{REHEARSAL_PREFIX}{pid}-*"), *TMP.glob(f"{REDIS_PREFIX}{pid}-*")}


def rehearse() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ppcockpit.rehearsal", "--no-tui"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)  # another process is starting: poll it, within a deadline
    return True


def kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.communicate(timeout=10)


def test_a_killed_rehearsal_leaves_both_directories_to_the_next_start() -> None:
    process = rehearse()
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(b"config: ")  # fully started
    finally:
        kill(process)
    left = owned_by(process.pid)
    assert any(p.name.startswith(REHEARSAL_PREFIX) for p in left), left
    assert any(p.name.startswith(REDIS_PREFIX) for p in left), left
    start_stack().stop()
    assert not [p for p in left if p.exists()]


def test_a_rehearsal_killed_in_its_first_moment_leaves_nothing_for_good() -> None:
    process = rehearse()
    try:
        # Killed the moment it made a directory.
        assert until(lambda: bool(owned_by(process.pid)))
    finally:
        kill(process)
    left = owned_by(process.pid)
    assert left
    start_stack().stop()
    assert not [p for p in left if p.exists()]


def reaped_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_the_sweep_removes_what_dead_processes_left_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path
    prefix = REDIS_PREFIX
    dead, parent = reaped_pid(), os.getppid()
    made = {name: root / name for name in (
        f"{prefix}{dead}-a1",  # its owner is gone
        f"{prefix}{os.getpid()}-b2",  # ours
        f"{prefix}{parent}-c3",  # a live process's
        f"{prefix}unowned-old",  # killed before it could say whose it was, long ago
        f"{prefix}unowned-new",  # perhaps being made right now
        f"{prefix}unowned-busy",  # an older cockpit's live redis-server works in it
        f"{prefix}file-old",  # an owner file naming a dead process
        f"{prefix}file-nonsense",  # an owner file naming no process at all
    )}
    for path in made.values():
        path.mkdir()
    (made[f"{prefix}file-old"] / tempdirs.OWNER_FILE).write_text(str(dead))
    (made[f"{prefix}file-nonsense"] / tempdirs.OWNER_FILE).write_text("-1")
    (root / f"{prefix}a-file").write_text("not a directory")
    (root / f"{prefix}{dead}-link").symlink_to(made[f"{prefix}{parent}-c3"])
    long_ago = time.time() - 2 * tempdirs.UNOWNED_AFTER
    busy = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            cwd=made[f"{prefix}unowned-busy"], stdin=subprocess.PIPE)
    for name in (f"{prefix}unowned-old", f"{prefix}unowned-busy"):
        os.utime(made[name], (long_ago, long_ago))
    try:
        removed = tempdirs.sweep(prefix, root)
    finally:
        busy.communicate(b"", timeout=10)
    assert sorted(p.name for p in removed) == sorted(
        [f"{prefix}{dead}-a1", f"{prefix}unowned-old", f"{prefix}file-old",
         f"{prefix}file-nonsense"])
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [f"{prefix}{os.getpid()}-b2", f"{prefix}{parent}-c3", f"{prefix}unowned-new",
         f"{prefix}unowned-busy", f"{prefix}a-file", f"{prefix}{dead}-link"])


def test_a_workdir_whose_owner_file_was_never_written_is_swept_once_old(
        tmp_path: Path) -> None:
    old, new = tmp_path / f"{REHEARSAL_PREFIX}x1", tmp_path / f"{REHEARSAL_PREFIX}x2"
    old.mkdir()
    new.mkdir()
    long_ago = time.time() - 2 * tempdirs.UNOWNED_AFTER
    os.utime(old, (long_ago, long_ago))
    assert sweep_stale_workdirs(tmp_path) == [old]
    assert new.exists()


def test_a_new_directory_names_its_owner_from_the_start() -> None:
    path = tempdirs.make_owned_dir(REDIS_PREFIX)
    try:
        assert path.name.startswith(f"{REDIS_PREFIX}{os.getpid()}-")
        tempdirs.sweep(REDIS_PREFIX)
        assert path.exists()
    finally:
        tempdirs.remove(path)
