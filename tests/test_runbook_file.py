"""runbook.toml: the shipped team runbook, one test per bad file, and any TOML-shaped data
either loads or is explained with its file (never another exception)."""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppcockpit.cli import build_probes
from ppcockpit.config import load_config
from ppcockpit.runbook import (
    BUILT_IN,
    PROBE_NAMES,
    SLUG,
    ConfigError,
    StepKind,
    load_runbook,
)

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).parent / "configs" / "bad_runbooks"
# Merged with issue 10's deployments probe (built by another branch): until then the
# runner does not build it, and this is the one name a step may use before it exists.
PROBES_NOT_YET_BUILT = {"deployments"}


def test_the_built_in_runbook_and_the_shipped_runbook_toml_are_the_same() -> None:
    assert (ROOT / "runbook.toml").read_bytes() == BUILT_IN.read_bytes()
    built_in, shipped = load_runbook(None), load_runbook(ROOT / "runbook.toml")
    assert built_in.phases == shipped.phases and built_in.title == shipped.title
    assert built_in.path == str(BUILT_IN)


def test_the_wheel_ships_the_built_in_runbook() -> None:
    # hatch ships every file of a listed package that git does not ignore.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "ppcockpit" in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert BUILT_IN.parent == ROOT / "ppcockpit"
    ignored = (ROOT / ".gitignore").read_text().split()
    assert not any(Path(BUILT_IN.name).match(pattern.strip("/")) for pattern in ignored)


def test_it_covers_sections_1_to_5_and_7_of_the_teams_runbook() -> None:
    runbook = load_runbook(None)
    assert [phase.id for phase in runbook.phases] == [
        "pre-flight", "credentials", "deploy", "verify", "observe", "follow-up"]
    assert "rollback" not in " ".join(runbook.keys())  # section 6 has its own plan


def test_every_probe_step_reads_a_probe_the_cockpit_has(tmp_path: Path) -> None:
    config_file = tmp_path / "cockpit.toml"
    config_file.write_text('[environments.production]\nbase_url = "https://a.example"\n')
    probes, skipped = build_probes(load_config(config_file, environ={}))
    existing = {probe.name for probe in probes} | {reading.probe for reading in skipped}
    assert existing <= set(PROBE_NAMES)  # the loader knows every probe the runner builds
    used = {step.probe for phase in load_runbook(None).phases for step in phase.steps
            if step.kind is StepKind.PROBE}
    assert used - existing <= PROBES_NOT_YET_BUILT
    assert used - PROBES_NOT_YET_BUILT == {
        "health", "redis", "posthog", "supabase_backups", "supabase_migrations", "pwa",
        "secrets"}


def test_steps_are_bound_to_the_evidence_the_cockpit_can_check() -> None:
    runbook = load_runbook(None)
    soak = runbook.step("pre-flight/staging-soak")
    assert (soak.probe, soak.environment, soak.metric, soak.above) == (
        "deployments", "staging", "age_s", 86400)
    staging = runbook.step("pre-flight/staging-stable")
    assert (staging.probe, staging.environment, staging.status) == (
        "posthog", "staging", ["healthy", "degraded"])
    assert runbook.step("pre-flight/on-call-aware").kind is StepKind.MANUAL
    assert runbook.step("credentials/secrets-parity").probe == "secrets"
    backups = runbook.step("credentials/backups-fresh")
    assert (backups.probe, backups.status) == ("supabase_backups", ["healthy"])
    tag = runbook.step("deploy/release-tag")
    assert (tag.kind, tag.repo) == (StepKind.TAG, ".")
    live = runbook.step("deploy/live-deployment")
    assert (live.kind, live.source) == (StepKind.RECORD, "deployments")
    smoke = runbook.step("verify/smoke-health")
    assert (smoke.kind, smoke.run) == (StepKind.COMMAND,
                                       "npm run test -- __tests__/health-endpoint.test.ts")
    assert runbook.step("verify/smoke-retrieval").run == (
        "npm run test -- __tests__/retrieval.test.ts")
    assert runbook.step("verify/health-providers").status == ["healthy", "degraded"]
    redis = runbook.step("verify/redis-memory")
    assert (redis.metric, redis.below) == ("memory_ratio", 0.75)
    ratio = runbook.step("verify/failure-ratio")
    assert (ratio.probe, ratio.status, ratio.readings) == (
        "posthog", ["healthy", "degraded"], 3)
    assert runbook.step("observe/migrations-applied").probe == "supabase_migrations"
    assert runbook.step("observe/service-worker-updates").probe == "pwa"
    assert runbook.step("follow-up/release-log").kind is StepKind.MANUAL
    assert all(step.help for phase in runbook.phases for step in phase.steps)


# --- one bad file per mistake -----------------------------------------------------------------

