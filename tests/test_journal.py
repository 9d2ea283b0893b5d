"""The session journal: durable before it returns, in order, redacted, bounded, and readable
whatever the file holds (torn lines, corrupt lines, garbage, a SIGKILL mid-session)."""

from __future__ import annotations

import asyncio
import enum
import json
import math
import os
import select
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppcockpit.journal import (
    COMMAND_FINISHED,
    SESSION_CLOSED,
    STEP_CONFIRMED,
    STEP_OVERRIDDEN,
    WORKER_THREAD_NAME,
    FileJournal,
    JournalError,
    JournalFiles,
    NewEvent,
    default_journal_dir,
)
from ppcockpit.journal_records import MAX_EVENT_BYTES, plain
from ppcockpit.secrets import Redactor

ROOT = Path(__file__).resolve().parent.parent


def confirmed(n: int, operator: str = "ana") -> NewEvent:
    return NewEvent(STEP_CONFIRMED, operator, {"step": f"pre-flight/step-{n}", "n": n})


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 17, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """Every os.fsync call: the thread, whether it was a directory, the file's size then."""
    calls: list[dict] = []
    real = os.fsync

    def spy(fd: int) -> None:
        status = os.fstat(fd)
        real(fd)
        calls.append({"thread": threading.current_thread().name,
                      "directory": stat.S_ISDIR(status.st_mode), "size": status.st_size,
                      "inode": status.st_ino})

    monkeypatch.setattr(os, "fsync", spy)
    yield calls


# --- durable, in order, on one thread ---------------------------------------------------------

async def test_every_append_is_written_and_fsynced_before_it_returns(tmp_path: Path,
                                                                     fsyncs: list) -> None:
    async with FileJournal(tmp_path / "journal") as journal:
        session = await journal.create("production", "ana")
        path = tmp_path / "journal" / f"{session.id}.jsonl"
        for n in range(1, 6):
            event = await journal.append(session.id, confirmed(n))
            assert event.seq == n + 1
            size = path.stat().st_size
            last = [c for c in fsyncs if not c["directory"]][-1]
            # The fsync that covered this event happened before append returned.
            assert last["inode"] == path.stat().st_ino and last["size"] == size
            assert json.loads(lines(path)[-1])["seq"] == n + 1
    read = FileJournal(tmp_path / "journal").files.read(session.id)
    assert [e.seq for e in read.events] == [1, 2, 3, 4, 5, 6]
    assert read.problems == []


async def test_file_work_runs_on_one_dedicated_thread_never_the_loop(tmp_path: Path,
                                                                     fsyncs: list) -> None:
    async with FileJournal(tmp_path) as journal:
        session = await journal.create("production", "ana")
        await asyncio.gather(*(journal.append(session.id, confirmed(n)) for n in range(20)))
    threads = {call["thread"] for call in fsyncs}
    assert len(threads) == 1
    assert threads.pop().startswith(WORKER_THREAD_NAME)


async def test_the_directory_is_fsynced_when_a_session_file_is_created(tmp_path: Path,
                                                                      fsyncs: list) -> None:
    journal = JournalFiles(tmp_path / "state" / "journal")
    journal.create("production", "ana")
    directory_inode = (tmp_path / "state" / "journal").stat().st_ino
    assert any(c["directory"] and c["inode"] == directory_inode for c in fsyncs)


def test_files_are_0600_and_a_new_directory_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        journal = JournalFiles(tmp_path / "deep" / "journal")
        session = journal.create("production", "ana")
        journal.append(session.id, confirmed(1))
    finally:
        os.umask(old)
    directory = tmp_path / "deep" / "journal"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / f"{session.id}.jsonl").stat().st_mode) == 0o600


