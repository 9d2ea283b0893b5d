"""LineAssembler: bytes cut anywhere become the same bounded lines as the whole output."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.command_output import CUT_MARK, LineAssembler


def reference(data: bytes, max_line: int) -> list[str]:
    """What the lines must be: the whole output decoded at once, split at LF, CRLF and
    lone CR, each line cut at max_line."""
    text = data.decode("utf-8", errors="replace")
    lines = re.split(r"\r\n?|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    mark = CUT_MARK.format(max_line=max_line)
    return [line if len(line) <= max_line else line[:max_line] + mark for line in lines]


def assemble(chunks: list[bytes], max_line: int) -> list[str]:
    assembler = LineAssembler(max_line)
    lines: list[str] = []
    for chunk in chunks:
        lines += assembler.feed(chunk)
    return lines + assembler.finish()


def cut_into(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    return [*pieces, data[start:]]


OUTPUT = st.lists(st.one_of(
    st.sampled_from([b"\n", b"\r", b"\r\n", b"\xff", b"\xe2\x82", b"\xac", "é€".encode(),
                     b"abc", b"x" * 7, b"\x1b[31m"]),
    st.binary(max_size=12)), max_size=40).map(b"".join)


@settings(max_examples=400)
@given(OUTPUT, st.lists(st.integers(0, 300), max_size=12), st.integers(1, 12))
def test_any_chunking_gives_the_lines_of_the_whole_output(
        data: bytes, cuts: list[int], max_line: int) -> None:
    assert assemble(cut_into(data, cuts), max_line) == reference(data, max_line)


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert assemble([b"one\r", b"\ntwo\r", b"", b"\nthree"], 80) == ["one", "two", "three"]


def test_lone_cr_ends_a_line_so_progress_updates_are_not_lost() -> None:
    assert assemble([b"10%\r50%\r100%\n"], 80) == ["10%", "50%", "100%"]


def test_invalid_utf8_is_replaced() -> None:
    assert assemble([b"ok \xff\xfe end\n"], 80) == ["ok \ufffd\ufffd end"]


def test_a_megabyte_without_newline_holds_one_line_of_max_line() -> None:
    assembler = LineAssembler(4096)
    lines: list[str] = []
    for _ in range(16):
        lines += assembler.feed(b"y" * 65536)
        # Never more than one line of text waits for its end.
        assert sum(len(piece) for piece in assembler._partial) <= 4096
    lines += assembler.finish()
    assert lines == ["y" * 4096 + CUT_MARK.format(max_line=4096)]


def test_after_a_cut_line_the_next_line_is_whole() -> None:
    assert assemble([b"abcdefgh", b"ijk\nnext\n"], 4) == [
        "abcd" + CUT_MARK.format(max_line=4), "next"]
