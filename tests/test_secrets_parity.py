"""Secrets parity between two .env exports: every finding, and never a value in any output."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ppcockpit.config_model import SecretsProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, Status
from ppcockpit.secrets import fingerprint
from probes.secrets_parity import SecretsParityProbe, malformed_reason


def jwt(role: str, tag: str) -> str:
    def part(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'role': role, 'ref': tag})}.sig{tag}"


STAGING = {
    "NEXT_PUBLIC_SUPABASE_URL": "https://stagingrefplanted.supabase.co",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY": jwt("anon", "stagingAnonPlanted"),
    "SUPABASE_SERVICE_ROLE_KEY": jwt("service_role", "stagingServicePlanted"),
    "OPENAI_API_KEY": "sk-proj-sharedOpenAIPlanted000",
    "ANTHROPIC_API_KEY": "sk-ant-api03-stagingAnthropicPlanted",
    "TOGETHER_API_KEY": "tgp_v1_stagingTogetherPlanted",
    "RESEND_API_KEY": "re_stagingResendPlanted",
    "POSTHOG_API_KEY": "phc_stagingPosthogPlanted",
    "REDIS_URL": "rediss://default:stagingRedisPwPlanted@staging-redis.example.test:6380",
}
PRODUCTION = {
    "NEXT_PUBLIC_SUPABASE_URL": "https://prodrefplanted.supabase.co",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY": jwt("anon", "prodAnonPlanted"),
    "SUPABASE_SERVICE_ROLE_KEY": "sb_secret_prodServicePlanted",
    "OPENAI_API_KEY": "sk-proj-sharedOpenAIPlanted000",  # shared across envs: allowed
    "ANTHROPIC_API_KEY": "sk-ant-api03-prodAnthropicPlanted",
    "TOGETHER_API_KEY": "prodTogetherPlanted0123456789",
    "RESEND_API_KEY": "re_prodResendPlanted",
    "POSTHOG_API_KEY": "phc_prodPosthogPlanted",
    "REDIS_URL": "rediss://default:prodRedisPwPlanted@prod-redis.example.test:6380",
}


def write_env(path: Path, values: dict[str, str | None], extra: str = "") -> Path:
    lines = [key if value is None else f'{key}="{value}"' for key, value in values.items()]
    path.write_text("# exported\n" + "\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def planted(*sources: dict[str, str | None]) -> set[str]:
    values = {v for source in sources for v in source.values() if v}
    # Parts of a value would leak it too: the password of a Redis URL, a JWT's payload.
    values |= {"stagingRedisPwPlanted", "prodRedisPwPlanted"}
    values |= {v.split(".")[1] for v in values if v.startswith("eyJ")}
    return values


def assert_no_value(reading: Reading, values: set[str], caplog: pytest.LogCaptureFixture) -> None:
    texts = [reading.summary, reading.error or "", repr(reading), str(reading.details),
             str(reading.metrics), reading.target, caplog.text]
    texts += [row.message for row in reading.rows] + [repr(row) for row in reading.rows]
    for value in values:
        for text in texts:
            assert value not in text, "a planted secret value leaked into the output"


async def run(tmp_path: Path, staging: dict[str, str | None],
              production: dict[str, str | None], caplog: pytest.LogCaptureFixture,
              **settings: object) -> Reading:
    caplog.set_level(logging.DEBUG)
    reference = write_env(tmp_path / "staging.env", staging)
    candidate = write_env(tmp_path / "production.env", production)
    probe = SecretsParityProbe(reference, candidate, SecretsProbeConfig(**settings))
    reading = await probe.check()
    await probe.aclose()
    assert_no_value(reading, planted(staging, production), caplog)
    assert all(value not in repr(vars(probe)) for value in planted(staging, production))
    return reading


def row(reading: Reading, key: str):
    return next(r for r in reading.rows if r.key == key)


async def test_consistent_files_are_healthy(tmp_path: Path, caplog) -> None:
    reading = await run(tmp_path, STAGING, PRODUCTION, caplog)
    assert reading.probe == "secrets"
    assert reading.status is Status.HEALTHY, reading.rows
    assert reading.summary == "9 keys consistent in staging.env and production.env"
    assert reading.metrics == {"keys": 9, "problems": 0, "candidate_problems": 0,
                               "reference_problems": 0}
    assert [r.key for r in reading.rows] == list(STAGING)
    openai = row(reading, "OPENAI_API_KEY")
    assert openai.message == f"ok, same in both ({fingerprint(PRODUCTION['OPENAI_API_KEY'])})"
    fps = reading.details["fingerprints"]["REDIS_URL"]
    assert fps == {"reference": fingerprint(STAGING["REDIS_URL"]),
                   "candidate": fingerprint(PRODUCTION["REDIS_URL"])}


async def test_missing_and_empty_in_production_are_unavailable(tmp_path: Path, caplog) -> None:
    production = dict(PRODUCTION)
    del production["SUPABASE_SERVICE_ROLE_KEY"]
    production["RESEND_API_KEY"] = ""
    production["POSTHOG_API_KEY"] = None  # a bare `KEY` line
    reading = await run(tmp_path, STAGING, production, caplog)
    assert reading.status is Status.UNAVAILABLE
    assert row(reading, "SUPABASE_SERVICE_ROLE_KEY").message == "missing in production.env"
    assert row(reading, "RESEND_API_KEY").message == "empty in production.env"
    assert row(reading, "POSTHOG_API_KEY").message == "empty in production.env"
    assert reading.summary == ("production.env: SUPABASE_SERVICE_ROLE_KEY missing, "
                               "RESEND_API_KEY empty, POSTHOG_API_KEY empty")
    assert reading.metrics["problems"] == 3


async def test_production_supabase_url_equal_to_staging(tmp_path: Path, caplog) -> None:
    production = dict(PRODUCTION, NEXT_PUBLIC_SUPABASE_URL=STAGING["NEXT_PUBLIC_SUPABASE_URL"])
    reading = await run(tmp_path, STAGING, production, caplog)
    assert reading.status is Status.UNAVAILABLE
    the_row = row(reading, "NEXT_PUBLIC_SUPABASE_URL")
    assert the_row.status is Status.UNAVAILABLE
    expected_fp = fingerprint(STAGING["NEXT_PUBLIC_SUPABASE_URL"])
    assert the_row.message == f"same value in both ({expected_fp})"
    assert "NEXT_PUBLIC_SUPABASE_URL same as staging.env" in reading.summary


async def test_same_redis_server_with_another_password(tmp_path: Path, caplog) -> None:
    production = dict(PRODUCTION, REDIS_URL=STAGING["REDIS_URL"].replace(
        "stagingRedisPwPlanted", "prodRedisPwPlanted"))
    reading = await run(tmp_path, STAGING, production, caplog)
    assert row(reading, "REDIS_URL").message.startswith("same host, port and path in both (")
    assert reading.status is Status.UNAVAILABLE


async def test_malformed_values_are_named_by_reason_only(tmp_path: Path, caplog) -> None:
    production = dict(
        PRODUCTION,
        NEXT_PUBLIC_SUPABASE_URL="http://prodrefplanted.supabase.co",
        OPENAI_API_KEY="sk-ant-wrongSlotPlanted",
        REDIS_URL="https://prod-redis.example.test",
        NEXT_PUBLIC_SUPABASE_ANON_KEY=jwt("service_role", "leakedServicePlanted"),
        RESEND_API_KEY="resend-no-prefix-planted",
    )
    reading = await run(tmp_path, STAGING, production, caplog)
    assert reading.status is Status.UNAVAILABLE
    messages = {r.key: r.message for r in reading.rows}
    fp = fingerprint
    assert messages["NEXT_PUBLIC_SUPABASE_URL"] == (
        "malformed in production.env: expected an https:// URL "
        f"({fp(production['NEXT_PUBLIC_SUPABASE_URL'])})")
    assert "holds an Anthropic key (sk-ant-), expected an OpenAI key" in messages["OPENAI_API_KEY"]
    assert "expected a redis:// or rediss:// URL" in messages["REDIS_URL"]
    assert "holds a service_role JWT, expected anon" in messages["NEXT_PUBLIC_SUPABASE_ANON_KEY"]
    assert "expected a Resend key (re_)" in messages["RESEND_API_KEY"]
    assert reading.metrics["candidate_problems"] == 5


async def test_problems_only_in_the_reference_are_degraded(tmp_path: Path, caplog) -> None:
    staging = dict(STAGING, ANTHROPIC_API_KEY="")
    del staging["TOGETHER_API_KEY"]
    reading = await run(tmp_path, staging, PRODUCTION, caplog)
    assert reading.status is Status.DEGRADED
    assert row(reading, "ANTHROPIC_API_KEY").status is Status.DEGRADED
    assert row(reading, "TOGETHER_API_KEY").message == "missing in staging.env"
    assert reading.summary == "staging.env: ANTHROPIC_API_KEY empty, TOGETHER_API_KEY missing"


async def test_configured_keys_and_must_differ(tmp_path: Path, caplog) -> None:
    staging = {"EMAIL_FROM": "coach@example.test"}
    production = {"EMAIL_FROM": "coach@example.test"}
    reading = await run(tmp_path, staging, production, caplog, keys=["EMAIL_FROM", "OLLAMA_URL"],
                        must_differ=["EMAIL_FROM"])
    assert row(reading, "EMAIL_FROM").message.startswith("same value in both (sha256:")
    assert row(reading, "OLLAMA_URL").message == ("missing in production.env; "
                                                  "missing in staging.env")
    assert reading.metrics["keys"] == 2


async def test_interpolation_is_off_and_our_environment_never_leaks(
        tmp_path: Path, caplog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESS_SECRET_PLANTED", "fromTheProcessEnvPlanted")
    production = dict(PRODUCTION, TOGETHER_API_KEY="${PROCESS_SECRET_PLANTED}")
    reading = await run(tmp_path, STAGING, production, caplog)
    assert "fromTheProcessEnvPlanted" not in repr(reading)
    assert row(reading, "TOGETHER_API_KEY").status is Status.HEALTHY


async def test_unparseable_lines_log_no_content(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    reference = write_env(tmp_path / "staging.env", STAGING, extra='BROKEN="unclosedPlanted\n')
    candidate = write_env(tmp_path / "production.env", PRODUCTION)
    reading = await SecretsParityProbe(reference, candidate, SecretsProbeConfig()).check()
    assert "unclosedPlanted" not in caplog.text + repr(reading)


@pytest.mark.parametrize("which", ["reference", "candidate"])
async def test_a_missing_file_names_the_path(tmp_path: Path, which: str) -> None:
    present = write_env(tmp_path / "present.env", PRODUCTION)
    absent = tmp_path / "absent.env"
    paths = (absent, present) if which == "reference" else (present, absent)
    probe = SecretsParityProbe(*paths, SecretsProbeConfig())
    with pytest.raises(ProbeMisconfigured) as caught:
        await probe.check()
    assert str(caught.value) == f"{which} .env file not found: {absent}"
    assert all(value not in str(caught.value) for value in planted(PRODUCTION))


async def test_a_file_that_is_not_text_names_the_path_only(tmp_path: Path) -> None:
    reference = tmp_path / "staging.env"
    reference.write_bytes(b"OPENAI_API_KEY=sk-\xff\xfebinaryPlanted\n")
    candidate = write_env(tmp_path / "production.env", PRODUCTION)
    with pytest.raises(ProbeMisconfigured) as caught:
        await SecretsParityProbe(reference, candidate, SecretsProbeConfig()).check()
    assert str(caught.value) == f"reference .env file is not UTF-8 text: {reference}"
    assert caught.value.__cause__ is None


async def test_same_file_names_in_two_folders_are_told_apart(tmp_path: Path, caplog) -> None:
    (tmp_path / "staging").mkdir()
    (tmp_path / "production").mkdir()
    reference = write_env(tmp_path / "staging" / ".env", STAGING)
    candidate = write_env(tmp_path / "production" / ".env", {})
    reading = await SecretsParityProbe(reference, candidate, SecretsProbeConfig()).check()
    assert reading.target == "production/.env against staging/.env"
    assert row(reading, "REDIS_URL").message == "missing in production/.env"


@given(key=st.sampled_from([*STAGING, "OLLAMA_URL", "EMAIL_FROM", "POSTHOG_PERSONAL_KEY"]),
       value=st.text(max_size=80))
def test_malformed_reason_never_quotes_the_value(key: str, value: str) -> None:
    reason = malformed_reason(key, value)
    assert reason is None or isinstance(reason, str)
    if reason and len(value) >= 4:
        assert value not in reason


@given(value=st.from_regex(r"\A[A-Za-z0-9_\-]{1,40}\Z"))
def test_known_prefixes_are_accepted(value: str) -> None:
    assert malformed_reason("OPENAI_API_KEY", "sk-" + value) is None
    assert malformed_reason("ANTHROPIC_API_KEY", "sk-ant-" + value) is None
    assert malformed_reason("RESEND_API_KEY", "re_" + value) is None
    assert malformed_reason("POSTHOG_API_KEY", "phc_" + value) is None
    assert malformed_reason("SUPABASE_SERVICE_ROLE_KEY", "sb_secret_" + value) is None
    assert malformed_reason("NEXT_PUBLIC_SUPABASE_ANON_KEY", "sb_publishable_" + value) is None
    assert malformed_reason("REDIS_URL", f"rediss://:{value}@redis.example.test:6380") is None


def test_a_jwt_whose_payload_is_nested_100k_deep_is_only_not_readable() -> None:
    import base64

    payload = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode().rstrip("=")
    token = f"eyJhbGciOiJIUzI1NiJ9.{payload}.signature"
    assert malformed_reason("SUPABASE_SERVICE_ROLE_KEY", token) is None  # role unreadable
