"""probes.retry_after: one reader of Retry-After and X-RateLimit-Reset for every probe."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from probes.retry_after import MAX_WAIT, MIN_WAIT, parse_wait, wait_from_headers

NOW = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def test_the_forms_a_server_sends() -> None:
    assert parse_wait("30", NOW) == 30
    assert parse_wait(" 2.5 ", NOW) == 2.5
    assert parse_wait("Thu, 01 Jan 2026 00:01:00 GMT", NOW) == 60
    assert parse_wait("Wed, 31 Dec 2025 00:00:00 GMT", NOW) == MIN_WAIT  # in the past
    assert parse_wait("Thu, 01 Jan 2026 00:01:00 -0000", NOW) == 60  # zone unknown: GMT
    assert parse_wait("99999999", NOW) == MAX_WAIT
    assert parse_wait(str(int(NOW) + 42), NOW) == 42  # a reset given as a unix time
    assert parse_wait("0", NOW) == MIN_WAIT


def test_what_no_server_should_send_is_ignored_or_bounded() -> None:
    for bad in (None, "", "  ", "soon", "nan", "-5", "-inf", "1e", "Thu, 99 Foo",
                "Thu, 01 Jan 99999 00:00:00 GMT", "x" * 1000, "9" * 1000):
        assert parse_wait(bad, NOW) is None, bad
    assert parse_wait("inf", NOW) == MAX_WAIT
    assert parse_wait("1e400", NOW) == MAX_WAIT
    assert parse_wait("9" * 90, NOW) == MAX_WAIT


def test_headers_are_read_in_the_order_given() -> None:
    headers = {"x-ratelimit-reset": "garbage", "retry-after": "7"}
    assert wait_from_headers(headers, NOW, ("x-ratelimit-reset", "retry-after")) == 7
    assert wait_from_headers({}, NOW) is None


@given(st.one_of(st.none(), st.text(max_size=200), st.integers().map(str),
                 st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.datetimes(timezones=st.just(UTC)).map(
                     lambda d: format_datetime(d, usegmt=True))))
def test_any_header_value_gives_none_or_a_bounded_wait(value: str | None) -> None:
    wait = parse_wait(value, NOW)
    assert wait is None or (MIN_WAIT <= wait <= MAX_WAIT and math.isfinite(wait))


@given(st.integers(0, 100_000))
def test_an_http_date_in_the_future_is_that_far_away(seconds: int) -> None:
    when = datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=seconds)
    assert parse_wait(format_datetime(when, usegmt=True), NOW) == min(
        max(seconds, MIN_WAIT), MAX_WAIT)
