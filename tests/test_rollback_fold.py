"""The rollback's pure parts: the fold over rollback_* journal events (resume, interrupted,
decisions, the release log's record), the evidence, the notify message, ${VAR}s."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.journal import (
    ROLLBACK_ABORTED,
    ROLLBACK_ACTION_FINISHED,
    ROLLBACK_ACTION_STARTED,
    ROLLBACK_ARMED,
    ROLLBACK_DECIDED,
    ROLLBACK_EVENTS,
    ROLLBACK_FINISHED,
)
from ppcockpit.model import Reading, Row, Signal, Status
from ppcockpit.rollback_actions import ActionRefused, resolve, variables_missing
from ppcockpit.rollback_evidence import Evidence, gather_evidence
from ppcockpit.rollback_notify import Notice, escape, message, webhook_host
from ppcockpit.rollback_plan import ActionKind, RollbackAction
from ppcockpit.rollback_progress import ActionState, RollbackProgress, RollbackState
from ppcockpit.secrets import Redactor

ACTIONS = [{"id": "hosting", "kind": "hosting", "title": "Roll back"},
           {"id": "smoke", "kind": "command", "title": "Smoke"},
           {"id": "flush", "kind": "redis_flush", "title": "Flush", "optional": True}]


def event(name: str, operator: str = "alice", **fields: Any) -> dict[str, Any]:
    return {"event": name, "operator": operator, "at": "2026-12-01T17:00:00Z",
            "rollback": "rb-1", "dry_run": False, **fields}


def armed(**fields: Any) -> dict[str, Any]:
    return event(ROLLBACK_ARMED, trigger="Failure ratio 12%, over the 5% line for 3m.",
                 actions=ACTIONS, target={"uid": "dpl_prev", "sha": "abc1234", "url": None},
                 **fields)


def started(action: str, attempt: int = 1) -> dict[str, Any]:
    return event(ROLLBACK_ACTION_STARTED, action=action, attempt=attempt)


def finished(action: str, result: str = "ok", summary: str = "done") -> dict[str, Any]:
    return event(ROLLBACK_ACTION_FINISHED, action=action, result=result, summary=summary,
                 output_tail=["line 1", "line 2"])


def test_an_action_that_started_and_never_finished_is_interrupted_and_resumes_there() -> None:
    progress = RollbackProgress().apply_all([
        armed(), started("hosting"), finished("hosting"), started("smoke")])
    record = progress.open
    assert record is not None and record.state is RollbackState.OPEN
    assert record.actions["hosting"].state is ActionState.OK
    assert record.actions["smoke"].state is ActionState.INTERRUPTED
    assert record.actions["flush"].state is ActionState.PENDING
    assert record.next_action() is record.actions["smoke"]  # not hosting again


def test_decisions_retry_skip_and_abort_fold_in() -> None:
    progress = RollbackProgress().apply_all([
        armed(), started("hosting"), finished("hosting", "failed", "HTTP 500"),
        event(ROLLBACK_DECIDED, action="hosting", decision="retry", reason=""),
    ])
    record = progress.open
    assert record is not None
    hosting = record.actions["hosting"]
    assert hosting.state is ActionState.PENDING and hosting.summary == "HTTP 500"
    progress.apply_all([started("hosting", 2), finished("hosting"), started("smoke"),
                        finished("smoke", "failed", "exit 1"),
                        event(ROLLBACK_DECIDED, "bob", action="smoke", decision="skip",
                              reason="smoke is flaky, checked by hand")])
    assert hosting.attempts == 2 and hosting.state is ActionState.OK
    smoke = record.actions["smoke"]
    assert smoke.state is ActionState.SKIPPED and smoke.by == "bob"
    assert smoke.reason == "smoke is flaky, checked by hand"
    progress.apply(event(ROLLBACK_ABORTED, action="flush", reason="enough"))
    assert record.state is RollbackState.ABORTED and progress.open is None
    rollback = progress.release_rollback()
    assert rollback is not None
    assert rollback.trigger.startswith("Failure ratio 12%")
    assert rollback.operator == "alice, bob"
    results = [a.result for a in rollback.actions]
    assert results[0] == "ok: done"
    assert results[1] == "skipped by bob: smoke is flaky, checked by hand"
    assert results[2] == "not run"
    assert results[3] == "aborted by alice: enough"


def test_a_finished_rollback_is_not_open_and_a_dry_run_never_counts() -> None:
    progress = RollbackProgress().apply_all([
        armed(), *[e for a in ("hosting", "smoke", "flush") for e in (started(a),
                                                                       finished(a))],
        event(ROLLBACK_FINISHED, result="3 ok")])
    assert progress.open is None
    dry = {**armed(), "rollback": "rb-2", "dry_run": True}
    progress.apply(dry)
    progress.apply({**started("hosting"), "rollback": "rb-2", "dry_run": True})
    assert progress.open is None  # a half-done dry run is nothing to resume
    assert progress.latest is not None and progress.latest.dry_run
    rollback = progress.release_rollback()
    assert rollback is not None and rollback.actions[-1].result == "finished by alice: 3 ok"
    only_dry = RollbackProgress().apply_all([dry])
    assert only_dry.release_rollback() is None


def test_events_about_unknown_rollbacks_and_actions_are_problems_not_crashes() -> None:
    progress = RollbackProgress().apply_all([
        started("hosting"), armed(), event(ROLLBACK_ACTION_STARTED, action="nope"),
        armed(), event(ROLLBACK_DECIDED, action="smoke", decision="explode")])
    assert len(progress.problems) == 4
    assert progress.open is not None


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.lists(st.text(max_size=5), max_size=3),
                    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
_events = st.fixed_dictionaries(
    {"event": st.sampled_from([*ROLLBACK_EVENTS, "step_confirmed", "rollback_other"])},
    optional={"rollback": st.sampled_from(["rb-1", "rb-2", ""]),
              "action": st.sampled_from(["hosting", "smoke", "flush", "x"]),
              "actions": st.one_of(st.just(ACTIONS), _values),
              "result": st.sampled_from(["ok", "failed", "?"]),
              "decision": st.sampled_from(["retry", "skip", "confirm", "abort", "?"]),
              "attempt": _values, "output_tail": _values, "target": _values,
              "evidence": _values, "dry_run": _values, "operator": _values, "at": _values,
              "stack_at": _values, "trigger": _values, "summary": _values})


@settings(max_examples=300, deadline=None)
@given(st.lists(_events, max_size=30))
def test_any_journal_folds_without_crashing(events: list[dict[str, Any]]) -> None:
    progress = RollbackProgress().apply_all(events)
    for record in progress.rollbacks.values():
        assert all(isinstance(a.state, ActionState) for a in record.actions.values())
    progress.release_rollback()  # always buildable


# --- evidence --------------------------------------------------------------------------------

def test_evidence_says_the_ratio_against_its_line_for_how_long_and_what_is_down() -> None:
    posthog = Reading(probe="posthog", target="t", status=Status.UNAVAILABLE,
                      summary="failure ratio 12.3% > 5%", finished_at=1000.0,
                      metrics={"ratio": 0.123},
                      details={"ratio_crit": 0.05, "ratio_warn": 0.02})
    signal = Signal.new("posthog")
    signal.observe(Status.HEALTHY, 700.0)
    signal.observe(Status.DEGRADED, 760.0)
    signal.observe(Status.UNAVAILABLE, 820.0)
    health = Reading(probe="health", target="t", status=Status.DEGRADED, summary="",
                     rows=(Row("ai:anthropic", "anthropic", Status.UNAVAILABLE,
                               consecutive_failures=7),
                           Row("ai:ollama", "ollama", Status.UNAVAILABLE,
                               consecutive_failures=9),
                           Row("ai:openai", "openai", Status.HEALTHY)))
    redis = Reading(probe="redis", target="t", status=Status.HEALTHY,
                    summary="memory 12% of 64 MiB · 5 clients", metrics={"memory_ratio": 0.12})
    evidence = gather_evidence(
        "production", {"posthog": posthog, "health": health, "redis": redis},
        {"posthog": signal}, 1000.0, ignored_providers=["ollama"],
        recent_errors=lambda: [f"error {n} token=s3cr3t-value\x1b[31m" for n in range(9)],
        redact=Redactor(["s3cr3t-value"]))
    assert evidence.failure_ratio == 0.123 and evidence.ratio_threshold == 0.05
    assert evidence.over_for_s == 180.0  # over 5% since 820, not since it left healthy
    assert [(p.label, p.checks) for p in evidence.providers_down] == [("anthropic", 7)]
    text = evidence.text()
    assert "Failure ratio 12.3%, over the 5% line for 3m." in text
    assert "anthropic for 7 checks" in text and "memory 12% of 64 MiB" in text
    assert len(evidence.errors) == 5 and "s3cr3t" not in text and "\x1b" not in text
    assert Evidence.from_json(evidence.as_json()) == evidence


def test_evidence_without_readings_says_unknown() -> None:
    evidence = gather_evidence("production", {}, {}, 5.0)
    assert evidence.text() == "Failure ratio unknown (no PostHog reading yet)."


@given(st.one_of(st.none(), st.integers(), st.text(), st.dictionaries(st.text(), _values)))
def test_evidence_from_any_journal_value_never_raises(data: object) -> None:
    evidence = Evidence.from_json(data)
    if evidence is not None:
        evidence.text()


# --- notify ----------------------------------------------------------------------------------

SECRET = "xoxb-planted-secret-0000"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=40))
def test_the_message_never_holds_a_secret_a_mention_or_a_forged_link(
        trigger: str, operator: str) -> None:
    redact = Redactor([SECRET])
    text = message(Notice("production", operator, trigger + SECRET, "dpl_x · abc1234", "",
                          links=[("Dash|board", "https://dash.example/x"),
                                 ("bad", "javascript:alert(1)")]), redact)
    assert SECRET not in text
    body = text.replace("<https://dash.example/x|Dash/board>", "")
    assert "<" not in body and ">" not in body  # <!channel>, <url|...> from outside escaped
    assert "javascript" not in text


def test_the_message_carries_what_why_who_and_links() -> None:
    text = message(Notice("production", "alice", "Failure ratio 12% <!channel>",
                          "dpl_prev · abc1234", "dpl_bad · fff0000",
                          done=["Roll back: ok"], links=[("Grafana", "https://g.example")]),
                   Redactor())
    assert text.splitlines() == [
        "*Rollback of production* by alice",
        "*What:* production returns to dpl_prev · abc1234 (from dpl_bad · fff0000)",
        "*Why:* Failure ratio 12% &lt;!channel&gt;",
        "*Who:* alice",
        "*Done so far:* Roll back: ok",
        "*Links:* <https://g.example|Grafana>"]
    assert escape("a & b") == "a &amp; b"


def test_only_the_webhook_host_is_ever_shown() -> None:
    assert webhook_host("https://hooks.slack.com/services/T0/B0/tok") == "hooks.slack.com"
    assert webhook_host("not a url") == "(no host)"


# --- ${VAR}s ---------------------------------------------------------------------------------

def test_a_variable_is_resolved_when_used_and_a_secret_joins_the_redactor() -> None:
    redactor = Redactor()
    url = resolve("${SLACK_WEBHOOK_URL}", "url", {"SLACK_WEBHOOK_URL": "https://h/x/tok"},
                  redactor, secret=True)
    assert url == "https://h/x/tok" and redactor("see https://h/x/tok") != "see https://h/x/tok"
    host = resolve("${DEPLOY_HOST}", "host", {"DEPLOY_HOST": "web-1.internal"}, redactor)
    assert host == "web-1.internal" and redactor("web-1.internal") == "web-1.internal"
    with pytest.raises(ActionRefused, match=r"\$\{SLACK_WEBHOOK_URL\} \(used by `url`\) is "
                                            "not set"):
        resolve("${SLACK_WEBHOOK_URL}", "url", {}, redactor, secret=True)
    action = RollbackAction(id="n", kind=ActionKind.NOTIFY, title="t", url="${A}/${B}")
    assert variables_missing(action, {"A": "x"}) == ["B"]


@given(st.text(max_size=60), st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True),
                                             st.text(max_size=10), max_size=4))
def test_resolving_any_text_either_fills_it_or_names_what_is_missing(
        text: str, variables: dict[str, str]) -> None:
    try:
        filled = resolve(text, "url", variables, Redactor(), secret=True)
    except ActionRefused as exc:
        assert "is not set" in str(exc)
    else:
        assert filled is not None


def test_the_rollback_modules_import_nothing_heavy_and_no_ui() -> None:
    from tests.test_import_hygiene import HTTP_LIBRARIES, modules_after

    loaded = modules_after("import ppcockpit.rollback, ppcockpit.cli_rollback, "
                           "ppcockpit.rehearsal.webhook_server")
    heavy = {*HTTP_LIBRARIES, "asyncssh", "textual", "screens"} - {"aiohttp"}
    assert not [name for name in loaded if name.split(".")[0] in heavy]


def test_the_log_tails_newest_errors_are_the_evidence() -> None:
    from ppcockpit.logs import LogBuffer, LogLine
    from ppcockpit.rollback_evidence import log_tail_errors

    buffer = LogBuffer(100)
    first = buffer.allocate(12)
    buffer.extend([LogLine(first + n, 0.0, f"raw {n}", time="10:00:0" + str(n % 10),
                           level="error" if n % 2 else "info", provider="openai",
                           message=f"failed {n}") for n in range(12)])
    assert log_tail_errors(buffer, limit=3)() == [
        "10:00:07 openai: failed 7", "10:00:09 openai: failed 9", "10:00:01 openai: failed 11"]
    assert log_tail_errors(LogBuffer(10))() == []
