"""The failure-ratio panel at 80x24 and 160x48, fed readings shaped by the probe's own maths."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region

from ppcockpit.config_model import PosthogProbeConfig
from ppcockpit.model import Failure, Reading, Status
from probes.posthog_series import MINUTE, MinuteCount, evaluate
from screens.failure_chart import CRIT_GLYPH, FILLING_FEW_GLYPH, FILLING_GLYPH
from screens.failure_ratio import FailureRatioPanel
from themes import VARIABLE_DEFAULTS

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEPLOY = END - 4 * MINUTE  # the first of the last five minutes
SETTINGS = PosthogProbeConfig()

# (screen size, the panel's width and height in the dashboard's two layouts)
LAYOUTS = [((80, 24), "40", "auto"), ((80, 24), "38", "10"), ((80, 24), "78", "auto"),
           ((160, 48), "64", "20"), ((160, 48), "64", "auto")]


def reading_from(counts: list[tuple[int, int]], deploy_at: datetime | None = None, *,
                 filling: tuple[int, int] | None = None, **changes: object) -> Reading:
    """What the probe would report for these whole minutes' (completed, failed), oldest
    first, the last ending at END + 1m; `filling`: the counts so far of the minute after
    it, five seconds in."""
    start = END - (len(counts) - 1) * MINUTE
    series = [MinuteCount(start + i * MINUTE, c, f) for i, (c, f) in enumerate(counts)]
    now = END + MINUTE
    if filling is not None:
        series.append(MinuteCount(now, *filling))
        now += timedelta(seconds=5)
    verdict = evaluate(series, SETTINGS, deploy_at, now)
    details = verdict.details | {"cached": False, "stale": False, "retry_after_s": None}
    reading = Reading(probe="posthog", target="https://us.posthog.com project 1",
                      status=verdict.status, summary=verdict.summary, label=verdict.label,
                      metrics=verdict.metrics | {"data_age_s": 0.0}, details=details)
    return msgspec.structs.replace(reading, **changes) if changes else reading


def healthy() -> Reading:  # 4 failed of 480 in the window
    return reading_from([(32, 0)] * 15 + [(32, 1 if i < 4 else 0) for i in range(14)] + [(28, 0)])


def critical_after_deploy() -> Reading:  # 1% before the deploy, 20% after it
    before = [(99, 1)] * 25
    after = [(80, 20)] * 5
    return reading_from(before + after, deploy_at=DEPLOY + timedelta(seconds=12))


def inconclusive() -> Reading:  # 12 requests, none failed: still not healthy
    return reading_from([(0, 0)] * 25 + [(3, 0)] * 4)


def stale() -> Reading:
    fresh = healthy()
    return msgspec.structs.replace(
        fresh, metrics=fresh.metrics | {"data_age_s": 125.0}, retry_after=30.0,
        details=fresh.details | {"stale": True, "cached": True, "retry_after_s": 30.0},
        summary=fresh.summary + " · from the cache (rate limited, retry in 30s)")


class PanelApp(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    def __init__(self, width: str, height: str) -> None:
        super().__init__()
        self.panel_css = f"FailureRatioPanel {{ width: {width}; height: {height}; }}"

    def compose(self) -> ComposeResult:
        yield FailureRatioPanel()

    def on_mount(self) -> None:
        self.stylesheet.add_source(self.panel_css, read_from=("test", "panel"))
        self.refresh_css()


async def shown(reading: Reading | None, size: tuple[int, int], width: str,
                height: str) -> list[str]:
    app = PanelApp(width, height)
    async with app.run_test(size=size) as pilot:
        panel = app.query_one(FailureRatioPanel)
        panel.reading = reading
        await pilot.pause()
        outer = panel.outer_size
        lines = [strip.text for strip in panel.render_lines(Region(0, 0, *outer))]
        assert outer.width == int(width) and outer.width <= size[0]
        if height != "auto":
            assert outer.height == int(height)
        else:
            assert 3 <= outer.height <= 12
        return lines


@pytest.mark.parametrize(("size", "width", "height"), LAYOUTS)
async def test_healthy(size, width: str, height: str) -> None:
    text = "\n".join(await shown(healthy(), size, width, height))
    assert "Failure ratio (PostHog)" in text
    assert "✔ healthy  0.8%" in text and "4/480 failed (15m)" in text
    assert "crit 5%" in text and CRIT_GLYPH not in text and "stale" not in text


CALM = [(32, 0)] * 15 + [(32, 1 if i < 4 else 0) for i in range(15)]  # 4 failed of 484


def calm_with_filling(completed: int, failed: int) -> Reading:
    """CALM's half hour, and the minute after it five seconds in."""
    return reading_from(CALM, filling=(completed, failed))


