"""Hostile configurations and env files: a clear message, exit 2, never a traceback, never a
secret, never a control sequence reaching the terminal or a CI log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.config import ConfigError, find_config, load_config
from ppcockpit.config_model import EnvironmentConfig
from ppcockpit.toml_document import struct_fields

ROOT = Path(__file__).resolve().parent.parent
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # newline separates messages


def explain(path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "Traceback" not in message
    assert not CONTROL.search(message), repr(message)
    return message


def write(tmp_path: Path, text: str, name: str = "cockpit.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- names from outside are shown with their control characters escaped ---------------------

def test_environment_name_with_an_escape_sequence_is_shown_escaped(tmp_path: Path) -> None:
    path = write(tmp_path, '[environments."prod\\u001b]0;PWNED\\u0007"]\n'
                           'base_url = "https://a.example"\n')
    message = explain(path, env_name="production", environ={})
    assert "prod\\e]0;PWNED\\x07" in message


def test_unknown_key_cannot_inject_a_ci_log_command(tmp_path: Path) -> None:
    path = write(tmp_path, '[environments.production]\nbase_url = "https://a.example"\n'
                           '"\\u001b[2J\\n::error::injected" = 1\n')
    message = explain(path, environ={})
    assert "\n::error::" not in message
    assert "\\e[2J\\n::error::injected" in message
    assert ":3:" in message


def test_bad_value_with_controls_is_shown_escaped(tmp_path: Path) -> None:
    path = write(tmp_path, '[environments.production]\nbase_url = "\\u001b]0;x\\u0007"\n')
    assert "'\\x1b]0;x\\x07'" in explain(path, environ={})


# --- tracebacks instead of messages ------------------------------------------------------

def test_toml_nested_900_deep_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, "x = " + "[" * 900 + "]" * 900 + "\n")
    assert "nested" in explain(path, environ={})


def test_tables_nested_deeper_than_any_config_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[" + ".".join(f"t{i}" for i in range(60)) + "]\n")
    assert "nested more than" in explain(path, environ={})


@pytest.mark.parametrize("text", ["1" * 300 + "s", "99999999999999d", "400d"])
def test_absurd_durations_are_rejected(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, tomli_w.dumps({
        "environments": {"production": {"base_url": "https://a.example"}},
        "probes": {"health": {"interval": text}}}))
    message = explain(path, environ={})
    assert "probes.health.interval" in message
    assert "duration" in message


def test_a_directory_as_the_config_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        find_config(str(tmp_path), {})


def test_a_fifo_as_the_config_is_refused_without_reading_it(tmp_path: Path) -> None:
    fifo = tmp_path / "cockpit.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        find_config(str(fifo), {})
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo, environ={})


def test_a_huge_config_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "# filler\n" * 600_000)
    assert "larger than" in explain(path, environ={})


def test_non_utf8_config_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_bytes(b'[environments.production]\nbase_url = "https://\xff.example"\n')
    message = explain(path, environ={})
    assert ":2:" in message and "not UTF-8" in message


@pytest.mark.parametrize("content", [b"REDIS_URL=\xff\xfe\n", "directory", "fifo"])
def test_unusable_env_file_is_explained(tmp_path: Path, content: object) -> None:
    env_file = tmp_path / "prod.env"
    if content == "directory":
        env_file.mkdir()
    elif content == "fifo":
        os.mkfifo(env_file)
    else:
        env_file.write_bytes(content)  # type: ignore[arg-type]
    message = explain(ROOT / "cockpit.toml", env_file=str(env_file), environ={})
    assert message.startswith(f"--env-file {env_file}")


# --- errors never show a value that came from ${VAR} or an env file -----------------------

@pytest.mark.parametrize(("setting", "value"), [
    ("base_url", "hunter2-supersecret-A"),
    ("redis_url", "ftp://admin:TopSecretPass@db/"),
])
def test_an_error_about_a_var_names_the_variable_never_the_value(tmp_path: Path, setting: str,
                                                                 value: str) -> None:
    environment = {"base_url": "https://a.example", setting: "${PLANTED}"}
    path = write(tmp_path, tomli_w.dumps({"environments": {"production": environment}}))
    message = explain(path, environ={"PLANTED": value})
    assert "${PLANTED}" in message
    assert value not in message
    assert "TopSecretPass" not in message
    assert "supersecret" not in message


def test_every_missing_var_is_reported_in_one_message(tmp_path: Path) -> None:
    path = write(tmp_path, tomli_w.dumps({"environments": {"production": {
        "base_url": "${APP_URL}", "redis_url": "${REDIS_URL}",
        "posthog": {"project_id": "1", "api_key": "${POSTHOG_KEY}"}}}}))
    message = explain(path, environ={})
    for name in ("${APP_URL}", "${REDIS_URL}", "${POSTHOG_KEY}"):
        assert name in message
    assert message.count("\n") == 0


def test_var_in_cockpit_environment_is_resolved(tmp_path: Path) -> None:
    path = write(tmp_path, tomli_w.dumps({
        "cockpit": {"environment": "${PPC_ENV}"},
        "environments": {"production": {"base_url": "https://a.example"},
                         "staging": {"base_url": "https://s.example"}}}))
    config = load_config(path, environ={"PPC_ENV": "staging"})
    assert config.environment_name == "staging"
    assert config.redactor("staging") == "staging"  # a name, not a secret


def test_only_secrets_are_redacted_not_every_env_file_value(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("DEBUG=true\nPORT=3000\nAPP_ENV=rehearsal\n"
                        "OPENAI_API_KEY=sk-planted-openai-0001\n"
                        "DATABASE_URL=postgres://app:PlantedDbPass@db:5432/app\n"
                        "REDIS_URL=redis://:PlantedRedisPw@127.0.0.1:6379/0\n"
                        "POSTHOG_PERSONAL_API_KEY=phx_planted\n")
    config = load_config(ROOT / "cockpit.toml", env_file=str(env_file), environ={})
    text = 'true 3000 rehearsal "configured": true'
    assert config.redactor(text) == text
    shown = config.redactor("sk-planted-openai-0001 PlantedDbPass PlantedRedisPw phx_planted")
    for secret in ("sk-planted-openai-0001", "PlantedDbPass", "PlantedRedisPw", "phx_planted"):
        assert secret not in shown


# --- bounded: thousands of unknown keys are found in one pass, and capped -----------------

def test_thousands_of_unknown_keys_give_a_bounded_message(tmp_path: Path) -> None:
    keys = "".join(f"unknown_{i} = 1\n" for i in range(8000))
    path = write(tmp_path, '[environments.production]\nbase_url = "https://a.example"\n'
                           "[probes.health]\n" + keys)
    message = explain(path, environ={})
    assert message.count("\n") <= 11
    assert "and 7990 more unknown keys" in message
    assert ":4:" in message and ":13:" in message  # each shown key has its own line


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=30))
def test_any_key_name_is_explained_printably(tmp_path_factory, name: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "cockpit.toml"
    path.write_text(tomli_w.dumps({"environments": {"production": {
        "base_url": "https://a.example", name: 1}}}))
    if name in struct_fields(EnvironmentConfig):  # a real setting: not this test's case
        return
    message = explain(path, environ={})
    assert "unknown key" in message or "is required" in message or \
        "holds a control character" in message


def test_a_control_character_anywhere_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[cockpit]\noperator = "alice\\u001b[2Jbob"\n'
                           '[environments.production]\nbase_url = "https://a.example"\n')
    message = explain(path, environ={})
    assert ":2:" in message and "cockpit.operator holds a control character" in message


def test_a_runbook_title_cannot_carry_an_escape_sequence(tmp_path: Path) -> None:
    from ppcockpit.runbook import load_runbook

    path = write(tmp_path, 'title = "ok"\n[[phases]]\nid = "p"\ntitle = "P"\n'
                           '[[phases.steps]]\nid = "s"\nkind = "manual"\n'
                           'title = "Confirm\\u001b]0;PWNED\\u0007"\n', name="runbook.toml")
    with pytest.raises(ConfigError) as caught:
        load_runbook(path)
    assert ":8:" in str(caught.value) and "phases.0.steps.0.title" in str(caught.value)
    assert not CONTROL.search(str(caught.value))

# --- the command line: exit 2 with one line on stderr, exit codes CI can trust ------------

def run_cli(*args: str, env: dict[str, str] | None = None, **kwargs: object,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ppcockpit", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, **kwargs)  # type: ignore[call-overload]


@pytest.mark.parametrize("case", ["deep", "fifo-env", "duration"])
def test_cli_exits_2_with_a_message_never_a_traceback(tmp_path: Path, case: str) -> None:
    config = tmp_path / "cockpit.toml"
    args = ["check", "--config", str(config)]
    if case == "deep":
        config.write_text("x = " + "[" * 900 + "]" * 900 + "\n")
    elif case == "duration":
        config.write_text('[environments.p]\nbase_url = "https://a.example"\n'
                          f'[probes.health]\ninterval = "{"9" * 300}s"\n')
    else:
        config.write_text('[environments.p]\nbase_url = "https://a.example"\n')
        fifo = tmp_path / "env"
        os.mkfifo(fifo)
        args += ["--env-file", str(fifo)]
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("ppcockpit: ")


@pytest.mark.parametrize("marker", ["ppcockpit.text", "ppcockpit.config", "ppcockpit.runner"])
def test_ctrl_c_during_start_up_exits_quietly(marker: str) -> None:
    # Python reports each import on stderr as it finishes (PYTHONPROFILEIMPORTTIME), so the
    # interrupt lands at a known stage of start-up rather than after a guessed sleep.
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "REDIS_URL": "redis://127.0.0.1:1/0",
           "POSTHOG_PERSONAL_API_KEY": "phx_x"}
    process = subprocess.Popen([sys.executable, "-m", "ppcockpit", "check", "--config",
                                str(ROOT / "cockpit.toml")], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stderr is not None
    for line in process.stderr:
        if line.rstrip().endswith(marker):
            process.send_signal(subprocess.signal.SIGINT)  # type: ignore[attr-defined]
            break
    _, rest = process.communicate(timeout=60)
    complaints = [line for line in rest.splitlines() if not line.startswith("import time:")]
    assert not any("Traceback" in line or "Error" in line for line in complaints), complaints
    # 130: interrupted; 0/1: it finished first; -SIGINT: the signal landed while Python
    # was already shutting down (its handlers gone), which a shell reports as 130 too.
    assert process.returncode in (130, 0, 1, -2)


def test_check_into_a_closed_pipe_keeps_its_exit_status(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    config.write_text('[environments.p]\nbase_url = "http://127.0.0.1:9"\n'
                      '[probes.health]\ninterval = "1s"\ntimeout = "500ms"\n')
    shell = (f"{sys.executable} -m ppcockpit check --config {config} | true;"
             " echo \"status=${PIPESTATUS[0]}\" >&2")
    result = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert "status=1" in result.stderr  # no-go: nothing answers on port 9


def test_credentials_written_literally_are_secrets_too(tmp_path: Path) -> None:
    path = write(tmp_path, tomli_w.dumps({"environments": {"production": {
        "base_url": "https://a.example",
        "redis_url": "redis://:LiteralRedisPw@127.0.0.1:6379/0",
        "hosting": {"project_id": "prj_1", "token": "vercel-literal-token-1"},
        "posthog": {"project_id": "1", "api_key": "phx_literal_key"}}}}))
    config = load_config(path, environ={})
    shown = config.redactor("vercel-literal-token-1 phx_literal_key LiteralRedisPw prj_1")
    assert "literal" not in shown.lower() and "prj_1" in shown
