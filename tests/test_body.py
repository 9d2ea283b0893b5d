"""probes.body: one capped, decompress-within-the-cap reader and one JSON parser for bodies."""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.body import BodyCap, BodyTooLarge, UnreadableBody, parse_json

ENCODE = {
    None: lambda data: data,
    "identity": lambda data: data,
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "gzip, deflate": lambda data: zlib.compress(gzip.compress(data)),
}


def fed(cap: BodyCap, raw: bytes, step: int) -> bytes:
    for start in range(0, len(raw), step):
        cap.feed(raw[start:start + step])
    return cap.finish()


@given(st.binary(max_size=5000), st.sampled_from(list(ENCODE)), st.integers(1, 700))
def test_any_body_in_any_chunking_reads_back_whole(data: bytes, encoding: str | None,
                                                   step: int) -> None:
    assert fed(BodyCap(len(data), encoding), ENCODE[encoding](data), step) == data


@given(st.binary(min_size=1, max_size=5000), st.sampled_from(list(ENCODE)),
       st.integers(1, 700))
def test_one_byte_over_the_cap_is_too_large(data: bytes, encoding: str | None,
                                            step: int) -> None:
    cap = BodyCap(len(data) - 1, encoding)
    with pytest.raises(BodyTooLarge):
        fed(cap, ENCODE[encoding](data), step)
    assert cap.size <= cap.limit


def test_raw_deflate_without_a_header_is_read() -> None:
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = squeezer.compress(b"hello" * 100) + squeezer.flush()
    assert fed(BodyCap(1000, "deflate"), raw, 7) == b"hello" * 100


def test_a_bomb_is_never_inflated_past_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (100 * 1024 * 1024))  # 100 MB of zeros in ~100 KB
    cap = BodyCap(1024 * 1024, "gzip")
    with pytest.raises(BodyTooLarge):
        fed(cap, bomb, 64 * 1024)
    assert cap.size <= 1024 * 1024 and cap.received <= len(bomb)


@pytest.mark.parametrize(("encoding", "raw", "reason"), [
    ("br", b"x", "unsupported Content-Encoding 'br'"),
    ("gzip, gzip, gzip", b"x", "3 content encodings stacked"),
    ("gzip", b"not gzip at all", "corrupt gzip stream"),
    ("deflate", b"\xff\xff\xff\xff", "corrupt deflate stream"),
])
def test_what_cannot_be_decoded_says_so(encoding: str, raw: bytes, reason: str) -> None:
    with pytest.raises(UnreadableBody, match=reason):
        fed(BodyCap(1000, encoding), raw, 3)


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
    (b'{"a": 1', "not JSON"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b"1" * 5000, "unreadable JSON"),
    (b"", "not JSON"),
])
def test_parse_json_says_why_in_a_few_words(body: bytes, reason: str) -> None:
    with pytest.raises(UnreadableBody, match=reason):
        parse_json(body)


@given(st.binary(max_size=300))
def test_parse_json_raises_nothing_but_unreadable_body(body: bytes) -> None:
    with contextlib.suppress(UnreadableBody):
        parse_json(body)


def test_parse_json_reads_a_bom() -> None:
    assert parse_json(b"\xef\xbb\xbf" + json.dumps({"a": [1]}).encode()) == {"a": [1]}
