"""probes.redis_info: INFO reply → numbers, status, summary. Pure, so tested directly."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from ppcockpit.model import Status
from probes.redis_info import (
    Counters,
    InfoSummary,
    UnexpectedInfo,
    summarize_info,
)

MIB = 1024 * 1024
METRIC_KEYS = {
    "used_memory", "maxmemory", "memory_ratio", "connected_clients", "blocked_clients",
    "ops_per_sec", "used_memory_rss", "mem_fragmentation_ratio", "total_system_memory",
    "rejected_connections_delta", "evicted_keys_delta",
}
DETAIL_KEYS = {"redis_version", "maxmemory_policy", "measured_against", "used_memory_human",
               "maxmemory_human", "role"}


def info(**overrides: object) -> dict[str, object]:
    """An INFO reply shaped like redis-py's parse of a real one."""
    reply: dict[str, object] = {
        "redis_version": "7.0.15", "role": "master", "used_memory": math.ceil(0.41 * 64 * MIB),
        "used_memory_human": "26.24M", "used_memory_rss": 30 * MIB, "maxmemory": 64 * MIB,
        "maxmemory_policy": "allkeys-lru", "mem_fragmentation_ratio": 1.12,
        "total_system_memory": 16 * 1024 * MIB, "connected_clients": 8, "blocked_clients": 1,
        "instantaneous_ops_per_sec": 1204, "rejected_connections": 3, "evicted_keys": 10,
        "db0": {"keys": 5, "expires": 0},
    }
    reply.update(overrides)
    return {k: v for k, v in reply.items() if v is not ...}


def summarize(reply: dict[str, object], warn: float = 0.75, crit: float = 0.90,
              baseline: Counters | None = None) -> InfoSummary:
    result = summarize_info(reply, warn, crit, baseline)
    assert isinstance(result, InfoSummary), result
    return result


def test_healthy_reply_gives_every_metric_and_the_documented_summary() -> None:
    result = summarize(info())
    assert result.status is Status.HEALTHY and result.label is None
    assert result.summary == "memory 41% of 64 MiB · 7 clients · 1,204 ops/s"
    assert set(result.metrics) == METRIC_KEYS
    assert set(result.details) == DETAIL_KEYS
    assert result.metrics["connected_clients"] == 7  # our own connection left out
    assert result.metrics["ops_per_sec"] == 1204
    assert result.metrics["blocked_clients"] == 1
    assert result.metrics["memory_ratio"] == 0.41
    assert result.metrics["mem_fragmentation_ratio"] == 1.12
    assert result.metrics["rejected_connections_delta"] == 0
    assert result.metrics["evicted_keys_delta"] == 0
    assert result.details == {
        "redis_version": "7.0.15", "maxmemory_policy": "allkeys-lru",
        "measured_against": "maxmemory", "used_memory_human": "26.2 MiB",
        "maxmemory_human": "64 MiB", "role": "master",
    }


def test_one_other_client_is_singular() -> None:
    assert summarize(info(connected_clients=2)).summary.endswith("· 1 client · 1,204 ops/s")


def test_warning_threshold_degrades() -> None:
    result = summarize(info(used_memory=math.ceil(0.8 * 64 * MIB)))
    assert result.status is Status.DEGRADED and result.label == "memory ≥ 75%"
    assert result.summary.startswith("memory 80% of maxmemory (warning ≥ 75%) · ")


def test_critical_threshold_is_unavailable_with_the_documented_wording() -> None:
    result = summarize(info(used_memory=math.ceil(0.93 * 64 * MIB)))
    assert result.status is Status.UNAVAILABLE and result.label == "memory ≥ 90%"
    assert result.summary.startswith("memory 93% of maxmemory (critical ≥ 90%) · ")


def test_exactly_at_a_threshold_counts_as_breached() -> None:
    assert summarize(info(used_memory=90, maxmemory=100)).status is Status.UNAVAILABLE
    assert summarize(info(used_memory=75, maxmemory=100)).status is Status.DEGRADED
    assert summarize(info(used_memory=74, maxmemory=100)).status is Status.HEALTHY


def test_no_maxmemory_measures_against_system_memory() -> None:
    result = summarize(info(maxmemory=0, used_memory=2 * 1024 * MIB))
    assert result.status is Status.HEALTHY
    assert result.details["measured_against"] == "total_system_memory"
    assert result.details["maxmemory_human"] == "no limit"
    assert result.metrics["memory_ratio"] == 0.125
    assert result.summary.startswith("memory 12% of 16 GiB system memory (no maxmemory set)")


def test_no_maxmemory_and_critical_system_memory() -> None:
    result = summarize(info(maxmemory=0, used_memory=15 * 1024 * MIB))
    assert result.status is Status.UNAVAILABLE
    assert result.summary.startswith(
        "memory 93% of system memory (critical ≥ 90%; no maxmemory set)")


def test_no_limit_known_at_all_is_healthy_without_a_ratio() -> None:
    result = summarize(info(maxmemory=0, total_system_memory=...))
    assert result.status is Status.HEALTHY
    assert result.metrics["memory_ratio"] is None
    assert result.details["measured_against"] is None
    assert result.summary.startswith("memory 26.2 MiB used (no maxmemory set)")


def test_numbers_given_as_strings_are_read() -> None:
    result = summarize({"used_memory": "1024", "maxmemory": " 2048 ", "connected_clients": "3",
                        "instantaneous_ops_per_sec": "12.0"})
    assert result.metrics["memory_ratio"] == 0.5
    assert result.metrics["connected_clients"] == 2
    assert result.summary == "memory 50% of 2 KiB · 2 clients · 12 ops/s"


