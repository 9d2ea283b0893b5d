"""The log buffer's counters, pausing, filters and search, and saving: plain data, no UI."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.log_save import log_file_name, save_log_lines
from ppcockpit.logs import (
    LogBuffer,
    LogFilter,
    LogLine,
    SearchError,
    SourceState,
    compile_search,
    filter_lines,
    find_match,
    match_spans,
    rate_text,
)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def lines(buffer: LogBuffer, count: int, level: str | None = "info", **fields: str) -> None:
    first = buffer.allocate(count)
    buffer.extend([LogLine(first + i, buffer.clock(), f"line {first + i}", level=level,
                           **fields) for i in range(count)])  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 50), st.lists(st.one_of(st.integers(0, 120), st.just(-1)), max_size=30))
def test_counters_account_for_every_line(max_lines: int, batches: list[int]) -> None:
    buffer = LogBuffer(max_lines, clock=Clock())
    for count in batches:
        if count < 0:
            buffer.mark_deploy(datetime(2027, 1, 15, tzinfo=UTC))
        else:
            lines(buffer, count)
    assert buffer.received == sum(c for c in batches if c >= 0)
    assert buffer.received + buffer.markers == len(buffer) + buffer.dropped
    assert len(buffer) <= max_lines
    seqs = [line.seq for line in buffer]
    assert seqs == list(range(buffer.next_seq - len(buffer), buffer.next_seq))


def test_since_returns_the_newer_lines_in_order() -> None:
    buffer = LogBuffer(5, clock=Clock())
    lines(buffer, 8)
    assert [line.seq for line in buffer.since(5)] == [6, 7, 8]
    assert [line.seq for line in buffer.since(0)] == [4, 5, 6, 7, 8]  # what is left
    assert buffer.since(8) == [] and buffer.since(99) == []


def test_lines_per_second_and_errors_per_minute_slide() -> None:
    clock = Clock(1000.0)
    buffer = LogBuffer(clock=clock)
    for _ in range(10):
        lines(buffer, 100)
        lines(buffer, 2, level="error")
        clock.now += 1
    assert buffer.lines_per_second() == pytest.approx(102.0)  # the last 5 s
    assert buffer.errors_per_minute() == 20
    clock.now += 30
    assert buffer.lines_per_second() == 0 and buffer.errors_per_minute() == 20
    clock.now += 31
    assert buffer.errors_per_minute() == 0


def test_pausing_counts_new_lines_and_the_ones_past_the_cap() -> None:
    buffer = LogBuffer(10, clock=Clock())
    lines(buffer, 4)
    buffer.pause()
    assert buffer.paused and buffer.paused_at_seq == 4
    lines(buffer, 9)
    assert (buffer.new_while_paused, buffer.lost_while_paused) == (9, 0)
    lines(buffer, 5)
    assert (buffer.new_while_paused, buffer.lost_while_paused) == (14, 4)
    buffer.resume()
    assert (buffer.new_while_paused, buffer.lost_while_paused) == (0, 0)


def test_listeners_hear_every_change_and_can_leave() -> None:
    buffer = LogBuffer(clock=Clock())
    heard: list[int] = []
    leave = buffer.subscribe(lambda: heard.append(buffer.version))
    lines(buffer, 3)
    buffer.set_state(SourceState("streaming", "file: x"))
    buffer.set_state(SourceState("streaming", "file: x"))  # no change, no call
    buffer.mark_deploy(datetime(2027, 1, 15, tzinfo=UTC))
    leave()
    lines(buffer, 1)
    assert heard == [1, 2, 3]


def test_filters_by_level_provider_and_request() -> None:
    marker = LogLine(9, 0, "──── deploy ────", marker=True)
    pool = [LogLine(1, 0, "e", level="error", provider="openai", request_id="r1"),
            LogLine(2, 0, "w", level="warn", provider="anthropic", request_id="r2"),
            LogLine(3, 0, "i", level="info", provider="openai", request_id="r1"),
            LogLine(4, 0, "d", level="debug"), LogLine(5, 0, "plain"), marker]
    raws = lambda flt: [line.raw for line in filter_lines(pool, flt)]  # noqa: E731
    assert raws(LogFilter(1)) == ["e", marker.raw]
    assert raws(LogFilter(2)) == ["e", "w", marker.raw]
    assert raws(LogFilter(3)) == ["e", "w", "i", "plain", marker.raw]
    assert raws(LogFilter()) == [line.raw for line in pool]
    assert raws(LogFilter(provider="openai")) == ["e", "i", marker.raw]
    assert raws(LogFilter(request_id="r1", level=2)) == ["e", marker.raw]
    assert LogFilter(2, "openai", "r1").describe() == "warn and up · provider openai · request r1"
    assert not LogFilter().active and LogFilter().describe() == ""


def test_search_is_smart_case_and_bad_patterns_say_why() -> None:
    assert compile_search("rate limited").search("Rate Limited")
    assert not compile_search("Rate").search("rate")
    with pytest.raises(SearchError, match=r"invalid regex: unterminated character set"):
        compile_search("[a")
    with pytest.raises(SearchError, match="longer than"):
        compile_search("a" * 501)
    assert match_spans(compile_search("a*"), "baab") == [(1, 3)]  # empty matches skipped
    assert len(match_spans(compile_search("x"), "x" * 1000)) == 64


def test_find_match_walks_both_ways_from_a_start() -> None:
    pool = [LogLine(i, 0, text) for i, text in enumerate(["a", "b", "a", "c", "a"])]
    pattern = compile_search("a")
    assert find_match(pool, pattern, 4, -1) == 4
    assert find_match(pool, pattern, 3, -1) == 2
    assert find_match(pool, pattern, 3, 1) == 4
    assert find_match(pool, pattern, 5, 1) is None
    assert find_match(pool, compile_search("z"), 4, -1) is None


def test_source_state_lines() -> None:
    assert SourceState().describe(0) == "no log source configured"
    assert SourceState("connecting", "file: /x").describe(0) == "… connecting: file: /x"
    down = SourceState("down", "file: /x", since=None, reason="no such file: /x",
                       retry_at=10.0)
    assert down.describe(9.8) == "✖ down: file: /x · no such file: /x · restarting now"
    assert rate_text(0) == "0" and rate_text(1.75) == "1.8" and rate_text(51_234) == "51k"


def test_saving_writes_a_new_0600_file_whatever_the_umask(tmp_path: Path) -> None:
    at = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    old = os.umask(0)
    try:
        first = save_log_lines(tmp_path / "logs", ["one", "two"], environment="prod/../x",
                               at=at)
        second = save_log_lines(tmp_path / "logs", ["three"], environment="prod/../x", at=at)
    finally:
        os.umask(old)
    assert first.name == "ppcockpit-logs-prod-..-x-20270115T080000Z.log"
    assert first.parent == tmp_path / "logs"
    assert second.name == "ppcockpit-logs-prod-..-x-20270115T080000Z-1.log"
    assert first.read_text() == "one\ntwo\n" and second.read_text() == "three\n"
    for path in (first, second):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_saving_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    at = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    target = tmp_path / "victim"
    target.write_text("keep me\n")
    (tmp_path / log_file_name("production", at)).symlink_to(target)
    path = save_log_lines(tmp_path, ["line"], environment="production", at=at)
    assert path.name.endswith("-1.log") and target.read_text() == "keep me\n"


def test_saving_into_an_unwritable_place_is_an_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        save_log_lines(blocker / "sub", ["x"], environment="p", at=datetime.now(UTC))


def test_the_log_tail_modules_leave_asyncssh_and_textual_for_later() -> None:
    from tests.test_import_hygiene import modules_after

    loaded = modules_after("import ppcockpit.logs, ppcockpit.log_save, probes.log_parse, "
                           "probes.log_sources, probes.log_tail, probes.ssh")
    assert not [name for name in loaded if name.split(".")[0] in ("asyncssh", "textual")]
