"""The header: the verdict first, then where, when, who and which build is live."""

from __future__ import annotations

from ppcockpit.model import Reading, Status
from ppcockpit.state import CockpitState
from screens.header import _live


def snapshot_with(reading: Reading):  # type: ignore[no-untyped-def]
    state = CockpitState(["deployments"], {"deployments": 30.0})
    state.apply(reading)
    return state.snapshot("production", "alice", now=reading.finished_at)


def test_the_live_deployment_shows_its_short_sha_and_age() -> None:
    reading = Reading(probe="deployments", target="t", status=Status.HEALTHY, summary="",
                      finished_at=1000.0,
                      details={"sha": "3f1c9a2e77d1aa", "age_s": 7300, "uid": "dpl_1"})
    assert _live(snapshot_with(reading)) == "live: 3f1c9a2 · 2h 1m"


def test_nothing_is_claimed_when_the_deployment_is_not_known() -> None:
    for status, details in ((Status.UNKNOWN, {"sha": "abc1234"}), (Status.HEALTHY, {}),
                            (Status.SKIPPED, {})):
        reading = Reading(probe="deployments", target="t", status=status, summary="",
                          finished_at=1.0, details=details)
        assert _live(snapshot_with(reading)) == ""