BAD_RUNBOOKS = {
    "unknown_key.toml": [":11:", "unknown key phases.0.steps.0.hlep",
                         'did you mean "phases.0.steps.0.help"'],
    "unknown_top_key.toml": [":1:", "unknown key titel", 'did you mean "title"'],
    "duplicate_step_id.toml": [":11:", "phases.0.steps.1.id", "two steps are named 'confirm'",
                               "the first is phases.0.steps.0.id, line 6"],
    "duplicate_phase_id.toml": [":11:", "phases.1.id", "two phases are named 'one'"],
    "bad_slug.toml": [":6:", "phases.0.steps.0.id", "(got 'Confirm It')"],
    "probe_without_condition.toml": [":5:", "phases.0.steps.0",
                                     "a probe step needs `status` or `metric`"],
    "metric_without_bound.toml": [":5:", "phases.0.steps.0",
                                  "`metric` needs `below` and/or `above`"],
    "unknown_probe.toml": [":5:", "phases.0.steps.0", "unknown probe 'heatlh'",
                           "the probes are: deployments, health"],
    "unknown_status.toml": [":10:", "phases.0.steps.0.status.1",
                            "not one of the allowed values (got 'fine')"],
    "unknown_kind.toml": [":8:", "phases.0.steps.0.kind", "(got 'magic')"],
    "command_without_run.toml": [":5:", "phases.0.steps.0", "a command step needs `run`"],
    "tag_without_repo.toml": [":5:", "phases.0.steps.0", "a tag step needs `repo`"],
    "bad_pattern.toml": [":5:", "phases.0.steps.0", "`pattern` is not a regular expression"],
    "bad_record_source.toml": [":5:", "phases.0.steps.0", 'from = "deployments"'],
    "wrong_type.toml": [":11:", "phases.0.steps.0.below", "float"],
    "bad_timeout.toml": [":10:", "phases.0.steps.0.timeout", "expected a duration string"],
    "readings_out_of_range.toml": [":11:", "phases.0.steps.0.for",
                                   "greater than or equal to 1 (got 0)"],
    "invalid_toml.toml": [":3:", "invalid TOML"],
    "empty_phases.toml": [":2:", "phases: must hold at least 1"],
    "empty_steps.toml": [":4:", "phases.0.steps: must hold at least 1"],
    "no_phases.toml": ["phases is required but missing"],
}


def test_every_bad_runbook_has_a_case() -> None:
    assert sorted(p.name for p in BAD.glob("*.toml")) == sorted(BAD_RUNBOOKS)


@pytest.mark.parametrize("name", sorted(BAD_RUNBOOKS))
def test_bad_runbook_is_explained(name: str) -> None:
    path = BAD / name
    with pytest.raises(ConfigError) as caught:
        load_runbook(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in BAD_RUNBOOKS[name]:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "Traceback" not in message and "\n" not in message


# --- any TOML-shaped data ---------------------------------------------------------------------

_KEYS = ["id", "title", "kind", "help", "probe", "environment", "status", "metric", "below",
         "above", "for", "run", "cwd", "timeout", "pattern", "from", "repo", "ref", "push",
         "remote", "steps", "phases", "bogus"]
_WORDS = st.sampled_from(["one", "one", "Bad Slug", "manual", "probe", "command", "record",
                          "tag", "health", "redis", "healthy", "degraded", "5m", "deployments",
                          "memory_ratio", "[", "(a", ".", "x" * 70, "\x1b[2J"])
_scalars = st.one_of(_WORDS, st.booleans(), st.integers(-5, 200_000),
                     st.floats(allow_nan=False, allow_infinity=False),
                     st.text(string.printable, max_size=12))
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(_KEYS), children, max_size=6),
    max_leaves=25)
_step = st.dictionaries(st.sampled_from(_KEYS), _values, max_size=8)
_valid_step = st.fixed_dictionaries(
    {"id": st.sampled_from(["a", "b", "a"]), "title": st.just("T"),
     "kind": st.sampled_from(["manual", "probe", "command", "record", "tag"])},
    optional={"probe": _WORDS, "status": st.lists(_WORDS, max_size=2), "metric": _WORDS,
              "below": _scalars, "run": _WORDS, "repo": _WORDS, "from": _WORDS,
              "pattern": _WORDS, "for": st.integers(-1, 200), "timeout": _scalars})
_manual_step = st.fixed_dictionaries({"id": st.sampled_from(["a", "b"]), "title": st.just("T"),
                                      "kind": st.just("manual")})
_clean_phase = st.fixed_dictionaries(
    {"id": st.sampled_from(["p", "q", "p", "Bad Slug"]), "title": st.just("P"),
     "steps": st.lists(_manual_step | _manual_step | _valid_step, max_size=3)})
_any_phase = st.fixed_dictionaries(
    {"id": _scalars, "title": _scalars, "steps": st.lists(_step | _valid_step, max_size=3)},
    optional={"bogus": _values})
# Mostly near-valid documents (so that the checks behind the first mistake run too), and
# some anything-goes ones.
_documents = st.one_of(
    st.fixed_dictionaries({"phases": st.lists(_clean_phase, min_size=1, max_size=3)},
                          optional={"title": st.text(max_size=8)}),
    st.fixed_dictionaries({}, optional={"title": _scalars,
                                        "phases": st.lists(_any_phase | _step, max_size=3),
                                        "bogus": _values}),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(document=_documents)
def test_any_toml_shaped_runbook_loads_or_is_explained(tmp_path_factory, document: dict,
                                                       ) -> None:
    path = tmp_path_factory.mktemp("rb") / "runbook.toml"
    try:
        path.write_text(tomli_w.dumps(document))
    except (TypeError, ValueError):
        return  # not representable as TOML: nothing to test
    try:
        runbook = load_runbook(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        assert "\x1b" not in str(exc)
    else:
        assert runbook.phases
        ids = [item.id for phase in runbook.phases for item in (phase, *phase.steps)]
        assert all(re.match(SLUG, slug) for slug in ids)
