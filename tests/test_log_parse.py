"""Raw log lines into LogLines: the app's JSON in columns, everything else shown safely."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.logs import LogBuffer, extra_items
from ppcockpit.secrets import Redactor
from probes.log_parse import LineParser, LineSplitter, clean, cut_marker, short_time

SECRET = "sk-ant-prod-0123456789abcdef"
REDACT = Redactor([SECRET, "phc_live_key_0001"])
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

APP = {"level": "warn", "message": "Provider health degraded",
       "timestamp": "2026-11-28T10:00:00.000Z", "requestId": "3f1c2a9b", "route": "/api/health",
       "method": "GET", "userId": "u_123",
       "metadata": {"providerId": "anthropic", "status": "degraded", "latencyMs": 120},
       "error": {"name": "Error", "message": "rate limited", "stack": "Error: x\n    at y"}}


def parse(raw: bytes | str, **kwargs: object) -> object:
    return LineParser(redact=REDACT, **kwargs).parse(raw, 7, 100.0)  # type: ignore[arg-type]


def test_an_app_line_becomes_columns_and_keeps_the_other_fields() -> None:
    line = parse(json.dumps(APP))
    assert line.is_json and not line.cut and line.seq == 7 and line.received_at == 100.0
    assert (line.time, line.level, line.route, line.method, line.provider, line.message,
            line.request_id) == ("10:00:00.000", "warn", "/api/health", "GET", "anthropic",
                                 "Provider health degraded", "3f1c2a9b")
    extras = dict(extra_items(line))
    assert extras["userId"] == "u_123" and extras["metadata.latencyMs"] == "120"
    assert extras["error.stack"] == "Error: x at y"  # one row: newlines become spaces
    assert extras["timestamp"] == "2026-11-28T10:00:00.000Z"


def test_prefixes_from_kubectl_timestamps_and_fly_are_kept_apart() -> None:
    record = {k: v for k, v in APP.items() if k != "timestamp"}
    line = parse("2026-11-28T10:00:01.123456789Z " + json.dumps(record))
    assert line.is_json and line.time == "10:00:01.123" and line.level == "warn"
    assert dict(extra_items(line))["prefix"] == "2026-11-28T10:00:01.123456789Z"


def test_plain_lines_are_shown_as_they_are() -> None:
    for text in ("  ▲ Next.js 14.2.15", "ProviderError: rate limited",
                 "    at async POST (/var/task/.next/server/app/api/chat/route.js:1:4821)",
                 "", "{not json}", "[]", "{}", "42"):
        line = parse(text)
        assert line.raw == text and not line.is_json and line.level is None, text


def test_json_with_unexpected_types_is_shown_raw_and_never_dropped() -> None:
    cases = [
        {**APP, "level": 50},
        {**APP, "message": {"text": "hi"}},
        {**APP, "requestId": 12},
        {**APP, "route": ["/a"]},
        {**APP, "timestamp": 1_800_000_000},
        {**APP, "metadata": "anthropic"},
        {**APP, "metadata": {"providerId": 3}},
        {**APP, "level": "chatty"},
        {k: v for k, v in APP.items() if k != "message"},
    ]
    for record in cases:
        text = json.dumps(record)
        line = parse(text)
        assert not line.is_json and line.raw == text, record
    assert parse(json.dumps({**APP, "message": {"x": 1}})).level == "warn"  # still counts


def test_levels_are_normalised_and_the_timestamp_shortened() -> None:
    for given_level, level in (("WARNING", "warn"), ("fatal", "error"), ("trace", "debug"),
                               ("Info", "info")):
        assert parse(json.dumps({**APP, "level": given_level})).level == level
    assert short_time("2026-11-28 10:00:00") == "10:00:00"
    assert short_time("yesterday") == "yesterday"


def test_control_sequences_invalid_utf8_and_nul_never_come_out() -> None:
    hostile = (b"\x1b[31mred\x1b[0m \x1b]0;pwned\x07title \x1b]8;;http://x\x1b\\link\x1b]8;;"
               b"\x1b\\ \x00nul\x00 \xff\xfebad \x9b2J\ttab\r")
    line = parse(hostile)
    assert line.raw == "red title link nul \ufffd\ufffdbad \ufffd2J tab"  # raw 0x9b is not UTF-8
    escaped = json.dumps({**APP, "message": "\x1b[2J\x1b]52;c;ZXZpbA==\x07wiped\u2028x",
                          "route": "/a\ud800"})
    line = parse(escaped)
    assert line.is_json and line.message == "wiped x" and line.route == "/a\ufffd"
    assert not UNSAFE.search(line.raw + line.message)


def test_markup_is_left_as_text_for_the_widget() -> None:
    line = parse('[bold]x[/] [@click=app.quit]quit[/]')
    assert line.raw == '[bold]x[/] [@click=app.quit]quit[/]'


def test_a_long_line_is_cut_with_a_visible_marker() -> None:
    line = parse(b"x" * 1_000_000, max_line_bytes=1024)
    assert line.cut and line.raw == "x" * 1024 + cut_marker(1024)
    json_line = parse(json.dumps({**APP, "message": "m" * 5000}), max_line_bytes=1024)
    assert json_line.cut and not json_line.is_json and json_line.raw.endswith(cut_marker(1024))


def test_secrets_are_redacted_plain_escaped_or_cut_in_half() -> None:
    assert SECRET not in parse(f"key={SECRET} done").raw
    escaped = json.dumps({**APP, "message": SECRET}).replace("sk-", "sk\\u002d")
    line = parse(escaped)
    assert line.is_json and SECRET not in line.message and "sk\\u002d" not in line.raw
    assert "[sha256:" in line.message and "[sha256:" in line.raw
    # the cut falls inside the secret: its first characters must not remain either
    cut = parse("a" * 1000 + SECRET, max_line_bytes=1010)
    assert cut.cut and cut.raw == "a" * 1000 + cut_marker(1010)
    short_secret = LineParser(redact=Redactor(["abcd"]), max_line_bytes=64).parse("abcd" * 16)
    assert "abcd" not in short_secret.raw and len(short_secret.raw) <= 64 + len(cut_marker(64))


def test_deep_json_is_shown_raw() -> None:
    deep = '{"level":"info","message":"m","x":' + "[" * 3000 + "]" * 3000 + "}"
    assert not parse(deep).is_json
    escaped_deep = ('{"level":"info","message":"\\n","x":' + '{"a":' * 40 + "1" + "}" * 40
                    + "}")
    assert not parse(escaped_deep).is_json


def test_parse_into_numbers_lines_and_counts_every_one() -> None:
    buffer = LogBuffer(max_lines=3, clock=lambda: 1000.0)
    parser = LineParser()
    parser.parse_into([b"a", b"b"], buffer)
    parser.parse_into([b"c", b"d", json.dumps(APP | {"level": "error"}).encode()], buffer)
    assert [line.seq for line in buffer] == [3, 4, 5]
    assert (buffer.received, buffer.dropped, buffer.errors) == (5, 2, 1)


def test_the_splitter_bounds_a_line_without_newline_and_resyncs() -> None:
    splitter = LineSplitter(max_line_bytes=100)
    assert splitter.feed(b"one\r\ntw") == [b"one"]
    assert splitter.feed(b"o\n") == [b"two"]
    out = []
    for _ in range(100):  # 1 MB arrives in 10 kB chunks without a newline
        out += splitter.feed(b"y" * 10_000)
        assert len(splitter._partial) <= 100
    assert out == [b"y" * 101]  # cap + 1: the parser marks it cut
    assert splitter.feed(b"yyy\nnext\nlast") == [b"next"]
    assert splitter.flush() == [b"last"] and splitter.flush() == []


def test_clean_keeps_ordinary_text_untouched() -> None:
    text = "Provider health degraded — anthropic 120 ms ✓"
    assert clean(text) is text


raw_lines = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.builds(lambda record: json.dumps(record), st.fixed_dictionaries(
        {"level": st.one_of(st.sampled_from(["info", "warn", "error", "debug"]), st.integers(),
                            st.none()),
         "message": st.one_of(st.text(max_size=80), st.integers(), st.dictionaries(
             st.text(max_size=5), st.text(max_size=5), max_size=2)),
         "requestId": st.text(max_size=20),
         "metadata": st.dictionaries(st.text(max_size=10), st.one_of(
             st.text(max_size=20), st.integers(), st.floats()), max_size=3)})),
    st.builds(lambda parts: "".join(parts), st.lists(st.sampled_from(
        ["\x1b[", "31m", "\x1b]", "\x07", "\x1b\\", "\x00", "\x9b", "{", "}", '"', ":", "\\",
         "\\u001b", "\\ud800", SECRET[:6], SECRET[6:], SECRET, "[bold]", "\t", "\r", "é"]),
        max_size=40)),
)


@settings(max_examples=400, deadline=None)
@given(raw_lines, st.sampled_from([64, 100, 16 * 1024]))
def test_any_line_parses_safely(raw: bytes | str, cap: int) -> None:
    line = LineParser(redact=REDACT, max_line_bytes=cap).parse(raw, 1, 0.0)
    texts = [line.raw, line.time, line.route, line.method, line.provider, line.message,
             line.request_id] + [f"{k}={v}" for k, v in extra_items(line)]
    for text in texts:
        assert not UNSAFE.search(text), text
        assert SECRET not in text
    assert len(line.raw) <= cap + len(cut_marker(cap))
    assert line.cut == line.raw.endswith(cut_marker(cap))


def test_msgspec_and_the_stdlib_read_lines_alike(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from probes import log_parse

    lines = [json.dumps(APP), json.dumps({**APP, "x": float("nan")}), '{"level":"info",'
             '"message":"\\ud800 lone"}', '{"level":"info","message":"m","n":' + "9" * 30 + "}",
             '{"level":"info","message":"m"} trailing', "{}", "[1]", '{"a":1,"a":2}',
             "2026-11-28T10:00:01Z " + json.dumps(APP)]

    def parsed() -> list[tuple[object, ...]]:
        parser = LineParser(redact=REDACT)
        return [(line.raw, line.is_json, line.level, line.message, dict(extra_items(line)))
                for line in (parser.parse(text) for text in lines)]

    with_default = parsed()
    monkeypatch.setattr(log_parse, "_fast_decode", None)
    assert parsed() == with_default
    assert [row[1] for row in with_default] == [True, True, True, True, False, False, False,
                                                False, True]
