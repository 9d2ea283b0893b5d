"""One number, one text: the probe's summary, the screen and `check` show a share alike."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from textual.app import App, ComposeResult

from ppcockpit.config_model import PosthogProbeConfig
from ppcockpit.model import Decision, Reading, Snapshot, Verdict
from ppcockpit.report import as_table
from probes.posthog_series import MINUTE, MinuteCount, evaluate
from probes.redis_info import InfoSummary, summarize_info
from screens.failure_ratio import FailureRatioPanel
from screens.redis_panel import MemoryBar, RedisPanel
from tests.support.screen_text import screen_text
from themes import VARIABLE_DEFAULTS

MIB = 1024 * 1024
END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def redis_reading(used: int, maxmemory: int) -> Reading:
    info = {"used_memory": used, "maxmemory": maxmemory, "connected_clients": 3,
            "instantaneous_ops_per_sec": 10}
    result = summarize_info(info, 0.75, 0.90, None)
    assert isinstance(result, InfoSummary)
    return Reading(probe="redis", target="redis://127.0.0.1:6379/0", status=result.status,
                   summary=result.summary, metrics=result.metrics, details=result.details)


def snapshot(reading: Reading) -> Snapshot:
    return Snapshot(environment="test", operator="oncall", readings={reading.probe: reading},
                    signals={}, verdict=Verdict(Decision.GO, ()), stale=frozenset(),
                    probe_names=(reading.probe,), taken_at=0.0)


class RedisHost(App):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    def compose(self) -> ComposeResult:
        yield RedisPanel()


class PosthogHost(App):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    def compose(self) -> ComposeResult:
        yield FailureRatioPanel()


def shown_percents(text: str) -> set[str]:
    return set(re.findall(r"\d[\d,.]*%", text))


async def test_redis_memory_reads_the_same_in_summary_screen_and_check() -> None:
    # 0.897 of maxmemory: the panel used to say 90% while the summary said 89%.
    reading = redis_reading(math.floor(0.897 * 64 * MIB), 64 * MIB)
    assert reading.summary.startswith("memory 89% of maxmemory")
    table = as_table("test", Verdict(Decision.GO, ()), [reading], width=200)
    assert "memory 89% of maxmemory" in table
    app = RedisHost()
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(RedisPanel).show(snapshot(reading))
        await pilot.pause()
        assert str(app.query_one(MemoryBar).render()).endswith(" 89%")
        text = screen_text(app)
    assert "memory 89%" in text and "90%" not in text
    assert "used 57.4 MiB of 64 MiB" in text and "57.4 MiB" in reading.details["used_memory_human"]


async def test_the_failure_ratio_reads_the_same_in_summary_screen_and_check() -> None:
    # 76 failed of 1500 is 5.07%: "5%" everywhere, and so not above the 5% threshold.
    failed = [0] * 15 + [5] * 14 + [6]
    series = [MinuteCount(END - (29 - i) * MINUTE, 100 - f if i >= 15 else 0, f)
              for i, f in enumerate(failed)]
    verdict = evaluate(series, PosthogProbeConfig(), None, now=END + MINUTE)
    assert verdict.summary.startswith("failure ratio 5% > 2% · 76/1500")
    assert verdict.status.value == "degraded"
    reading = Reading(probe="posthog", target="https://us.posthog.com project 1",
                      status=verdict.status, summary=verdict.summary,
                      metrics=verdict.metrics | {"data_age_s": 0.0},
                      details=verdict.details | {"cached": False, "stale": False})
    table = as_table("test", Verdict(Decision.GO, ()), [reading], width=200)
    assert "failure ratio 5% > 2%" in table
    app = PosthogHost()
    async with app.run_test(size=(100, 24)) as pilot:
        app.query_one(FailureRatioPanel).reading = reading
        await pilot.pause()
        text = screen_text(app)
    assert "5%" in shown_percents(text) and "5.1%" not in text
