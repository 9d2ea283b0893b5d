"""The journal on disk: one append-only JSON-lines file per session, mode 0600, in a 0700
directory. Every append is written and fsync'd before it returns. Blocking: ppcockpit.journal
runs it on one worker thread for the event loop; headless commands call it directly.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from ppcockpit.journal_records import (
    MAX_ENVIRONMENT_CHARS,
    MAX_EVENT_BYTES,
    MAX_READ_LINE_BYTES,
    SESSION_ID,
    JournalEvent,
    JournalRead,
    NewEvent,
    SessionFold,
    SessionInfo,
    build_line,
    summarise,
    timestamp,
)
from ppcockpit.text import escape_controls

SUFFIX = ".jsonl"
_CREATE_ATTEMPTS = 32
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


class JournalError(Exception):
    """The journal cannot do what was asked (no such session, disk full, not a directory):
    one clear sentence, never a secret."""


class _Tail(msgspec.Struct, frozen=True):
    """What the next append to a session needs, valid while the file keeps this size."""

    size: int
    last_seq: int
    environment: str
    ends_with_newline: bool


def slug(text: str, limit: int = 32) -> str:
    """A readable, file-name-safe form of an environment name."""
    out: list[str] = []
    for char in text.lower():
        if char.isascii() and char.isalnum():
            out.append(char)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out)[:limit].strip("-") or "env"


def session_id(moment: datetime, environment: str) -> str:
    """`20261201T170900Z-production-3f1c`: sorts by time, says what it is."""
    return (f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{slug(environment)}-"
            f"{os.urandom(2).hex()}")


class JournalFiles:
    """The blocking core of the file journal (thread-safe; several processes may share a
    directory: each append holds an exclusive lock on the session's file)."""

    def __init__(self, directory: Path, *, redact: Callable[[Any], Any] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.directory = Path(directory).expanduser()
        self._redact = redact or (lambda value: value)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._cap = max_event_bytes
        self._lock = threading.Lock()
        self._tails: dict[str, _Tail] = {}
        self._summaries: dict[str, tuple[int, int, SessionInfo | None]] = {}

    # --- writing ----------------------------------------------------------------------------

    def create(self, environment: str, operator: str,
               meta: Mapping[str, Any] | None = None) -> SessionInfo:
        """A new session of `environment`, its session_opened event (with `meta`) on disk."""
        if not isinstance(environment, str) or not environment:
            raise JournalError("a session needs an environment name")
        if len(environment) > MAX_ENVIRONMENT_CHARS:
            raise JournalError(f"an environment name longer than {MAX_ENVIRONMENT_CHARS} "
                               "characters cannot be journaled")
        with self._lock:
            self._make_directory()
            moment = self._clock()
            fd, sid = self._new_file(moment, environment)
            path = self._path(sid)
            try:
                line, event = build_line(NewEvent("session_opened", operator, meta or {}),
                                         session=sid, seq=1, at=timestamp(moment),
                                         environment=environment, redact=self._redact,
                                         cap=self._cap)
                _write_all(fd, line)
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
            os.close(fd)
            _fsync_directory(self.directory)
            self._tails[sid] = _Tail(len(line), 1, environment, True)
        info = summarise(sid, [event])
        assert info is not None
        return info

    def append(self, session: str, new: NewEvent) -> JournalEvent:
        """`new` recorded in `session`: written and fsync'd when this returns."""
        path = self._path(session)
        with self._lock:
            try:
                fd = os.open(path, _APPEND_FLAGS)
            except OSError as exc:
                raise self._open_error(session, exc) from None
            try:
                return self._append_locked(fd, session, new)
            except OSError as exc:
                self._tails.pop(session, None)  # a torn write: look at the file again
                raise JournalError(f"journal session {session}: cannot write: "
                                   f"{exc.strerror or exc}") from None
            finally:
                os.close(fd)  # also releases the lock on the file

    def _append_locked(self, fd: int, session: str, new: NewEvent) -> JournalEvent:
        fcntl.flock(fd, fcntl.LOCK_EX)
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise JournalError(f"journal session {session}: not a regular file")
        size = status.st_size
        tail = self._tails.get(session)
        if tail is None or tail.size != size:  # first append here, or another writer
            tail = self._scan(session, size)
        line, event = build_line(new, session=session, seq=tail.last_seq + 1,
                                 at=timestamp(self._clock()), environment=tail.environment,
                                 redact=self._redact, cap=self._cap)
        # A line torn by a crash stays a line of its own: the next one starts afresh.
        data = line if tail.ends_with_newline else b"\n" + line
        _write_all(fd, data)
        os.fsync(fd)
        self._tails[session] = _Tail(size + len(data), event.seq, tail.environment, True)
        return event

    def _scan(self, session: str, size: int) -> _Tail:
        """Where the session stands (read under the file's lock: nobody else appends)."""
        fold = self._fold(session)
        info = fold.result().info
        if info is None:
            raise JournalError(f"journal session {session}: not one event can be read; "
                               "it cannot be continued")
        return _Tail(size, fold.last_seq, info.environment, fold.ends_with_newline)

    def _new_file(self, moment: datetime, environment: str) -> tuple[int, str]:
        for _ in range(_CREATE_ATTEMPTS):
            sid = session_id(moment, environment)
            try:
                fd = os.open(self._path(sid), os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise JournalError(f"{self.directory}: cannot create a session file: "
                                   f"{exc.strerror or exc}") from None
            os.fchmod(fd, 0o600)  # whatever the umask allowed
            return fd, sid
        raise JournalError(f"{self.directory}: cannot find a free session id")

    def _make_directory(self) -> None:
        try:
            if not self.directory.exists():
                self.directory.mkdir(parents=True, mode=0o700, exist_ok=True)
                os.chmod(self.directory, 0o700)
                _fsync_directory(self.directory.parent)
            elif not self.directory.is_dir():
                raise JournalError(f"{self.directory}: the journal directory is not a "
                                   "directory")
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot create the journal directory: "
                               f"{exc.strerror or exc}") from None

    # --- reading ----------------------------------------------------------------------------

    def read(self, session: str) -> JournalRead:
        """The session's events in order; every torn or corrupt line reported and skipped."""
        return self._fold(session).result()

    def _fold(self, session: str) -> SessionFold:
        path = self._path(session)
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError as exc:
            raise self._open_error(session, exc) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO would never end, a directory
            os.close(fd)                              # cannot be read
            raise JournalError(f"journal session {session}: not a regular file")
        fold = SessionFold(session)
        try:
            with open(fd, "rb", closefd=True) as handle:
                for number, raw, terminated, too_long in _lines(handle):
                    if too_long:
                        fold.too_long(number, terminated)
                    else:
                        fold.add(number, raw, terminated)
        except OSError as exc:
            raise JournalError(f"journal session {session}: cannot read: "
                               f"{exc.strerror or exc}") from None
        return fold

    def list_sessions(self) -> list[SessionInfo]:
        """Every readable session here, oldest first. Files that are not sessions are
        ignored; a session whose every line is unreadable is left out."""
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot list the journal: "
                               f"{exc.strerror or exc}") from None
        found: list[SessionInfo] = []
        for entry in entries:
            sid = entry.name.removesuffix(SUFFIX)
            if not entry.name.endswith(SUFFIX) or not SESSION_ID.match(sid):
                continue
            info = self._summary(sid, entry)
            if info is not None:
                found.append(info)
        found.sort(key=lambda info: (info.opened_at, info.id))
        return found

    def open_session(self, environment: str) -> SessionInfo | None:
        """The newest session of `environment` that is not closed."""
        open_ones = [s for s in self.list_sessions()
                     if s.environment == environment and not s.closed]
        return open_ones[-1] if open_ones else None

    def _summary(self, sid: str, entry: os.DirEntry[str]) -> SessionInfo | None:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        cached = self._summaries.get(sid)
        if cached is not None and cached[:2] == (st.st_size, st.st_mtime_ns):
            return cached[2]
        try:
            info = self.read(sid).info
        except JournalError:
            return None
        self._summaries[sid] = (st.st_size, st.st_mtime_ns, info)
        return info

    # --- paths and errors -------------------------------------------------------------------

    def _path(self, session: str) -> Path:
        if not isinstance(session, str) or not SESSION_ID.match(session):
            raise JournalError(f"not a journal session id: {escape_controls(repr(session))}")
        return self.directory / f"{session}{SUFFIX}"

    def _open_error(self, session: str, exc: OSError) -> JournalError:
        if exc.errno == errno.ENOENT:
            return JournalError(f"no journal session {session} in {self.directory}")
        if exc.errno == errno.ELOOP:
            return JournalError(f"journal session {session}: a symbolic link, not a journal "
                                "file")
        return JournalError(f"journal session {session}: cannot open: {exc.strerror or exc}")


def _lines(handle: Any) -> Iterator[tuple[int, bytes, bool, bool]]:
    """(number, line without newline, ended by a newline, too long) for each line; memory
    is bounded by the longest line read (longer ones are skipped)."""
    number = 0
    while True:
        chunk = handle.readline(MAX_READ_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > MAX_READ_LINE_BYTES and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):  # skip the rest of it
                chunk = handle.readline(MAX_READ_LINE_BYTES + 1)
            yield number, b"", chunk.endswith(b"\n"), True
            continue
        terminated = chunk.endswith(b"\n")
        yield number, chunk[:-1] if terminated else chunk, terminated, False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    """Make a new file's name durable (its directory entry), not only its content."""
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
