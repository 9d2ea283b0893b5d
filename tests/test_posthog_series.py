"""The per-minute maths of the failure ratio: parsing, dense series, window, before/after."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ppcockpit.config_model import PosthogProbeConfig
from ppcockpit.model import Status
from ppcockpit.units import RATIO_DECIMALS, exceeds, shown_percent
from probes.posthog_series import (
    MINUTE,
    MinuteCount,
    Totals,
    before_after,
    dense_series,
    evaluate,
    floor_minute,
    format_ratio,
    parse_count,
    parse_query_rows,
    parse_timestamp,
    totals,
    window_minutes,
)

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-8)),
                         timezone(timedelta(hours=5, minutes=30))])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)


AFTER = END + MINUTE  # END's minute is over: every minute of `flat` is whole


def minute(offset: int) -> datetime:
    return END + offset * MINUTE


def flat(minutes: int, completed: int, failed: int) -> list[MinuteCount]:
    return [MinuteCount(minute(-i), completed, failed) for i in range(minutes - 1, -1, -1)]


# -- timestamps ----------------------------------------------------------------------------

@given(moments, zones)
def test_iso_with_a_zone_is_read_as_that_instant(moment: datetime, zone: timezone) -> None:
    aware = moment.replace(tzinfo=zone)
    assert parse_timestamp(aware.isoformat()) == aware.astimezone(UTC)


@given(moments)
def test_a_time_without_zone_is_utc_in_every_written_form(moment: datetime) -> None:
    expected = moment.replace(tzinfo=UTC)
    assert parse_timestamp(moment.isoformat()) == expected
    whole = moment.replace(microsecond=0)
    assert parse_timestamp(whole.strftime("%Y-%m-%d %H:%M:%S")) == whole.replace(tzinfo=UTC)
    assert parse_timestamp(whole.isoformat() + "Z") == whole.replace(tzinfo=UTC)


def test_known_timestamp_forms() -> None:
    assert parse_timestamp("2026-03-01T12:00:00Z") == END
    assert parse_timestamp("2026-03-01T14:00:00+02:00") == END
    assert parse_timestamp("2026-03-01 12:00:00") == END
    assert parse_timestamp("2026-03-01T12:00:00.000000") == END
    assert parse_timestamp(END.timestamp()) == END


@pytest.mark.parametrize("bad", ["yesterday", "", "12:00", None, True, [], {}, float("nan"),
                                 "2026-13-01T00:00:00", "\x1b[31m2026\x1b[0m"])
def test_bad_timestamps_are_one_line_value_errors(bad: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_timestamp(bad)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message and len(message) < 80


@given(json_values)
def test_parse_timestamp_only_ever_raises_value_error(value: object) -> None:
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        return
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(("raw", "count"), [(3, 3), (3.0, 3), ("12", 12), (" 7 ", 7), (0, 0)])
def test_counts(raw: object, count: int) -> None:
    assert parse_count(raw) == count


@pytest.mark.parametrize("bad", [-1, 1.5, "x", None, True, "-3", float("inf")])
def test_bad_counts(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_count(bad)


# -- series ---------------------------------------------------------------------------------

counts_strategy = st.lists(
    st.builds(lambda off, c, f: MinuteCount(minute(off), c, f),
              st.integers(-80, 10), st.integers(0, 500), st.integers(0, 500)),
    max_size=60,
)


@given(counts_strategy, st.integers(1, 60))
def test_dense_series_is_bounded_ordered_and_keeps_every_count_in_its_span(
        counts: list[MinuteCount], minutes: int) -> None:
    series = dense_series(counts, END + timedelta(seconds=42), minutes)
    assert len(series) == minutes
    assert series[-1].minute == END
    assert all(b.minute - a.minute == MINUTE for a, b in itertools.pairwise(series))
    inside = [c for c in counts if END - (minutes - 1) * MINUTE <= c.minute <= END]
    assert totals(series) == totals(inside)


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_ratio_is_a_share_and_none_without_requests(completed: int, failed: int) -> None:
    ratio = Totals(completed, failed).ratio
    if completed + failed == 0:
        assert ratio is None
    else:
        assert ratio is not None and 0.0 <= ratio <= 1.0
        assert ratio == failed / (completed + failed)


@given(st.integers(1, 15), st.integers(0, 50), st.integers(0, 50), st.integers(0, 50),
       st.integers(0, 50))
def test_before_after_compares_equal_spans(since: int, c_before: int, f_before: int,
                                           c_after: int, f_after: int) -> None:
    deploy = minute(-(since - 1))
    series = [MinuteCount(m.minute, c_after if m.minute >= deploy else c_before,
                          f_after if m.minute >= deploy else f_before) for m in flat(30, 0, 0)]
    compare = before_after(series, deploy + timedelta(seconds=30), max_minutes=15)
    assert compare is not None and compare.minutes == since
    assert compare.after == Totals(c_after * since, f_after * since)
    assert compare.before == Totals(c_before * since, f_before * since)
    if compare.before.requests and compare.after.requests:
        assert compare.delta == pytest.approx(compare.after.ratio - compare.before.ratio)
    else:
        assert compare.delta is None


def test_before_after_is_none_when_not_computable() -> None:
    series = flat(30, 10, 1)
    assert before_after(series, None, 15) is None
    assert before_after(series, minute(5), 15) is None  # in the future
    assert before_after(series, minute(-20), 15) is None  # older than the window
    assert before_after([], minute(-1), 15) is None


# -- the verdict ----------------------------------------------------------------------------

def config(**values: object) -> PosthogProbeConfig:
    return PosthogProbeConfig.from_dict(values)


@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 40))
@settings(max_examples=200)
def test_the_verdict_never_calls_too_few_requests_healthy(completed: int, failed: int,
                                                          minimum: int) -> None:
    series = [*flat(30, 0, 0)[:-1], MinuteCount(END, completed, failed)]
    verdict = evaluate(series, config(min_requests=minimum), None, AFTER)
    requests = completed + failed
    assert verdict.metrics["requests"] == requests
    if requests == 0 or requests < minimum:
        assert verdict.status is Status.UNKNOWN
        assert verdict.metrics["ratio"] is None
        assert verdict.summary.startswith(f"inconclusive: {requests} requests")
    else:
        ratio = failed / requests
        assert verdict.metrics["ratio"] == ratio
        # Judged on the ratio as shown (one decimal, cut down): what is read is what counts.
        shown = shown_percent(ratio, RATIO_DECIMALS)
        expected = (Status.UNAVAILABLE if shown > 5 else
                    Status.DEGRADED if shown > 2 else Status.HEALTHY)
        assert verdict.status is expected


def test_verdict_summaries() -> None:
    healthy = evaluate([*flat(30, 0, 0)[:-1], MinuteCount(END, 476, 4)], config(), None,
                       AFTER)
    assert healthy.summary == "failure ratio 0.8% · 4/480 failed (15m)"
    critical = evaluate([*flat(30, 0, 0)[:-1], MinuteCount(END, 463, 37)], config(), None,
                        AFTER)
    assert critical.summary == "failure ratio 7.4% > 5% · 37/500 requests failed (15m)"
    assert critical.details["series"][-1] == {"minute": END.isoformat(), "completed": 463,
                                              "failed": 37}


def test_only_the_newest_window_counts() -> None:
    series = [MinuteCount(m.minute, 1000 if m.minute < minute(-14) else 0, 0)
              for m in flat(30, 0, 0)]
    verdict = evaluate(series, config(), None, AFTER)
    assert verdict.status is Status.UNKNOWN and verdict.metrics["requests"] == 0


# -- the minute still filling ----------------------------------------------------------------

FILLING = END + timedelta(seconds=5)  # END's minute began five seconds ago


@given(st.lists(st.tuples(st.integers(0, 80), st.integers(0, 20)), min_size=29, max_size=29),
       st.integers(0, 500), st.integers(0, 500), st.integers(0, 59))
@settings(max_examples=200)
def test_the_minute_still_filling_never_counts(whole: list[tuple[int, int]], completed: int,
                                               failed: int, seconds: int) -> None:
    series = [MinuteCount(minute(i - 29), c, f) for i, (c, f) in enumerate(whole)]
    now = END + timedelta(seconds=seconds)
    with_it = evaluate([*series, MinuteCount(END, completed, failed)], config(), None, now)
    without = evaluate([*series, MinuteCount(END, 0, 0)], config(), None, now)
    assert (with_it.status, with_it.metrics, with_it.label) == (
        without.status, without.metrics, without.label)
    assert with_it.summary == without.summary
    assert with_it.details["series"][-1]["filling"] is True
    assert all("filling" not in m for m in with_it.details["series"][:-1])


def test_a_minute_that_has_just_begun_cannot_tip_the_verdict_alone() -> None:
    # A quiet quarter hour (30 requests, none failed), and 2 failures among the 6 requests
    # of the five seconds since: counted, 2/34 would have been 5.9%, over the 5% line.
    series = [*flat(29, 2, 0)[1:], MinuteCount(END, 4, 2)]
    verdict = evaluate(series, config(), None, FILLING)
    assert verdict.status is Status.HEALTHY and verdict.label is None
    assert verdict.summary == "failure ratio 0% · 0/30 failed (15m)"
    assert verdict.details["series"][-1] == {"minute": END.isoformat(), "completed": 4,
                                             "failed": 2, "filling": True}
    # Once the minute is over, it counts like any other.
    over = evaluate(series, config(), None, END + MINUTE)
    assert over.status is Status.UNAVAILABLE and over.metrics["requests"] == 34


def test_before_after_leaves_the_filling_minute_out() -> None:
    series = [*flat(29, 99, 1)[1:], MinuteCount(END, 5, 1)]
    just_deployed = evaluate(series, config(), END + timedelta(seconds=2), FILLING)
    assert just_deployed.metrics["ratio_after"] is None  # no whole minute since the deploy
    assert "after deploy" not in just_deployed.summary
    earlier = evaluate(series, config(), minute(-2), FILLING)
    assert earlier.details["compare_minutes"] == 2
    assert earlier.metrics["ratio_after"] == 0.01 and earlier.metrics["ratio_before"] == 0.01


# -- recovering --------------------------------------------------------------------------------

def spike_then_calm(calm: tuple[int, int] = (99, 1)) -> list[MinuteCount]:
    """15 whole minutes of 100 requests: 20 failed in each of the first five, then `calm`;
    END is the minute just begun (nothing in it yet)."""
    counts = [(80, 20)] * 5 + [calm] * 10
    return [*(MinuteCount(minute(i - 15), c, f) for i, (c, f) in enumerate(counts)),
            MinuteCount(END, 0, 0)]


def test_recovering_says_what_it_waits_for_and_keeps_the_verdict() -> None:
    verdict = evaluate(spike_then_calm(), config(), None, END + timedelta(seconds=30))
    assert verdict.status is Status.UNAVAILABLE and verdict.label == "failures > 5%"
    # 110/1500 is 7.3%. Dropping the oldest spike minute for a calm one leaves 91 (6%), the
    # second 72 (4.8%): two more minutes must end, the first in 30s, the second 90s from now.
    assert verdict.summary == (
        "failure ratio 7.3% > 5% · recovering: last 3m at 1%; 15m window ≤ 5% "
        "in ~2m · 110/1500 requests failed (15m)")
    assert verdict.details["recovering"] == {
        "minutes": 3, "ratio": 0.01, "requests": 300, "threshold": 0.05,
        "clears_in_s": 90.0, "clears_in_m": 2}


def test_recovering_from_the_warn_line_names_it() -> None:
    counts = [(96, 4)] * 12 + [(100, 0)] * 3  # 48/1500 = 3.2%: degraded
    series = [*(MinuteCount(minute(i - 15), c, f) for i, (c, f) in enumerate(counts)),
              MinuteCount(END, 0, 0)]
    verdict = evaluate(series, config(), None, END)
    assert verdict.status is Status.DEGRADED and verdict.label == "failures > 2%"
    # 4 per dropped minute: 48 - 4k <= 30 at k = 5, five minutes from the start of END.
    assert "recovering: last 3m at 0%; 15m window ≤ 2% in ~5m" in verdict.summary
    assert verdict.details["recovering"]["clears_in_s"] == 300.0


@pytest.mark.parametrize(("calm", "why"), [
    ((98, 2), "2% is not under the 2% warn line"),
    ((0, 0), "a minute without requests is no evidence"),
    ((5, 0), "15 requests in the three minutes: fewer than min_requests"),
])
def test_not_recovering(calm: tuple[int, int], why: str) -> None:
    verdict = evaluate(spike_then_calm(calm), config(), None, END)
    assert verdict.status is not Status.HEALTHY, why
    assert "recovering" not in verdict.summary and verdict.details["recovering"] is None, why


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), min_size=12,
                max_size=12), st.integers(7, 100), st.integers(0, 1))
@settings(max_examples=200)
def test_the_wait_is_the_minutes_the_window_needs_at_the_recent_pace(
        early: list[tuple[int, int]], completed: int, failed: int) -> None:
    calm = [(completed, failed)] * 3
    counts = early + calm
    series = [MinuteCount(minute(i - 15), c, f) for i, (c, f) in enumerate(counts)]
    verdict = evaluate(series, config(), None, END)  # the newest whole minute just ended
    recovering = verdict.details["recovering"]
    if recovering is None:
        return
    threshold = recovering["threshold"]
    assert verdict.status in (Status.DEGRADED, Status.UNAVAILABLE)
    steps = recovering["clears_in_m"]
    assert recovering["clears_in_s"] == steps * 60

    def after(more: int) -> float:
        future = [MinuteCount(minute(k), completed, failed) for k in range(more)]
        later = evaluate(series + future, config(), None, END + more * MINUTE)
        ratio = later.metrics["ratio"]
        assert ratio is not None
        return ratio

    assert not exceeds(after(steps), threshold, RATIO_DECIMALS)
    assert exceeds(after(steps - 1), threshold, RATIO_DECIMALS)
    event("recovering")


# -- rows from the query answer -------------------------------------------------------------

def test_rows_by_column_name_and_skipped_rows() -> None:
    payload = {"columns": ["failed", "minute", "completed"],
               "results": [[1, "2026-03-01T12:00:00Z", 9], ["x", "2026-03-01T12:01:00", 1],
                           "not a row", [2, "nonsense", 3], [0, "2026-03-01 11:59:00", "4"]]}
    parsed = parse_query_rows(payload, max_rows=100)
    assert parsed.skipped == 3
    assert parsed.counts == [MinuteCount(END, 9, 1), MinuteCount(minute(-1), 4, 0)]


@pytest.mark.parametrize(("payload", "reason"), [
    ([], "not an object"),
    ({"results": "nope"}, "no 'results' list"),
    ({"error": "x"}, "no 'results' list"),
    ({"results": [["bad", "x", "y"], [None]]}, "none of the 2 rows"),
])
def test_unreadable_answers(payload: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_query_rows(payload, max_rows=100)
    assert "\n" not in str(caught.value)


@given(json_values)
def test_parse_query_rows_only_ever_raises_value_error(payload: object) -> None:
    try:
        parsed = parse_query_rows(payload, max_rows=50)
    except ValueError:
        return
    assert len(parsed.counts) <= 50


def test_small_helpers() -> None:
    assert format_ratio(0.05) == "5%"
    assert format_ratio(0.074) == "7.4%"
    assert format_ratio(0.0) == "0%"
    assert window_minutes(900) == 15 and window_minutes(90) == 2 and window_minutes(1) == 1
    assert floor_minute(END + timedelta(seconds=59, microseconds=5)) == END
