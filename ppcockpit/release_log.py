"""The release log (runbook section 7): one entry per deployment, appended to a TOML file as
a `[[releases]]` table, and the Markdown table the team pastes into its channel.

Every text goes through the redactor given and loses its control sequences before it is
written or shown. The file stays valid TOML after every append: the new text is the old
text (kept byte for byte) plus one table, checked by parsing it, written to a temporary
file (mode 0600), fsync'd and renamed over the old one. A file that is not valid TOML is
never touched: the append is refused, naming the file and the fault.

append_release_log does blocking disk I/O (fsync): call it through asyncio.to_thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
import tomllib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from ppcockpit.release_entry import (
    ManualCheck,
    Override,
    Redact,
    ReleaseEntry,
    ReleaseLogError,
    Rollback,
    RollbackAction,
    clean_text,
    utc_timestamp,
)
from ppcockpit.release_markdown import markdown, markdown_table

MAX_LOG_BYTES = 32 << 20
LOCK_WAIT_S = 5.0


# --- the TOML file ------------------------------------------------------------------------

def toml(entry: ReleaseEntry, redact: Redact) -> str:
    """The entry as the `[[releases]]` table append_release_log writes."""
    return tomli_w.dumps({"releases": [entry.as_toml(redact)]})


def read_release_log(path: Path) -> list[dict[str, Any]]:
    """Every `[[releases]]` table of the log, oldest first ([] when there is no log yet)."""
    try:
        data = path.read_bytes() if path.stat().st_size <= MAX_LOG_BYTES else None
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ReleaseLogError(f"cannot read the release log {path}: {exc.strerror}") from None
    if data is None:
        raise ReleaseLogError(f"the release log {path} is larger than {MAX_LOG_BYTES >> 20} "
                              "MiB: not read")
    return _releases(path, data)


def append_release_log(path: Path, entry: ReleaseEntry, *, redact: Redact) -> None:
    """Append `entry` to the log at `path` (created, mode 0600, when missing). Blocking.
    ReleaseLogError when it cannot: the log is then exactly as it was."""
    try:
        datetime.fromisoformat(entry.when)
    except (TypeError, ValueError):
        raise ReleaseLogError(f"the entry's time {clean_text(str(entry.when), redact)!r} is not "
                              "ISO-8601 (utc_timestamp() gives one)") from None
    table = entry.as_toml(redact)
    addition = tomli_w.dumps({"releases": [table]})
    target = path.resolve()  # a symlinked log: replace its target, keep the link
    with _directory_lock(target.parent):
        try:
            old = target.read_bytes()
        except FileNotFoundError:
            old = b""
        except OSError as exc:
            raise ReleaseLogError(f"cannot read the release log {path}: {exc.strerror}") \
                from None
        if len(old) > MAX_LOG_BYTES:
            raise ReleaseLogError(f"the release log {path} is larger than "
                                  f"{MAX_LOG_BYTES >> 20} MiB: left as it is, not appended")
        before = _releases(path, old)
        separator = b"" if not old else (b"\n" if old.endswith(b"\n") else b"\n\n")
        new = old + separator + addition.encode("utf-8")
        after = _parse(path, new, "appending to it would not give valid TOML")
        releases = after.get("releases")
        if not isinstance(releases, list) or len(releases) != len(before) + 1 \
                or releases[-1] != table:
            raise ReleaseLogError(f"the release log {path}: the appended entry did not read "
                                  "back as written; left as it was")
        try:
            _replace(target, new)
        except OSError as exc:
            raise ReleaseLogError(f"cannot write the release log {path}: {exc.strerror}; "
                                  "left as it was") from None


def _releases(path: Path, data: bytes) -> list[dict[str, Any]]:
    document = _parse(path, data, "is not valid TOML")
    releases = document.get("releases", [])
    if not isinstance(releases, list) or not all(isinstance(r, dict) for r in releases):
        raise ReleaseLogError(f"the release log {path}: `releases` is not a list of "
                              "[[releases]] tables; left as it is")
    return releases


def _parse(path: Path, data: bytes, fault: str) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 at byte {exc.start}"
    except tomllib.TOMLDecodeError as exc:
        why = str(exc)
    raise ReleaseLogError(f"the release log {path} {fault} ({clean_text(why, str)}): left as it "
                          "is, nothing appended; fix it or move it aside")


def _replace(target: Path, data: bytes) -> None:
    """Write `data` to a new file beside `target` (0600), fsync it, rename it over
    `target`, fsync the directory: a crash leaves the old log or the new, never half."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """One writer at a time among cockpits sharing the log's directory (an advisory lock
    on the directory itself: no lock file is left behind)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise ReleaseLogError(f"cannot open the release log's directory {directory}: "
                              f"{exc.strerror}") from None
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ReleaseLogError(f"another ppcockpit is writing to {directory}: "
                                          "try again") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


__all__ = ["ManualCheck", "Override", "ReleaseEntry", "ReleaseLogError", "Rollback",
           "RollbackAction", "append_release_log", "markdown", "markdown_table",
           "read_release_log", "toml", "utc_timestamp"]