BAR_ROW = re.compile(r"^│? [ ▁▂▃▄▅▆▇█▓░┈·…]*( \d[\d.]*%| crit \d[\d.]*%)? *│?$")


def bar_rows(lines: list[str]) -> list[str]:
    """The chart's rows: glyphs, and the top's or the threshold's label."""
    return [line for line in lines if BAR_ROW.match(line) and line.strip("│ ")]


@pytest.mark.parametrize(("size", "width", "height"), LAYOUTS)
async def test_a_minute_just_begun_is_no_spike(size, width: str, height: str) -> None:
    # 1 failure among the 6 requests of the last five seconds: 16.7%, over the 5% line.
    # Counted or drawn as a ratio it would be a spike in calm; it is neither.
    lines = await shown(calm_with_filling(5, 1), size, width, height)
    plain = await shown(reading_from(CALM), size, width, height)
    text = "\n".join(lines)
    assert "✔ healthy  0.8%" in text and "4/484 failed (15m)" in text
    assert CRIT_GLYPH not in text and "16.7%" not in text
    assert FILLING_FEW_GLYPH in bar_rows(lines)[-1]  # on the baseline, nothing above it
    assert all(FILLING_FEW_GLYPH not in row for row in bar_rows(lines)[:-1])
    assert "filling ↑" in text
    # The scale is the whole minutes': the top label is the one drawn without it.
    assert re.findall(r"\d[\d.]*%", bar_rows(lines)[0]) == ["8%"]
    assert re.findall(r"\d[\d.]*%", bar_rows(plain)[0]) == ["8%"]


@pytest.mark.parametrize(("size", "width", "height"), [LAYOUTS[0], LAYOUTS[3]])
async def test_a_busy_filling_minute_is_drawn_hollow_never_as_a_breach(size, width: str,
                                                                       height: str) -> None:
    lines = await shown(calm_with_filling(30, 20), size, width, height)  # 40% of 50, so far
    text = "\n".join(lines)
    assert "✔ healthy  0.8%" in text and CRIT_GLYPH not in text and "40%" not in text
    hollow = [row for row in bar_rows(lines) if FILLING_GLYPH in row]
    assert hollow and len(hollow) == len(bar_rows(lines))  # clipped at the top, not rescaled
    assert "filling ↑" in text


async def test_the_facts_say_what_the_filling_minute_holds() -> None:
    text = "\n".join(await shown(calm_with_filling(5, 1), (160, 48), "64", "40"))
    assert "this minute so far: 1/6 failed (filling: not counted yet)" in text


@pytest.mark.parametrize(("size", "width", "height"), LAYOUTS)
async def test_recovering_keeps_the_verdict_and_says_what_it_waits_for(
        size, width: str, height: str) -> None:
    spike_then_calm = [(99, 1)] * 15 + [(80, 20)] * 5 + [(99, 1)] * 10
    reading = reading_from(spike_then_calm, filling=(10, 0))
    text = "\n".join(await shown(reading, size, width, height))
    assert "✖ unavailable  7.3%" in text
    assert "recovering: last 3m at 1%" in text
    if height == "auto" or int(height) > 10:
        assert "15m window ≤ 5% in ~2m" in text


@pytest.mark.parametrize(("size", "width", "height"), LAYOUTS)
async def test_critical_with_deploy(size, width: str, height: str) -> None:
    lines = await shown(critical_after_deploy(), size, width, height)
    text = "\n".join(lines)
    assert "✖ unavailable  7.3%" in text and "110/1500 failed (15m)" in text
    assert "after deploy 20% vs 1% before" in text and "Δ +19.0 pts" in text
    assert "▼ deploy" in text and "crit 5%" in text
    # The marker sits over the deploy's minute: the first bar above the threshold.
    marker = next(line for line in lines if "▼ deploy" in line).index("▼")
    first_crit = min(line.index(CRIT_GLYPH) for line in lines if CRIT_GLYPH in line)
    assert marker == first_crit


@pytest.mark.parametrize(("size", "width", "height"), LAYOUTS)
async def test_inconclusive_is_never_shown_healthy(size, width: str, height: str) -> None:
    text = "\n".join(await shown(inconclusive(), size, width, height))
    assert "? inconclusive: 12 requests" in text and "need 20" in text
    assert "healthy" not in text and "✔" not in text and "0%" not in text.replace("crit 5%", "")


