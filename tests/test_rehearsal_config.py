"""The generated cockpit.toml validates with no environment variables and points at the stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from ppcockpit.config import load_config
from ppcockpit.config_model import DEFAULT_SECRET_KEYS
from ppcockpit.rehearsal import RehearsalError, StackHandle, start_stack
from ppcockpit.rehearsal.generated_config import OWNER_FILE, WORKDIR_PREFIX, sweep_stale_workdirs
from probes.secrets_parity import malformed_reason


@pytest.fixture(scope="module")
def stack() -> Iterator[StackHandle]:
    handle = start_stack()
    try:
        yield handle
    finally:
        handle.stop()


def test_generated_config_validates_without_env_vars(stack: StackHandle) -> None:
    config = load_config(stack.config_path, environ={})
    env = config.environment
    assert config.environment_name == "rehearsal"
    assert env.base_url == stack.endpoints["app"]
    assert env.redis_url == stack.endpoints["redis"]
    assert env.posthog is not None and env.posthog.host == stack.endpoints["posthog"]
    assert env.posthog.api_key and env.posthog.capture_key and env.posthog.project_id
    supabase = env.supabase
    assert supabase is not None and supabase.url == stack.endpoints["supabase"]
    assert supabase.management_url == stack.endpoints["management"]
    assert len(supabase.project_ref or "") == 20
    assert supabase.anon_key and supabase.access_token and supabase.test_user_password
    probes = config.probes
    assert (probes.health.interval, probes.redis.interval, probes.posthog.interval) == (1, 1, 5)
    for settings in (probes.supabase, probes.pwa, probes.secrets):
        assert settings.interval == 10 and settings.timeout <= settings.interval


def test_one_migration_is_not_yet_applied(stack: StackHandle) -> None:
    config = load_config(stack.config_path, environ={})
    assert config.environment.supabase is not None
    folder = config.resolve_path(config.environment.supabase.migrations_dir or "")
    files = sorted(p.name for p in folder.glob("*.sql"))
    assert len(files) == 3 and all(name[:14].isdigit() for name in files)


def test_env_exports_are_plausible_and_all_different(stack: StackHandle) -> None:
    config = load_config(stack.config_path, environ={})
    secrets = config.probes.secrets
    staging = dotenv_values(config.resolve_path(secrets.reference or ""))
    production = dotenv_values(config.resolve_path(secrets.candidate or ""))
    for key in DEFAULT_SECRET_KEYS:
        assert staging[key] and production[key] and staging[key] != production[key], key
        for values in (staging, production):
            assert malformed_reason(key, values[key] or "") is None, key


def test_workdir_is_removed_on_stop_and_stale_ones_are_swept(tmp_path: Path) -> None:
    handle = start_stack()
    workdir = handle.workdir
    assert (workdir / OWNER_FILE).read_text() == str(os.getpid())
    handle.stop()
    handle.stop()  # idempotent
    assert not workdir.exists()
    dead = tmp_path / f"{WORKDIR_PREFIX}dead"
    dead.mkdir()
    (dead / OWNER_FILE).write_text("999999999")  # no such process
    alive = tmp_path / f"{WORKDIR_PREFIX}alive"
    alive.mkdir()
    (alive / OWNER_FILE).write_text(str(os.getppid()))
    assert sweep_stale_workdirs(tmp_path) == [dead]
    assert alive.exists()


@pytest.mark.parametrize(("scenario", "scale", "message"), [
    ("volcano", 10.0, "unknown scenario 'volcano'; the scenarios are: calm,"),
    ("calm", 0.0, "time scale must be above 0"),
    ("calm", 1e9, "time scale must be above 0 and at most 3600"),
])
def test_start_stack_refuses_bad_arguments(scenario: str, scale: float, message: str) -> None:
    with pytest.raises(RehearsalError, match=message):
        start_stack(scenario, scale)