def test_missing_and_nonsense_fields_become_none() -> None:
    result = summarize({"used_memory": 100, "maxmemory": "lots", "blocked_clients": -1,
                        "mem_fragmentation_ratio": "nan", "connected_clients": True})
    assert result.metrics["maxmemory"] is None
    assert result.metrics["blocked_clients"] is None
    assert result.metrics["mem_fragmentation_ratio"] is None
    assert result.metrics["connected_clients"] is None
    assert result.metrics["ops_per_sec"] is None
    assert result.metrics["evicted_keys_delta"] is None
    assert result.summary == "memory 100 B used (no maxmemory set)"


def test_reply_without_used_memory_is_unexpected() -> None:
    result = summarize_info({"redis_version": "7.0.0"}, 0.75, 0.9, None)
    assert result == UnexpectedInfo("unexpected INFO reply: no used_memory")
    garbled = summarize_info({"used_memory": "12\x1b[31mM"}, 0.75, 0.9, None)
    assert isinstance(garbled, UnexpectedInfo)


def test_reply_that_is_not_a_mapping_is_unexpected() -> None:
    result = summarize_info(["used_memory", 1], 0.75, 0.9, None)  # type: ignore[arg-type]
    assert isinstance(result, UnexpectedInfo)
    assert result.reason.startswith("unexpected INFO reply")


def test_text_from_the_server_is_stripped_of_controls() -> None:
    result = summarize(info(redis_version="7.0\x1b[2J\x07", role="master\nslave"))
    assert result.details["redis_version"] == "7.0"
    assert result.details["role"] == "master slave"


def test_counter_deltas_grow_from_the_first_reading() -> None:
    first = summarize(info(rejected_connections=3, evicted_keys=10))
    second = summarize(info(rejected_connections=5, evicted_keys=110), baseline=first.counters)
    assert second.metrics["rejected_connections_delta"] == 2
    assert second.metrics["evicted_keys_delta"] == 100


def test_a_counter_going_down_means_a_restart_the_increase_is_kept() -> None:
    first = summarize(info(evicted_keys=10))
    grown = summarize(info(evicted_keys=40), baseline=first.counters)
    restarted = summarize(info(evicted_keys=2), baseline=grown.counters)
    after = summarize(info(evicted_keys=7), baseline=restarted.counters)
    assert grown.metrics["evicted_keys_delta"] == 30
    assert restarted.metrics["evicted_keys_delta"] == 30
    assert after.metrics["evicted_keys_delta"] == 35


def test_a_counter_missing_once_keeps_its_increase() -> None:
    first = summarize(info(evicted_keys=10))
    grown = summarize(info(evicted_keys=12), baseline=first.counters)
    missing = summarize(info(evicted_keys=...), baseline=grown.counters)
    assert missing.metrics["evicted_keys_delta"] == 2


@given(st.lists(st.one_of(st.none(), st.integers(0, 2**63)), max_size=30))
def test_counter_deltas_are_never_negative_and_never_shrink(values: list[int | None]) -> None:
    counters = Counters()
    previous = 0
    for value in values:
        counters = counters.advance({"evicted_keys": value})
        delta = counters.delta("evicted_keys")
        if delta is not None:
            assert delta >= previous >= 0
            previous = delta


def test_a_share_a_hair_under_a_threshold_is_shown_and_judged_under_it() -> None:
    # 0.897 of maxmemory: "89%", and not critical at 90% (the panel shows the same 89%).
    result = summarize(info(used_memory=math.floor(0.897 * 64 * MIB)))
    assert result.status is Status.DEGRADED
    assert result.summary.startswith("memory 89% of maxmemory (warning ≥ 75%)")
    assert result.metrics["memory_ratio"] == 0.897


def test_the_kept_ratio_is_the_judged_and_shown_one() -> None:
    # 89.996% is kept as 0.9000 (four decimals): judged critical and shown as 90%.
    result = summarize(info(used_memory=89_996, maxmemory=100_000))
    assert result.metrics["memory_ratio"] == 0.9
    assert result.status is Status.UNAVAILABLE
    assert result.summary.startswith("memory 90% of maxmemory (critical ≥ 90%)")


INFO_VALUES = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=50))
KNOWN_FIELDS = st.sampled_from([
    "used_memory", "maxmemory", "total_system_memory", "connected_clients", "blocked_clients",
    "instantaneous_ops_per_sec", "rejected_connections", "evicted_keys", "used_memory_rss",
    "mem_fragmentation_ratio", "redis_version", "maxmemory_policy", "role",
])
INFO_REPLIES = st.dictionaries(st.one_of(KNOWN_FIELDS, st.text(max_size=20)), INFO_VALUES,
                               max_size=20)
_ONE_SAFE_LINE = re.compile(r"^[^\x00-\x1f\x7f-\x9f]+$")


@given(INFO_REPLIES, INFO_REPLIES, st.floats(0, 1), st.floats(0, 1))
def test_any_reply_gives_a_result_or_a_clear_problem(first: dict[str, object],
                                                     second: dict[str, object],
                                                     a: float, b: float) -> None:
    warn, crit = min(a, b), max(a, b)
    baseline = None
    for reply in (first, second):
        result = summarize_info(reply, warn, crit, baseline)
        if isinstance(result, UnexpectedInfo):
            assert result.reason.startswith("unexpected INFO reply")
            continue
        assert _ONE_SAFE_LINE.match(result.summary)
        assert result.status in (Status.HEALTHY, Status.DEGRADED, Status.UNAVAILABLE)
        assert set(result.metrics) == METRIC_KEYS
        for name, value in result.metrics.items():
            assert value is None or (isinstance(value, int | float) and value >= 0), name
        for value in result.details.values():
            assert value is None or _ONE_SAFE_LINE.match(value)
        baseline = result.counters
