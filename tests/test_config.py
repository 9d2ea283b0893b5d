"""cockpit.toml: the shipped default, the minimal file, and one test per bad file."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppcockpit.config import ConfigError, find_config, load_config
from ppcockpit.durations import format_duration, parse_duration

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).with_name("configs")
BAD = CONFIGS / "bad"

PRODUCTION_ENV = {"REDIS_URL": "redis://:hunter2hunter2@127.0.0.1:6379/0",
                  "POSTHOG_PERSONAL_API_KEY": "phx_personal_secret_value"}


def test_shipped_default_is_pocket_philosopher_production_and_staging() -> None:
    config = load_config(ROOT / "cockpit.toml", environ=PRODUCTION_ENV)
    assert config.environment_name == "production"
    assert config.environment_names == ("production", "staging")
    assert config.environment.base_url == "https://app.pocketphilosopher.com"
    # The team's thresholds (pocket-philosopher.md).
    assert config.probes.redis.memory_warn == 0.75
    assert config.probes.health.unavailable_after == 2
    assert config.probes.posthog.ratio_crit == 0.05
    assert config.probes.posthog.window == 15 * 60
    assert config.probes.health.interval == 5.0


def test_staging_secrets_are_not_needed_to_watch_production() -> None:
    config = load_config(ROOT / "cockpit.toml", environ=PRODUCTION_ENV)
    assert "STAGING_REDIS_URL" not in PRODUCTION_ENV
    assert config.environment.redis_url == PRODUCTION_ENV["REDIS_URL"]


def test_minimal_file_with_one_base_url_is_valid() -> None:
    config = load_config(CONFIGS / "minimal.toml", environ={})
    assert config.environment_name == "production"
    assert config.environment.redis_url is None
    assert config.probes.health.path == "/api/health"


def test_secrets_come_from_env_file_and_are_known_to_the_redactor(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REDIS_URL=redis://:s3cr3t-pass@10.0.0.1:6379\n"
                        "POSTHOG_PERSONAL_API_KEY=phx_from_dotenv\n")
    config = load_config(ROOT / "cockpit.toml", env_file=str(env_file), environ={})
    assert config.environment.redis_url == "redis://:s3cr3t-pass@10.0.0.1:6379"
    redacted = config.redactor("failed to reach redis://:s3cr3t-pass@10.0.0.1:6379 phx_from_dotenv")
    assert "s3cr3t-pass" not in redacted
    assert "phx_from_dotenv" not in redacted
    assert "sha256:" in redacted


def test_process_environment_wins_over_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REDIS_URL=redis://from-file:6379\nPOSTHOG_PERSONAL_API_KEY=x1234\n")
    config = load_config(ROOT / "cockpit.toml", env_file=str(env_file),
                         environ={"REDIS_URL": "redis://from-env:6379"})
    assert config.environment.redis_url == "redis://from-env:6379"


def test_missing_env_file_is_named() -> None:
    with pytest.raises(ConfigError, match=r"--env-file /nope/.env: no such file"):
        load_config(ROOT / "cockpit.toml", env_file="/nope/.env", environ=PRODUCTION_ENV)


def test_unknown_env_lists_the_ones_that_exist() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "cockpit.toml", env_name="prod", environ=PRODUCTION_ENV)
    assert "'prod' is not an environment" in str(caught.value)
    assert "production, staging" in str(caught.value)


def test_config_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "explicit.toml"
    from_env = tmp_path / "from-env.toml"
    for path in (explicit, from_env):
        path.write_text((CONFIGS / "minimal.toml").read_text())
    assert find_config(str(explicit), {"PPCOCKPIT_CONFIG": str(from_env)}) == explicit
    assert find_config(None, {"PPCOCKPIT_CONFIG": str(from_env)}) == from_env
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"cockpit\.toml: no such configuration file"):
        find_config(None, {})


BAD_CASES = {
    "unterminated_string.toml": [":4:", "invalid TOML"],
    "unknown_key.toml": [":5:", "unknown key probes.health.intervall",
                         'did you mean "probes.health.interval"'],
    "nested_unknown_key.toml": [":6:", "environments.production.posthog.apikey",
                                'did you mean "environments.production.posthog.api_key"'],
    "unknown_section.toml": [":4:", "unknown key probez", 'did you mean "probes"'],
    "wrong_type.toml": [":5:", "probes.redis.memory_warn", "valid number"],
    "duration_number.toml": [":5:", "probes.health.interval", "expected a duration string"],
    "duration_unit.toml": ["probes.health.interval", "not a duration"],
    "unset_var.toml": [":3:", "${PPC_TEST_UNSET_REDIS} (used by "
                       "environments.production.redis_url) is not set",
                       "used by environments.production.redis_url"],
    "url_scheme.toml": [":2:", "environments.production.base_url", "http:// or https://"],
    "redis_scheme.toml": [":3:", "environments.production.redis_url", "redis://"],
    "default_env_missing.toml": ["cockpit.environment 'prod'", "the environments are: production"],
    "no_environments.toml": ["environments is required but missing"],
    "thresholds_inverted.toml": ["probes.redis", "memory_warn must not be above memory_crit"],
    "timeout_over_interval.toml": ["probes.health", "timeout must not be longer than interval"],
    "ratio_out_of_range.toml": ["probes.redis.memory_crit", "less than or equal to 1"],
}


def test_every_bad_file_has_a_case() -> None:
    assert sorted(p.name for p in BAD.glob("*.toml")) == sorted(BAD_CASES)


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_config_is_explained(name: str) -> None:
    path = BAD / name
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in BAD_CASES[name]:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "Traceback" not in message


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("5s", 5.0), ("15m", 900.0), ("24h", 86400.0), ("1.5s", 1.5), ("2d", 172800.0),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@given(st.floats(min_value=0, max_value=10 * 86400, allow_nan=False))
def test_format_duration_never_fails(seconds: float) -> None:
    assert format_duration(seconds)


@given(st.text(max_size=12))
def test_parse_duration_accepts_or_explains(text: str) -> None:
    try:
        assert parse_duration(text) >= 0
    except ValueError as exc:
        assert "is not a duration" in str(exc)


toml_scalars = st.one_of(
    st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.text(string.printable, max_size=20),
)
toml_values = st.recursive(
    toml_scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["interval", "timeout", "path", "x", "base_url",
                                       "redis_url", "memory_warn", "health", "redis"]),
                      children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(st.sampled_from(["cockpit", "probes", "environments", "other"]),
                             st.dictionaries(st.sampled_from(["production", "health", "redis",
                                                              "environment", "theme", "bogus"]),
                                             toml_values, max_size=3), max_size=3))
def test_any_toml_document_loads_or_is_explained(tmp_path_factory, extra: dict) -> None:
    path = tmp_path_factory.mktemp("cfg") / "cockpit.toml"
    try:
        path.write_text(tomli_w.dumps(extra))
    except (TypeError, ValueError):
        return  # not representable as TOML: nothing to test
    try:
        config = load_config(path, environ={})
    except ConfigError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert config.environment.base_url.startswith("http")
