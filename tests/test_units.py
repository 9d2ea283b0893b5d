"""ppcockpit.units: one percent and one size formatter, judged as shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ppcockpit.units import (
    exceeds,
    percent,
    reaches,
    shown_percent,
    size,
    threshold_percent,
)

MIB = 1024 * 1024


def test_size() -> None:
    assert size(0) == "0 B"
    assert size(1023) == "1023 B"
    assert size(1024) == "1 KiB"
    assert size(round(12.3 * MIB)) == "12.3 MiB"
    assert size(64 * MIB) == "64 MiB"
    assert size(None) == "-"
    # Cut down like every other number: never "1 GiB" or "1024 MiB" for one byte less.
    assert size(1024 * MIB - 1) == "1023.9 MiB"
    assert size(2**64 - 1) == "15.9 EiB"
    assert size(-2048) == "-2 KiB"


def test_percent_is_cut_down_never_rounded_up() -> None:
    assert percent(0.897) == "89%"
    assert percent(0.8999) == "89%"
    assert percent(0.29) == "29%"  # 28.999999999999996 in floating point
    assert percent(12.5) == "1,250%"
    assert percent(0.074, 1) == "7.4%"
    assert percent(0.05, 1) == "5%"
    assert percent(0.0504, 1) == "5%"
    assert percent(0.0, 1) == "0%"
    assert percent(None) == "-"
    assert percent(float("nan")) == "-"
    assert threshold_percent(0.9) == "90%"
    assert threshold_percent(0.755) == "75.5%"
    assert threshold_percent(0.0025) == "0.25%"


def test_a_threshold_is_judged_on_the_shown_value() -> None:
    assert not reaches(0.897, 0.9)
    assert reaches(0.9, 0.9)
    assert reaches(0.57, 0.57)  # 56.99999999999999 in floating point
    assert not exceeds(0.05, 0.05, 1)
    assert not exceeds(0.0504, 0.05, 1)  # shown "5%": not above 5%
    assert exceeds(0.051, 0.05, 1)


SHARES = st.floats(0, 20, allow_nan=False)
THRESHOLDS = st.integers(0, 10_000).map(lambda n: n / 10_000)


@given(SHARES, THRESHOLDS, st.sampled_from([0, 1]))
def test_what_is_shown_agrees_with_what_is_judged(share: float, threshold: float,
                                                  decimals: int) -> None:
    shown = float(percent(share, decimals).rstrip("%").replace(",", ""))
    assert shown == shown_percent(share, decimals)
    assert shown <= share * 100 + 1e-6  # never rounded up
    limit = round(threshold * 100, 9)
    assert reaches(share, threshold, decimals) == (shown >= limit)
    assert exceeds(share, threshold, decimals) == (shown > limit)


@given(st.integers(0, 2**64))
def test_size_never_overstates(num_bytes: int) -> None:
    text = size(num_bytes)
    number, unit = text.split(" ")
    factor = 1024 ** ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"].index(unit)
    assert float(number) * factor <= num_bytes * (1 + 1e-12)
    assert float(number) < 1024