@pytest.mark.parametrize(("size", "width", "height"), LAYOUTS)
async def test_stale(size, width: str, height: str) -> None:
    text = "\n".join(await shown(stale(), size, width, height))
    assert "stale 2m" in text and "rate limited, retry in 30s" in text and "0.8%" in text


async def test_server_error_with_the_cached_series() -> None:
    cached = stale()
    reading = msgspec.structs.replace(
        cached, status=Status.UNAVAILABLE, failure=Failure.TARGET,
        error="PostHog answered HTTP 500: server_error", retry_after=None,
        details=cached.details | {"retry_after_s": None})
    text = "\n".join(await shown(reading, (80, 24), "40", "auto"))
    assert "✖ unavailable" in text and "stale 2m" in text and "HTTP 500" in text
    assert "4/480 failed" in text  # the last answer stays on screen


@pytest.mark.parametrize(("reading", "expected"), [
    (None, "waiting for first reading"),
    (Reading(probe="posthog", target="-", status=Status.SKIPPED, summary="no api_key"),
     "- not configured · no api_key"),
    (Reading(probe="posthog", target="-", status=Status.UNAVAILABLE,
             summary="PostHog key rejected: HTTP 401, key sha256:1234abcd",
             error="PostHog key rejected: HTTP 401, key sha256:1234abcd",
             failure=Failure.TARGET), "PostHog key rejected"),
    (Reading(probe="posthog", target="-", status=Status.UNKNOWN,
             summary="probe misconfigured: HogQL error: Unknown table",
             error="probe misconfigured: HogQL error: Unknown table", failure=Failure.PROBE),
     "HogQL error"),
])
@pytest.mark.parametrize(("size", "width", "height"), [LAYOUTS[0], LAYOUTS[3]])
async def test_states_without_a_series(reading, expected: str, size, width: str,
                                       height: str) -> None:
    text = "\n".join(await shown(reading, size, width, height))
    assert expected in text
    if reading is not None and reading.status is not Status.SKIPPED:
        assert f"{reading.status.glyph} {reading.status.label}" in text


@pytest.mark.parametrize("height", ["3", "4", "5", "6"])
async def test_a_very_short_panel_keeps_the_verdict_and_the_bars(height: str) -> None:
    lines = await shown(critical_after_deploy(), (80, 24), "38", height)
    text = "\n".join(lines)
    assert "✖ unavailable  7.3%" in text
    assert (CRIT_GLYPH in text) is (int(height) > 3)  # one content row: the verdict only


async def test_the_wide_panel_uses_its_room() -> None:
    lines = await shown(critical_after_deploy(), (160, 48), "64", "20")
    bars = [line for line in lines if CRIT_GLYPH in line]
    assert len(bars) >= 8  # a tall chart
    assert max(len(line.rstrip(" │").rstrip()) for line in bars) > 50  # a wide one


async def test_a_tall_panel_adds_the_facts_behind_the_numbers() -> None:
    text = "\n".join(await shown(critical_after_deploy(), (160, 48), "64", "40"))
    assert "thresholds: warn 2% · crit 5% · at least 20 requests" in text
    assert "window: 1390 completed, 110 failed" in text
    assert "before/after: 5m since the deploy against the 5m before it" in text
    assert "data: live" in text


async def test_a_deploy_given_with_z_and_odd_series_entries() -> None:
    reading = critical_after_deploy()
    series = list(reading.details["series"])
    series[3] = "not a minute"
    series[4] = {"minute": series[4]["minute"], "completed": -5, "failed": "x"}
    deploy_z = DEPLOY.strftime("%Y-%m-%dT%H:%M:%SZ")
    odd = msgspec.structs.replace(reading, details=reading.details | {"series": series,
                                                                   "deploy_at": deploy_z})
    text = "\n".join(await shown(odd, (80, 24), "40", "auto"))
    assert "▼ deploy" in text and "✖ unavailable  7.3%" in text


async def test_a_deploy_before_the_chart_is_named_not_drawn() -> None:
    reading = reading_from([(99, 1)] * 30, deploy_at=END - 45 * MINUTE)
    text = "\n".join(await shown(reading, (80, 24), "40", "auto"))
    assert "▼" not in text and "deploy 11:15 UTC (off the chart)" in text


def test_css_uses_theme_variables_only() -> None:
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b", FailureRatioPanel.DEFAULT_CSS)
    assert "$error" in FailureRatioPanel.DEFAULT_CSS
