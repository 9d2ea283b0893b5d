"""Vercel's answers as plain data (probes/hosting_parse.py): the documented shapes, every
hostile variation, and hypothesis on arbitrary JSON (never anything but data or one
HostingAnswerError)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes.hosting_parse import (
    MAX_CLOCK_SKEW,
    MAX_PROBLEMS,
    Deployment,
    HostingAnswerError,
    Parsed,
    age_text,
    is_deployment_uid,
    live_deployments,
    parse_deployments,
    parse_error,
    parse_project_target,
    retry_after,
    server_time,
)

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z
HOUR = 3600.0


def entry(uid: str, hours_ago: float, *, state: str = "READY", target: str | None = "production",
          sha: str | None = "3f1c9a2b4d5e6f708192a3b4c5d6e7f8091a2b3c", candidate: object = True,
          **extra: Any) -> dict[str, Any]:
    """A deployment as GET /v6/deployments lists it (contracts.md)."""
    created = int((NOW - hours_ago * HOUR) * 1000)
    meta = {"githubCommitRef": "main"} | ({"githubCommitSha": sha} if sha else {})
    host = uid.lower().replace("_", "-")  # a host name has no underscores
    return {"uid": uid, "name": "pocket-philosopher", "url": f"{host}.vercel.app",
            "created": created, "createdAt": created, "state": state, "readyState": state,
            "target": target, "meta": meta, "creator": {"uid": "usr_1"},
            "isRollbackCandidate": candidate, **extra}


def project_target(uid: str, hours_ago: float, state: str = "READY") -> dict[str, Any]:
    """A deployment as GET /v9/projects/{id} gives it under `targets.production`."""
    created = int((NOW - hours_ago * HOUR) * 1000)
    return {"id": uid, "url": f"{uid.lower().replace('_', '-')}.vercel.app",
            "createdAt": created,
            "readyState": state, "target": "production", "meta": {},
            "deploymentHostname": "pp", "plan": "pro"}


def listed(*entries: dict[str, Any]) -> Parsed:
    return parse_deployments({"pagination": {"count": len(entries)},
                              "deployments": list(entries)}, NOW)


# --- one deployment ---------------------------------------------------------------------------

def test_a_documented_deployment_becomes_plain_data() -> None:
    parsed = listed(entry("dpl_ab12", 2))
    assert parsed.problems == ()
    assert parsed.deployments == (Deployment(
        uid="dpl_ab12", url="https://dpl-ab12.vercel.app",
        sha="3f1c9a2b4d5e6f708192a3b4c5d6e7f8091a2b3c", state="READY",
        created=NOW - 2 * HOUR, target="production", is_rollback_candidate=True),)
    assert parsed.deployments[0].short_sha == "3f1c9a2"
    assert parsed.deployments[0].short_uid == "dpl_ab12"


def test_the_project_spelling_id_createdat_readystate_is_read_too() -> None:
    parsed = parse_project_target({"id": "prj_1", "targets": {
        "production": project_target("dpl_cur", 1)}}, "production", NOW)
    assert [d.uid for d in parsed.deployments] == ["dpl_cur"]
    assert parsed.deployments[0].sha is None  # no git SHA: missing, not an error
    assert parsed.deployments[0].state == "READY" and parsed.problems == ()


def test_a_deployment_without_a_sha_is_kept_with_sha_none() -> None:
    assert listed(entry("dpl_x", 1, sha=None)).deployments[0].sha is None
    gitlab = entry("dpl_y", 1, sha=None)
    gitlab["meta"] = {"gitlabCommitSha": "ABCDEF1234567"}
    assert listed(gitlab).deployments[0].sha == "abcdef1234567"


@pytest.mark.parametrize(("change", "problem"), [
    ({"uid": 42}, "id is a number"),
    ({"uid": None}, "id is missing"),
    ({"uid": "../../v2/user"}, "id is '../../v2/user'"),
    ({"uid": "dpl_\x1b[2Jx"}, "id is"),
    ({"state": ["READY"]}, "state is a list"),
    ({"state": "ready now"}, "state is 'ready now'"),
    ({"created": "yesterday", "createdAt": None}, "no usable creation time"),
    ({"created": True, "createdAt": None}, "no usable creation time"),
    ({"created": float("nan"), "createdAt": None}, "no usable creation time"),
    ({"created": -5, "createdAt": None}, "no usable creation time"),
    ({"target": {"name": "production"}}, "target is an object"),
])
def test_an_entry_with_a_bad_field_is_left_out_and_said(change: dict[str, Any],
                                                        problem: str) -> None:
    bad = entry("dpl_bad", 1) | change
    parsed = listed(bad, entry("dpl_good", 2))
    assert [d.uid for d in parsed.deployments] == ["dpl_good"]
    assert len(parsed.problems) == 1 and problem in parsed.problems[0]
    assert "\x1b" not in parsed.problems[0] and "\n" not in parsed.problems[0]


def test_fields_of_the_wrong_type_that_are_optional_become_none() -> None:
    odd = entry("dpl_odd", 1, candidate="yes", url=["x"], meta="sha")
    deployment = listed(odd).deployments[0]
    assert deployment.is_rollback_candidate is None
    assert deployment.url is None and deployment.sha is None


def test_a_url_with_credentials_or_spaces_is_not_a_url() -> None:
    assert listed(entry("dpl_a", 1, url="user:pw@evil.test")).deployments[0].url is None
    assert listed(entry("dpl_b", 1, url="a b.vercel.app")).deployments[0].url is None
    assert listed(entry("dpl_c", 1, url="https://X.vercel.app/")).deployments[0].url == \
        "https://x.vercel.app"


def test_a_future_creation_time_beyond_the_skew_is_ignored_and_reported() -> None:
    future = entry("dpl_future", -3)  # three hours ahead
    near = entry("dpl_near", -(MAX_CLOCK_SKEW - 60) / HOUR)  # within the skew: a clock
    parsed = listed(future, near)
    assert [d.uid for d in parsed.deployments] == ["dpl_near"]
    assert parsed.problems == ("deployment dpl_future: created 3h in the future (ignored)",)


def test_milliseconds_and_seconds_both_read_as_seconds() -> None:
    seconds = entry("dpl_s", 0) | {"created": NOW - 60, "createdAt": None}
    assert listed(seconds).deployments[0].created == NOW - 60
    assert listed(entry("dpl_ms", 1)).deployments[0].created == NOW - HOUR


# --- whole answers ----------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "message"), [
    ([], "the deployments answer is a list, not an object"),
    ("deployments", "the deployments answer is a string, not an object"),
    ({"deployments": {"dpl_1": {}}}, "`deployments` is an object, not a list"),
    ({"deployments": None}, "`deployments` is missing, not a list"),
    ({"error": {"code": "x"}}, "`deployments` is missing, not a list"),
])
def test_a_deployment_list_that_is_not_a_list_is_refused(data: object, message: str) -> None:
    with pytest.raises(HostingAnswerError, match=message.replace("`", ".")):
        parse_deployments(data, NOW)


def test_the_list_is_newest_first_and_a_twice_listed_uid_counts_once() -> None:
    first = entry("dpl_old", 5)
    parsed = listed(first, entry("dpl_new", 1), first, entry("dpl_old", 3))
    assert [d.uid for d in parsed.deployments] == ["dpl_new", "dpl_old"]
    assert parsed.deployments[1].created == NOW - 5 * HOUR
    assert parsed.problems == ("deployment dpl_old is listed twice, differently "
                               "(the first kept)",)


def test_problems_are_bounded() -> None:
    parsed = listed(*(entry(f"dpl_{i}", 1) | {"state": 7} for i in range(40)))
    assert parsed.deployments == ()
    assert len(parsed.problems) == MAX_PROBLEMS + 1 and parsed.problems[-1] == \
        f"{40 - MAX_PROBLEMS} more problems"


def test_a_project_without_the_target_names_no_deployment() -> None:
    assert parse_project_target({"id": "prj"}, "production", NOW) == Parsed()
    assert parse_project_target({"targets": {"production": None}}, "production", NOW) == \
        Parsed()
    with pytest.raises(HostingAnswerError, match="`targets` is a list"):
        parse_project_target({"targets": []}, "production", NOW)
    with pytest.raises(HostingAnswerError, match="project answer is a number"):
        parse_project_target(3, "production", NOW)


def test_a_project_target_that_names_another_target_is_not_trusted() -> None:
    wrong = project_target("dpl_x", 1) | {"target": "staging"}
    parsed = parse_project_target({"targets": {"production": wrong}}, "production", NOW)
    assert parsed.deployments == () and "target is staging" in parsed.problems[0]


# --- current and previous ---------------------------------------------------------------------

def project(uid: str, hours_ago: float) -> Parsed:
    return parse_project_target({"targets": {"production": project_target(uid, hours_ago)}},
                                "production", NOW)


def test_the_project_says_what_is_live_and_previous_is_the_ready_one_before_it() -> None:
    deployments = listed(entry("dpl_bad", 0.5, candidate=True), entry("dpl_live", 20),
                         entry("dpl_prev", 48), entry("dpl_older", 90))
    live = live_deployments(deployments, project("dpl_live", 20), "production")
    assert (live.current.uid, live.previous.uid, live.source) == \
        ("dpl_live", "dpl_prev", "project")


def test_without_the_project_the_newest_ready_one_stands_in_and_says_so() -> None:
    deployments = listed(entry("dpl_building", 0.1, state="BUILDING"), entry("dpl_new", 1),
                         entry("dpl_prev", 30))
    live = live_deployments(deployments, None, "production", "answered 500")
    assert (live.current.uid, live.previous.uid, live.source) == \
        ("dpl_new", "dpl_prev", "newest")
    assert live.problems == ("project endpoint: answered 500",)
    named_none = live_deployments(deployments, Parsed(), "production")
    assert named_none.source == "newest"
    assert named_none.problems == ("the project names no production deployment",)


def test_previous_skips_other_targets_non_ready_and_what_vercel_calls_unfit() -> None:
    deployments = listed(entry("dpl_live", 1), entry("dpl_preview", 2, target=None),
                         entry("dpl_staging", 3, target="staging"),
                         entry("dpl_failed", 4, state="ERROR"),
                         entry("dpl_unfit", 5, candidate=False), entry("dpl_prev", 6))
    live = live_deployments(deployments, project("dpl_live", 1), "production")
    assert live.previous is not None and live.previous.uid == "dpl_prev"


def test_no_previous_when_nothing_ready_came_before() -> None:
    live = live_deployments(listed(entry("dpl_only", 1)), project("dpl_only", 1), "production")
    assert live.current is not None and live.previous is None
    empty = live_deployments(listed(), None, "production")
    assert empty.current is None and empty.previous is None


def test_preview_deployments_have_a_null_target() -> None:
    deployments = listed(entry("dpl_p1", 1, target=None), entry("dpl_p2", 2, target=None))
    live = live_deployments(deployments, None, "preview")
    assert (live.current.uid, live.previous.uid) == ("dpl_p1", "dpl_p2")


# --- errors, rate limits, clocks --------------------------------------------------------------

def test_error_bodies() -> None:
    assert parse_error({"error": {"code": "forbidden", "message": "Not authorized",
                                  "invalidToken": True}}).code == "forbidden"
    limited = parse_error({"error": {"code": "rate_limited", "message": "Slow down",
                                     "limit": {"remaining": 0, "reset": NOW + 30,
                                               "total": 100}}})
    assert limited.reset == NOW + 30
    assert parse_error({"error": "nope"}) is None and parse_error([1]) is None
    odd = parse_error({"error": {"code": 5, "message": "a\x1b[31mb\nc"}})
    assert odd.code == "" and odd.message == "ab c"


@pytest.mark.parametrize(("headers", "reset", "expected"), [
    ({"x-ratelimit-reset": str(int(NOW + 42))}, None, 42.0),
    ({"x-ratelimit-reset": "17"}, None, 17.0),
    ({"retry-after": "5"}, None, 5.0),
    ({"retry-after": "Mon, 24 Nov 2025 16:02:00 GMT"}, None, 120.0),
    ({}, NOW + 9, 9.0),
    ({"x-ratelimit-reset": "soon"}, NOW + 9, 9.0),
    ({"x-ratelimit-reset": "-4"}, None, None),
    ({"x-ratelimit-reset": "nan"}, None, None),
    ({"retry-after": "99999999"}, None, 3600.0),
    ({"retry-after": "0"}, None, 1.0),
    ({}, None, None),
])
def test_retry_after(headers: dict[str, str], reset: float | None,
                     expected: float | None) -> None:
    error = parse_error({"error": {"code": "rate_limited", "limit": {"reset": reset}}})
    assert retry_after(headers, error, NOW) == expected


def test_server_time() -> None:
    assert server_time("Mon, 24 Nov 2025 16:00:00 GMT") == NOW
    for bad in (None, "", "yesterday", "Mon, 24 Nov 2025 16:00:00", "x" * 100,
                "Mon, 24 Nov 9999 16:00:00 GMT"):
        assert server_time(bad) is None


def test_ages_read_in_hours_through_a_soak_then_days() -> None:
    assert [age_text(s) for s in (5, 600, 7200, 30 * HOUR, 80 * HOUR, -3)] == \
        ["5s", "10m", "2h", "30h", "3d", "0s"]


def test_uids_safe_in_a_path() -> None:
    assert is_deployment_uid("dpl_8Xk2-_a")
    for bad in ("", "dpl/1", "dpl 1", "..", "dpl_%2F", "x" * 101, 5, None):
        assert not is_deployment_uid(bad)


# --- hypothesis -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=25)
field_values = {
    "uid": st.text(max_size=20) | st.integers() | st.none(),
    "id": st.text(max_size=20) | st.none(),
    "state": st.sampled_from(["READY", "ERROR", "BUILDING", "ready", "", "??"]) | json_values,
    "created": st.integers(min_value=-10**15, max_value=10**16) | st.floats() | json_values,
    "target": st.sampled_from(["production", "staging", None]) | json_values,
    "url": st.text(max_size=40) | json_values,
    "meta": st.fixed_dictionaries({}, optional={"githubCommitSha": st.text(max_size=50)
                                                | json_values}) | json_values,
    "isRollbackCandidate": st.booleans() | json_values,
}
deployment_like = st.fixed_dictionaries({}, optional=field_values) | json_values


@settings(max_examples=300, deadline=None)
@given(data=json_values | st.fixed_dictionaries(
    {"deployments": st.lists(deployment_like, max_size=8) | json_values}))
def test_any_json_is_a_list_or_one_clear_refusal(data: object) -> None:
    try:
        parsed = parse_deployments(data, NOW)
    except HostingAnswerError as exc:
        assert "\n" not in str(exc)
        return
    for deployment in parsed.deployments:
        assert is_deployment_uid(deployment.uid)
        assert deployment.created <= NOW + MAX_CLOCK_SKEW
        assert deployment.sha is None or len(deployment.sha) >= 7
    created = [d.created for d in parsed.deployments]
    assert created == sorted(created, reverse=True)
    assert len(parsed.problems) <= MAX_PROBLEMS + 1
    assert all("\n" not in p and "\x1b" not in p for p in parsed.problems)


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(st.fixed_dictionaries({
    "uid": st.from_regex(r"\Adpl_[a-z0-9]{1,6}\Z"),
    "created": st.integers(min_value=int((NOW - 900 * HOUR) * 1000),
                           max_value=int(NOW * 1000)),
    "state": st.sampled_from(["READY", "ERROR", "BUILDING"]),
    "target": st.sampled_from(["production", "staging", None]),
    "isRollbackCandidate": st.sampled_from([True, False, None]),
}), max_size=10), current_index=st.integers(min_value=0, max_value=9) | st.none())
def test_previous_is_always_an_older_ready_candidate_of_the_target(
        entries: list[dict[str, Any]], current_index: int | None) -> None:
    deployments = parse_deployments({"deployments": entries}, NOW)
    chosen = None
    if current_index is not None and current_index < len(entries):
        chosen = parse_project_target({"targets": {"production": entries[current_index]
                                                   | {"target": "production"}}},
                                      "production", NOW)
    live = live_deployments(deployments, chosen, "production")
    if live.current is None:
        assert live.previous is None
        return
    if live.source == "newest":
        assert live.current.state == "READY" and live.current.target == "production"
    previous = live.previous
    if previous is not None:
        assert previous.state == "READY" and previous.target == "production"
        assert previous.created < live.current.created
        assert previous.is_rollback_candidate is not False
        assert previous.uid != live.current.uid
    # Nothing that qualifies is newer than the chosen previous one.
    better = [d for d in deployments.deployments
              if d.state == "READY" and d.target == "production"
              and d.created < live.current.created and d.uid != live.current.uid
              and d.is_rollback_candidate is not False
              and (previous is None or d.created > previous.created)]
    assert better == []


@given(text=st.text(max_size=80))
def test_server_time_and_retry_after_never_raise(text: str) -> None:
    server_time(text)
    wait = retry_after({"retry-after": text, "x-ratelimit-reset": text}, None, NOW)
    assert wait is None or 1.0 <= wait <= 3600.0


def test_json_round_trip_of_a_real_looking_answer() -> None:
    body = json.dumps({"pagination": {"count": 2, "next": None, "prev": None},
                       "deployments": [entry("dpl_b", 1), entry("dpl_a", 30)]})
    assert [d.uid for d in parse_deployments(json.loads(body), NOW).deployments] == \
        ["dpl_b", "dpl_a"]
