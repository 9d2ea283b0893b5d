"""The health grid's cells say the whole truth within their columns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from screens.health_grid import FAILS_WIDTH, alert_label


@given(st.integers(min_value=3, max_value=10**9))
def test_an_alert_always_fits_its_column(consecutive: int) -> None:
    label = alert_label(consecutive)
    assert len(label) <= FAILS_WIDTH and label.startswith("⚠ ALERT")
    if consecutive < 100:
        assert label.endswith(f" {consecutive}")  # never cropped to a smaller number