async def test_many_appends_from_tasks_keep_their_order(tmp_path: Path) -> None:
    async with FileJournal(tmp_path) as journal:
        session = await journal.create("production", "ana")
        events = await asyncio.gather(*(journal.append(session.id, confirmed(n))
                                        for n in range(300)))
        read = await journal.read(session.id)
    assert [e.seq for e in events] == list(range(2, 302))
    assert [e.get("n") for e in read.events[1:]] == list(range(300))
    assert read.problems == []


def test_threads_and_two_journals_on_one_directory_never_share_a_seq(tmp_path: Path) -> None:
    first, second = JournalFiles(tmp_path), JournalFiles(tmp_path)
    session = first.create("production", "ana")

    def write(journal: JournalFiles, operator: str) -> None:
        for n in range(50):
            journal.append(session.id, confirmed(n, operator))

    threads = [threading.Thread(target=write, args=(journal, name))
               for journal, name in ((first, "ana"), (second, "ben"), (first, "cy"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read = first.read(session.id)
    assert [e.seq for e in read.events] == list(range(1, 152))
    assert read.problems == []
    assert set(read.info.operators) == {"ana", "ben", "cy"}


async def test_a_cancelled_caller_does_not_lose_the_event_it_asked_for(tmp_path: Path) -> None:
    async with FileJournal(tmp_path) as journal:
        session = await journal.create("production", "ana")
        task = asyncio.create_task(journal.append(session.id, confirmed(1)))
        await asyncio.sleep(0)  # the append has been handed to the worker
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    read = FileJournal(tmp_path).files.read(session.id)
    assert [e.event for e in read.events] == ["session_opened", STEP_CONFIRMED]


# --- what is written --------------------------------------------------------------------------

def test_event_shape_and_session_id(tmp_path: Path) -> None:
    clock = Clock()
    journal = JournalFiles(tmp_path, clock=clock)
    session = journal.create("production", "ana", {"runbook": "built-in"})
    assert session.id.startswith("20261201T170900Z-production-")
    clock.advance(1.5)
    journal.append(session.id, NewEvent(STEP_OVERRIDDEN, "ben",
                                        {"step": "pre-flight/soak", "reason": "hotfix"}))
    first, second = (json.loads(line) for line in lines(tmp_path / f"{session.id}.jsonl"))
    assert first == {"v": 1, "seq": 1, "at": "2026-12-01T17:09:00.000000Z",
                     "event": "session_opened", "session": session.id, "operator": "ana",
                     "environment": "production", "runbook": "built-in"}
    assert second == {"v": 1, "seq": 2, "at": "2026-12-01T17:09:01.500000Z",
                      "event": "step_overridden", "session": session.id, "operator": "ben",
                      "environment": "production", "step": "pre-flight/soak",
                      "reason": "hotfix"}


def test_session_ids_are_file_name_safe_whatever_the_environment_is_called(tmp_path: Path,
                                                                         ) -> None:
    journal = JournalFiles(tmp_path)
    for environment in ("../../etc", "Prod EU/1", "\x1b[31mred", "ünïcode", "-"):
        session = journal.create(environment, "ana")
        assert (tmp_path / f"{session.id}.jsonl").is_file()
        assert journal.read(session.id).info.environment == environment
    assert len(list(tmp_path.iterdir())) == 5


def test_no_secret_is_ever_written(tmp_path: Path) -> None:
    secrets = ["hunter2-hunter2", 'tok"en\twith-quote', "sbp_planted_token_0042"]
    journal = JournalFiles(tmp_path, redact=Redactor(secrets).data)
    session = journal.create("production", "ana", {"config": "url redis://:hunter2-hunter2@h"})
    journal.append(session.id, NewEvent(COMMAND_FINISHED, "sbp_planted_token_0042", {
        "step": "verify/smoke", "exit_code": 1, "duration_s": 1.25,
        "output_tail": 'Authorization: tok"en\twith-quote\nfailed',
        "nested": [{"sbp_planted_token_0042": ["hunter2-hunter2"]}]}))
    raw = (tmp_path / f"{session.id}.jsonl").read_bytes()
    for secret in secrets:
        assert secret.encode() not in raw
        assert json.dumps(secret)[1:-1].encode() not in raw  # nor its JSON-escaped form
    assert b"sha256:" in raw


def test_a_large_event_is_cut_with_a_visible_mark_never_refused(tmp_path: Path) -> None:
    journal = JournalFiles(tmp_path)
    session = journal.create("production", "ana")
    output = "start of output\n" + "x" * 1_000_000 + "\nthe last line that matters"
    event = journal.append(session.id, NewEvent(COMMAND_FINISHED, "ana", {
        "step": "verify/smoke", "exit_code": 1, "output_tail": output}))
    written = lines(tmp_path / f"{session.id}.jsonl")[-1]
    assert len(written) <= MAX_EVENT_BYTES
    tail = event.get("output_tail")
    assert "characters cut]" in tail
    assert tail.startswith("start of output") and tail.endswith("the last line that matters")
    assert event.get("exit_code") == 1 and event.get("step") == "verify/smoke"
    assert journal.read(session.id).events[-1] == event


def test_an_event_too_large_to_cut_keeps_a_note_of_what_was_dropped(tmp_path: Path) -> None:
    journal = JournalFiles(tmp_path)
    session = journal.create("production", "ana")
    event = journal.append(session.id, NewEvent(STEP_CONFIRMED, "ana", {
        "step": "a/b", "numbers": list(range(100_000))}))
    assert len(lines(tmp_path / f"{session.id}.jsonl")[-1]) <= MAX_EVENT_BYTES
    assert "did not fit" in event.get("cut")
    assert event.get("fields_dropped") == ["step", "numbers"]


def test_redaction_happens_before_cutting(tmp_path: Path) -> None:
    secret = "S3cretValueThatMustNeverShow"
    journal = JournalFiles(tmp_path, redact=Redactor([secret]).data, max_event_bytes=4096)
    session = journal.create("production", "ana")
    for offset in range(0, 6000, 250):  # wherever the cut falls, no piece of it shows
        journal.append(session.id, NewEvent(COMMAND_FINISHED, "ana", {
            "output_tail": "a" * offset + secret + "b" * (6000 - offset)}))
    raw = (tmp_path / f"{session.id}.jsonl").read_bytes()
    assert secret[:8].encode() not in raw


class Colour(enum.Enum):
    RED = "red"


def test_values_that_are_not_json_are_written_as_plain_values(tmp_path: Path) -> None:
    journal = JournalFiles(tmp_path)
    session = journal.create("production", "ana")
    fields = {"path": Path("/tmp/release.toml"), "when": datetime(2026, 12, 1, tzinfo=UTC),
              "nan": math.nan, "inf": -math.inf, "colour": Colour.RED, "raw": b"\xff\xfeok",
              "undecodable": "bad \udcff byte", "pair": (1, 2), 3: "int key"}
    event = journal.append(session.id, NewEvent(STEP_CONFIRMED, "ana", fields))
    read = journal.read(session.id).events[-1]
    assert read == event
    assert read.fields == {"path": "/tmp/release.toml", "when": "2026-12-01T00:00:00.000000Z",
                           "nan": "nan", "inf": "-inf", "colour": "Colour.RED",
                           "raw": "\\xff\\xfeok", "undecodable": "bad \\udcff byte",
                           "pair": [1, 2], "3": "int key"}


def test_mistakes_of_the_caller_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    journal = JournalFiles(tmp_path)
    session = journal.create("production", "ana")
    with pytest.raises(ValueError, match="may not be named seq"):
        journal.append(session.id, NewEvent(STEP_CONFIRMED, "ana", {"seq": 99}))
    with pytest.raises(ValueError, match="not an event name"):
        journal.append(session.id, NewEvent("Step Confirmed!", "ana"))
    with pytest.raises(JournalError, match="needs an environment"):
        journal.create("", "ana")
    assert len(journal.read(session.id).events) == 1


def test_unknown_and_malformed_session_ids_are_explained(tmp_path: Path) -> None:
    journal = JournalFiles(tmp_path)
    journal.create("production", "ana")
    with pytest.raises(JournalError, match=r"not a journal session id: '\.\./\.\./etc/passwd'"):
        journal.read("../../etc/passwd")
    with pytest.raises(JournalError, match="not a journal session id: '\\\\x1b"):
        journal.read("\x1b]0;owned\x07")
    with pytest.raises(JournalError, match="no journal session 20260101T000000Z-prod-0000"):
        journal.append("20260101T000000Z-prod-0000", confirmed(1))


# --- reading whatever is on disk --------------------------------------------------------------

def test_a_torn_last_line_is_reported_and_skipped_and_the_session_goes_on(tmp_path: Path,
                                                                           ) -> None:
    journal = JournalFiles(tmp_path)
    session = journal.create("production", "ana")
    for n in range(3):
        journal.append(session.id, confirmed(n))
    path = tmp_path / f"{session.id}.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole + lines(path)[-1][:40])  # half a line: the crash came mid-write

    read = JournalFiles(tmp_path).read(session.id)
    assert [e.seq for e in read.events] == [1, 2, 3, 4]
    assert [str(p) for p in read.problems] == [
        "line 5: the last line is incomplete (40 bytes; a write cut short by a crash?), "
        "skipped"]

    resumed = JournalFiles(tmp_path)  # a new process picks the session up
    assert resumed.append(session.id, confirmed(9)).seq == 5
    read = resumed.read(session.id)
    assert [e.seq for e in read.events] == [1, 2, 3, 4, 5]
    assert [p.line for p in read.problems] == [5]  # the torn bytes stayed on a line of their own
    assert path.read_bytes().startswith(whole)


def test_a_corrupt_line_in_the_middle_loses_nothing_around_it(tmp_path: Path) -> None:
    journal = JournalFiles(tmp_path)
    session = journal.create("production", "ana")
    for n in range(4):
        journal.append(session.id, confirmed(n))
    path = tmp_path / f"{session.id}.jsonl"
    content = lines(path)
    content[2] = b"\x00\xff garbage \x1b[2J" + b"\n"
    path.write_bytes(b"".join(content))
    read = journal.read(session.id)
    assert [e.seq for e in read.events] == [1, 2, 4, 5]
    assert [str(p) for p in read.problems] == [
        "line 3: not UTF-8 text (corrupt), skipped",
        "line 4: seq jumps from 2 to 4: 1 event(s) missing before this line"]
    assert journal.append(session.id, confirmed(9)).seq == 6


@pytest.mark.parametrize(("line", "problem"), [
    (b'{"v": 2, "seq": 3}', "written in a newer journal format (v2), skipped"),
    (b'{"seq": 3}', "not a journal event (no format version), skipped"),
    (b"[1, 2, 3]", "not a JSON object, skipped"),
    (b"[" * 100_000, "not a JSON event (torn or corrupt), skipped"),
    (b'{"v": 1, "seq": "3"}', "an event without a valid seq, skipped"),
    (b'{"v": 1, "seq": 3, "at": 1}', "an event without its time, name, operator or "
                                     "environment, skipped"),
    (b'{"v": 1, "seq": 3, "at": "x", "event": "e", "operator": "o", "environment": "p", '
     b'"session": "20200101T000000Z-other-0000"}', "an event of another session, skipped"),
    (b'{"v": 1, "seq": 1, "at": "x", "event": "e", "operator": "o", "environment": "p", '
     b'"session": "SID"}', "seq 1 repeats or goes back (after 2), skipped"),
    (b"x" * (300 * 1024), "longer than 256 KiB (not an event), skipped"),
])
def test_each_kind_of_bad_line_is_named(tmp_path: Path, line: bytes, problem: str) -> None:
    journal = JournalFiles(tmp_path)
    session = journal.create("production", "ana")
    journal.append(session.id, confirmed(1))
    path = tmp_path / f"{session.id}.jsonl"
    with path.open("ab") as handle:
        handle.write(line.replace(b"SID", session.id.encode()) + b"\n")
    journal.append(session.id, confirmed(2))
    read = journal.read(session.id)
    assert [e.seq for e in read.events] == [1, 2, 3]
    assert [str(p) for p in read.problems] == [f"line 3: {problem}"]


def test_garbage_in_the_directory_is_ignored_and_never_hangs(tmp_path: Path) -> None:
    journal = JournalFiles(tmp_path)
    real = journal.create("production", "ana")
    (tmp_path / "notes.txt").write_text("not a session")
    (tmp_path / "20261201T000000Z-production-dead.jsonl").write_bytes(b"\x00\xff" * 500)
    (tmp_path / "20261201T000000Z-production-beef.jsonl").mkdir()
    os.mkfifo(tmp_path / "20261201T000000Z-production-f1f0.jsonl")
    (tmp_path / "20261201T000000Z-production-5e1f.jsonl").symlink_to(
        tmp_path / f"{real.id}.jsonl")
    (tmp_path / "20261201T000000Z-production-0000.jsonl").write_bytes(b"")

    assert [s.id for s in journal.list_sessions()] == [real.id]
    assert journal.open_session("production").id == real.id
    garbage = journal.read("20261201T000000Z-production-dead")
    assert garbage.events == [] and garbage.info is None and len(garbage.problems) == 1
    with pytest.raises(JournalError, match="not a regular file"):
        journal.read("20261201T000000Z-production-f1f0")
    with pytest.raises(JournalError, match="not a regular file"):
        journal.read("20261201T000000Z-production-beef")
    with pytest.raises(JournalError, match="symbolic link"):
        journal.read("20261201T000000Z-production-5e1f")
    with pytest.raises(JournalError, match="not one event can be read"):
        journal.append("20261201T000000Z-production-dead", confirmed(1))


def test_a_directory_that_does_not_exist_lists_nothing_and_is_not_created(tmp_path: Path,
                                                                           ) -> None:
    journal = JournalFiles(tmp_path / "missing")
    assert journal.list_sessions() == []
    assert journal.open_session("production") is None
    assert not (tmp_path / "missing").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(JournalError, match="not a directory"):
        JournalFiles(tmp_path / "file").create("production", "ana")


def test_listing_and_the_open_session_of_each_environment(tmp_path: Path) -> None:
    clock = Clock()
    journal = JournalFiles(tmp_path, clock=clock)
    prod_a = journal.create("production", "ana")
    clock.advance(60)
    stage = journal.create("staging", "ben")
    clock.advance(60)
    prod_b = journal.create("production", "cy")
    journal.append(prod_b.id, confirmed(1, "dee"))
    clock.advance(60)
    journal.append(prod_b.id, NewEvent(SESSION_CLOSED, "dee"))

    listed = journal.list_sessions()
    assert [s.id for s in listed] == [prod_a.id, stage.id, prod_b.id]
    last = listed[-1]
    assert (last.environment, last.operators, last.closed, last.event_count) == (
        "production", ("cy", "dee"), True, 3)
    assert last.opened_at == "2026-12-01T17:11:00.000000Z"
    assert last.last_event_at == "2026-12-01T17:12:00.000000Z"

    assert journal.open_session("production").id == prod_a.id  # the newest one still open
    assert journal.open_session("staging").id == stage.id
    assert journal.open_session("preview") is None
    journal.append(prod_a.id, NewEvent(SESSION_CLOSED, "ana"))
    assert journal.open_session("production") is None
    assert [s.closed for s in journal.list_sessions()] == [True, False, True]


# --- a real crash -----------------------------------------------------------------------------

def _writer(directory: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.support.journal_writer",
                             str(directory), mode], cwd=ROOT, stdout=subprocess.PIPE)


def _read_line(process: subprocess.Popen[bytes], timeout: float = 20.0) -> bytes:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the writer said nothing"
    return process.stdout.readline()


def test_sigkill_between_appends_loses_nothing_that_was_appended(tmp_path: Path) -> None:
    process = _writer(tmp_path, "loop")
    try:
        session_id = _read_line(process).decode().strip()
        acknowledged = [int(_read_line(process)) for _ in range(40)]
    finally:
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=20)
    assert process.returncode == -signal.SIGKILL
    acknowledged += [int(seq) for seq in rest.split()]  # returned before the kill too

    read = JournalFiles(tmp_path).read(session_id)
    seqs = [e.seq for e in read.events]
    assert set(acknowledged) <= set(seqs)
    assert seqs == list(range(1, len(seqs) + 1))
    assert all(p.line == len(seqs) + 1 for p in read.problems)  # at most a torn last line
    resumed = JournalFiles(tmp_path).append(session_id, confirmed(0, "next-operator"))
    assert resumed.seq == len(seqs) + 1


def test_sigkill_mid_line_leaves_a_torn_line_that_is_skipped(tmp_path: Path) -> None:
    process = _writer(tmp_path, "torn")
    session_id = _read_line(process).decode().strip()
    process.communicate(timeout=20)
    assert process.returncode == -signal.SIGKILL
    journal = JournalFiles(tmp_path)
    read = journal.read(session_id)
    assert [e.seq for e in read.events] == [1, 2, 3]
    assert len(read.problems) == 1 and "incomplete" in read.problems[0].message
    assert journal.append(session_id, confirmed(3)).seq == 4
    assert [e.seq for e in journal.read(session_id).events] == [1, 2, 3, 4]


# --- properties -------------------------------------------------------------------------------

@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow], deadline=None)
@given(garbage=st.binary(max_size=600))
def test_any_bytes_after_a_valid_journal_never_break_reading(tmp_path_factory,
                                                            garbage: bytes) -> None:
    directory = tmp_path_factory.mktemp("journal")
    journal = JournalFiles(directory)
    session = journal.create("production", "ana")
    originals = [journal.append(session.id, confirmed(n)) for n in range(3)]
    with (directory / f"{session.id}.jsonl").open("ab") as handle:
        handle.write(garbage)
    read = JournalFiles(directory).read(session.id)
    assert read.events[1:4] == originals
    after = JournalFiles(directory).append(session.id, confirmed(99))
    assert JournalFiles(directory).read(session.id).events[-1] == after


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(fields=st.dictionaries(st.text(max_size=12).filter(
    lambda k: k not in ("v", "seq", "at", "event", "session", "operator", "environment")),
    json_values, max_size=5), operator=st.text(max_size=30))
def test_any_fields_are_written_and_read_back_as_they_were(tmp_path_factory, fields: dict,
                                                           operator: str) -> None:
    directory = tmp_path_factory.mktemp("journal")
    journal = JournalFiles(directory)
    session = journal.create("production", "ana")
    event = journal.append(session.id, NewEvent(STEP_CONFIRMED, operator, fields))
    read = journal.read(session.id)
    assert read.problems == []
    assert read.events[-1] == event
    assert event.fields == plain(fields)


# --- where it lives ---------------------------------------------------------------------------

def test_the_default_directory_is_the_user_state_directory(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    assert default_journal_dir({"XDG_STATE_HOME": str(tmp_path)}) == (
        tmp_path / "ppcockpit" / "journal")
    monkeypatch.setenv("HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert default_journal_dir({"XDG_STATE_HOME": "relative/ignored"}) == (
            tmp_path / ".local" / "state" / "ppcockpit" / "journal")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert FileJournal().directory == tmp_path / "state" / "ppcockpit" / "journal"
