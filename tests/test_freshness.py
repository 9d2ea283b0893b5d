"""One staleness rule (Reading.freshness), said in the same words on every screen.

A reading's data age is the age of the data it shows: for a cached answer (PostHog's while
it is rate limited or down) the age that answer had plus the time since; otherwise the time
since the reading finished. It is stale when that age is over two intervals, or at once when
the reading says its data is cached.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import msgspec
import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical

from ppcockpit.app import make_app
from ppcockpit.cli import build_runner
from ppcockpit.config import load_config
from ppcockpit.model import Freshness, Reading, Status
from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.stack import StackHandle, start_stack
from ppcockpit.state import CockpitState
from screens.failure_ratio import FailureRatioPanel
from screens.fast_table import FastTable
from screens.health_grid import HealthGrid
from screens.probes_table import ProbesTable
from screens.redis_panel import RedisPanel
from tests import screens_data
from tests.support.screen_text import screen_text
from themes import VARIABLE_DEFAULTS

AT = 1000.0


def reading(**changes: object) -> Reading:
    base = Reading(probe="posthog", target="t", status=Status.HEALTHY, summary="fine",
                   finished_at=AT)
    return msgspec.structs.replace(base, **changes)


def cached(data_age_s: object, **changes: object) -> Reading:
    return reading(metrics={"data_age_s": data_age_s}, details={"cached": True}, **changes)


# -- the rule --------------------------------------------------------------------------------

def test_a_reading_turns_stale_after_two_intervals() -> None:
    assert reading().freshness(5.0, AT + 9.9) == Freshness(age=pytest.approx(9.9), stale=False)
    later = reading().freshness(5.0, AT + 10.1)
    assert later is not None and later.stale and later.words == "stale 10s"
    assert reading().freshness(5.0, AT + 3).words == "live"  # type: ignore[union-attr]


def test_a_cached_answer_is_stale_at_once_and_its_age_is_its_data_age() -> None:
    served = cached(50.0).freshness(60.0, AT + 10)
    assert served == Freshness(age=60.0, stale=True, cached=True)
    assert served.words == "stale 1m"  # the data is a minute old, not the reading's 10 s
    assert cached(0.2).freshness(60.0, AT).words == "stale 1s"  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -5.0, "50", True, None])
def test_a_data_age_that_is_not_a_number_of_seconds_counts_as_none(bad: object) -> None:
    served = cached(bad).freshness(60.0, AT + 10)
    assert served is not None and served.stale and served.age == 10.0


def test_not_configured_and_unfinished_readings_have_no_age() -> None:
    assert reading(status=Status.SKIPPED).freshness(5.0, AT + 999) is None
    assert reading(finished_at=0.0).freshness(5.0, AT) is None


def test_the_snapshot_holds_one_judgement_per_probe() -> None:
    state = CockpitState(["posthog", "redis", "health"],
                         {"posthog": 60.0, "redis": 5.0, "health": 5.0})
    state.apply(cached(50.0))  # 1 s old as a reading, a minute old as data
    state.apply(msgspec.structs.replace(screens_data.redis(), finished_at=AT - 11))
    state.apply(msgspec.structs.replace(screens_data.health(), finished_at=AT))
    snapshot = state.snapshot("test", "oncall", now=AT + 1)
    assert snapshot.stale == {"posthog", "redis"}
    assert {name: f.words for name, f in snapshot.freshness.items()} == {
        "posthog": "stale 51s", "redis": "stale 12s", "health": "live"}
    assert state.is_stale("posthog", AT + 1) and not state.is_stale("health", AT + 1)


# -- the same words on every screen ---------------------------------------------------------

class Panels(App[None]):
    CSS = "Vertical > * { height: auto; }"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    def compose(self) -> ComposeResult:
        with Vertical():
            yield HealthGrid()
            yield RedisPanel()
            yield FailureRatioPanel()
            yield ProbesTable()


def cell(app: App, table: type[HealthGrid | ProbesTable], row: str, column: str) -> str:
    return str(app.query_one(table).query_one(FastTable).get_cell(row, column))


def panel_text(app: App) -> str:
    return str(app.query_one(FailureRatioPanel).render())


async def shown(readings: list[Reading], now: float) -> dict[str, str]:
    """What each panel says, drawn from one snapshot taken at `now`."""
    state = CockpitState(["health", "redis", "posthog"],
                         {"health": 5.0, "redis": 5.0, "posthog": 60.0})
    for one in readings:
        state.apply(one)
    snapshot = state.snapshot("test", "oncall", now=now)
    app = Panels()
    async with app.run_test(size=(160, 60)) as pilot:
        for panel in (app.query_one(HealthGrid), app.query_one(RedisPanel),
                      app.query_one(FailureRatioPanel), app.query_one(ProbesTable)):
            panel.show(snapshot)  # type: ignore[attr-defined]
        await pilot.pause()
        said = {f"probes {name}": cell(app, ProbesTable, name, "reading")
                for name in state.readings}
        if "health" in state.readings:
            said["health endpoint"] = cell(app, HealthGrid, "endpoint", "status")
        return said | {"redis panel": screen_text(app), "posthog panel": panel_text(app)}


async def test_a_cached_posthog_answer_reads_the_same_in_the_table_and_the_panel() -> None:
    posthog = msgspec.structs.replace(
        screens_data.posthog(), finished_at=AT,
        metrics=screens_data.posthog().metrics | {"data_age_s": 55.0},
        details=screens_data.posthog().details | {"cached": True, "stale": True,
                                                  "retry_after_s": 20.0})
    said = await shown([posthog], now=AT + 10)
    assert said["probes posthog"] == "stale 1m"  # the data is 65 s old: a minute, ...
    assert " · stale 1m · rate limited, retry in 20s" in said["posthog panel"]  # ... here too


async def test_an_old_reading_reads_the_same_everywhere() -> None:
    readings = [msgspec.structs.replace(screens_data.health(), finished_at=AT),
                msgspec.structs.replace(screens_data.redis(), finished_at=AT),
                msgspec.structs.replace(screens_data.posthog(), finished_at=AT - 120)]
    said = await shown(readings, now=AT + 12)  # over two intervals old, each of them
    assert said["probes posthog"] == "stale 2m" and "· stale 2m" in said["posthog panel"]
    assert said["probes redis"] == "stale 12s"
    assert "✔ healthy (stale 12s)  memory 41%" in said["redis panel"]
    assert said["probes health"] == "stale 12s"
    assert said["health endpoint"] == "▲ degraded (stale 12s)"
    fresh = await shown(readings[:2], now=AT + 2)
    assert fresh["probes redis"] == "live" and "stale" not in fresh["redis panel"]


# -- under the posthog-throttled rehearsal ------------------------------------------------

@pytest.fixture
def stack() -> Iterator[StackHandle]:
    handle = start_stack("calm", time_scale=10.0)
    try:
        yield handle
    finally:
        handle.stop()


async def test_throttled_posthog_reads_stale_in_the_table_as_in_the_panel(
        stack: StackHandle) -> None:
    config = load_config(stack.config_path)
    app = make_app(config, build_runner(config), rehearsal=stack)
    async with app.run_test(size=(160, 48)) as pilot:
        state = app.session.state
        async with asyncio.timeout(20):
            while state.readings.get("posthog") is None or \
                    state.readings["posthog"].status is Status.UNKNOWN:
                await pilot.pause(0.05)
        first = state.readings["posthog"]
        assert not first.cached
        stack.inject(sc.POSTHOG_THROTTLED)
        await pilot.press("r")  # every probe now: PostHog answers 429
        async with asyncio.timeout(20):
            while not state.readings["posthog"].cached:
                await pilot.pause(0.05)
        app.redraw_now()
        await pilot.pause()
        words = cell(app, ProbesTable, "posthog", "reading")
        assert words.startswith("stale ")  # a cached answer, never "live"
        assert f"{words} · rate limited, retry in" in panel_text(app)
