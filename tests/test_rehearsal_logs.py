"""The app's log stream (file, rotation, the follower behind `rehearse logs`) and HogQL parsing."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from ppcockpit.rehearsal import start_stack
from ppcockpit.rehearsal.follow import Follower
from ppcockpit.rehearsal.hogql import HogQLError, parse_count_query
from ppcockpit.rehearsal.logs import LogSink


class Collected(io.TextIOBase):
    """A thread-safe stdout stand-in for the follower."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def lines(self) -> list[str]:
        with self._lock:
            return "".join(self._parts).splitlines()


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)  # the follower polls a file: give it a bounded while
    return True


async def test_log_sink_writes_app_lines_and_rotates_past_its_cap(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "app.log", cap_bytes=2000)
    sink.json("warn", "Provider health degraded", 1_800_000_000.0, requestId="r1",
              userId=None, metadata={"providerId": "anthropic"})
    sink.text("  ▲ Next.js 14.2.15")
    await sink.flush()
    first, banner = (tmp_path / "app.log").read_text().splitlines()
    record = json.loads(first)
    assert record == {"level": "warn", "message": "Provider health degraded",
                      "timestamp": "2027-01-15T08:00:00.000Z", "requestId": "r1",
                      "metadata": {"providerId": "anthropic"}}  # null keys omitted
    assert banner == "  ▲ Next.js 14.2.15"
    for n in range(40):
        sink.text(f"line {n} " + "x" * 80)
    await sink.flush()
    assert sink.rotations == 1
    assert (tmp_path / "app.log.1").stat().st_size > 2000
    assert (tmp_path / "app.log").stat().st_size == 0


def test_follower_prints_the_tail_then_follows_across_rotation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"old {n}\n" for n in range(10)))
    out, stop = Collected(), threading.Event()
    follower = threading.Thread(target=Follower(log, out, stop).run,
                                kwargs={"follow": True, "lines": 3})
    follower.start()
    try:
        assert wait_for(lambda: out.lines() == ["old 7", "old 8", "old 9"])
        with log.open("a") as handle:
            handle.write("new 1\nnew 2\n")
        assert wait_for(lambda: out.lines()[-1] == "new 2")
        log.rename(tmp_path / "app.log.1")
        log.write_text("after rotation\n")
        assert wait_for(lambda: out.lines()[-1] == "after rotation")
    finally:
        stop.set()
        follower.join(timeout=5)
    assert out.lines() == ["old 7", "old 8", "old 9", "new 1", "new 2", "after rotation"]


def test_follower_without_follow_prints_everything_and_a_final_partial_line(
        tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a\nb\nno newline yet")
    out = Collected()
    Follower(log, out).run(follow=False, lines=-1)
    assert out.lines() == ["a", "b", "no newline yet"]


def test_the_stack_log_has_json_plain_lines_and_greppable_request_ids() -> None:
    with start_stack(time_scale=10.0) as stack:
        response = httpx.get(stack.endpoints["app"] + "/api/health")
        request_id = response.headers["x-request-id"]
        stack.advance(1)  # one step: the lines are flushed to the file
        lines = stack.log_path.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    assert len(parsed) > 100
    assert len(parsed) < len(lines)  # Next.js banners, traces: plain text among the JSON
    assert all({"level", "message", "timestamp"} <= set(p) for p in parsed)
    assert {p["level"] for p in parsed} >= {"info", "error", "debug"}
    assert any(p.get("requestId") == request_id for p in parsed)


def test_hogql_recognises_the_cockpit_query() -> None:
    parsed = parse_count_query(
        "SELECT toStartOfMinute(timestamp) AS minute, countIf(event = 'i_chat_completed') AS ok,"
        " countIf(event = 'it\\'s') AS odd FROM events WHERE timestamp > now() - INTERVAL 2 HOUR"
        " GROUP BY minute ORDER BY minute DESC LIMIT 62")
    assert parsed.counts == (("ok", "i_chat_completed"), ("odd", "it's"))
    assert (parsed.window_seconds, parsed.descending, parsed.limit) == (7200, True, 62)


@pytest.mark.parametrize(("query", "message"), [
    ("", "Query is empty"),
    (None, "Query is empty"),
    ("SELECT 1", "Unknown table"),
    ("SELECT count() FROM events", "Syntax error"),
    ("SELECT toStartOfMinute(timestamp) AS m, countIf(event = 'a') AS a FROM events",
     "INTERVAL N MINUTE"),
    ("SELECT toStartOfMinute(timestamp) AS m, countIf(event = 'a') AS a FROM events "
     "WHERE timestamp > now() - INTERVAL 5 MINUTE LIMIT 0", "LIMIT must be between"),
])
def test_hogql_refuses_what_it_cannot_answer(query: object, message: str) -> None:
    with pytest.raises(HogQLError, match=message):
        parse_count_query(query)
