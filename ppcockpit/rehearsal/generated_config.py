"""The rehearsal's work directory: a cockpit.toml pointing at the stack, two .env exports for
the secrets probe, a supabase/migrations folder with one migration not yet applied."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tomli_w

from ppcockpit import tempdirs
from ppcockpit.rehearsal import credentials as cred
from ppcockpit.rehearsal.management_server import APPLIED_MIGRATIONS, PENDING_MIGRATION
from ppcockpit.rehearsal.rehearsal_runbook import write_rehearsal_runbook
from ppcockpit.tempdirs import OWNER_FILE

WORKDIR_PREFIX = "ppcockpit-rehearsal-"
MIGRATIONS_DIR = "supabase/migrations"


def make_workdir() -> Path:
    """A fresh temp directory owned by this process; leftovers of killed rehearsals go first
    (their redis-server directories go when the next RedisServer starts)."""
    path = tempdirs.make_owned_dir(WORKDIR_PREFIX)
    (path / OWNER_FILE).write_text(str(os.getpid()))  # for people: the name says it too
    return path


def sweep_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove work directories whose owning process is gone (a SIGKILL leaves them)."""
    return tempdirs.sweep(WORKDIR_PREFIX, root)


def _env_file(kind: str, redis_url: str, supabase_url: str) -> str:
    anon = cred.fake_jwt({"role": "anon", "ref": f"{kind}ref", "iss": "supabase"})
    service = cred.fake_jwt({"role": "service_role", "ref": f"{kind}ref", "iss": "supabase"})
    values = {
        "NEXT_PUBLIC_SUPABASE_URL": supabase_url,
        "NEXT_PUBLIC_SUPABASE_ANON_KEY": anon,
        "SUPABASE_SERVICE_ROLE_KEY": service,
        "OPENAI_API_KEY": f"sk-{kind}-rehearsal-openai-0001",
        "ANTHROPIC_API_KEY": f"sk-ant-{kind}-rehearsal-0001",
        "TOGETHER_API_KEY": f"together-{kind}-rehearsal-0001",
        "RESEND_API_KEY": f"re_{kind}_rehearsal_0001",
        "POSTHOG_API_KEY": f"phc_{kind}_rehearsal_0001",
        "NEXT_PUBLIC_POSTHOG_KEY": f"phc_{kind}_public_rehearsal_0001",
        "NEXT_PUBLIC_POSTHOG_HOST": f"https://{kind}.posthog.rehearsal.test",
        "EMAIL_FROM": f"coach@{kind}.pocketphilosopher.test",
        "REDIS_URL": redis_url,
    }
    lines = [f"# Pocket Philosopher {kind} export (rehearsal: dummy values)"]
    lines += [f"{key}={value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def cockpit_document(endpoints: dict[str, str]) -> dict[str, Any]:
    """The cockpit.toml content for a stack serving `endpoints`: `rehearsal` is production,
    `staging` its staging (own app, PostHog project and Vercel target; 30 h soaked)."""
    hosting = {"api_url": endpoints["vercel"], "project_id": cred.VERCEL_PROJECT_ID,
               "token": cred.VERCEL_TOKEN}
    return {
        "cockpit": {"environment": "rehearsal", "runbook": "runbook.toml",
                    "journal_dir": "journal", "release_log": "release-log.toml"},
        "environments": {"rehearsal": {
            "base_url": endpoints["app"],
            "redis_url": endpoints["redis"],
            "posthog": {"host": endpoints["posthog"], "project_id": cred.POSTHOG_PROJECT_ID,
                        "api_key": cred.POSTHOG_API_KEY,
                        "capture_key": cred.POSTHOG_CAPTURE_KEY},
            "supabase": {"url": endpoints["supabase"], "anon_key": cred.SUPABASE_ANON_KEY,
                         "project_ref": cred.SUPABASE_PROJECT_REF,
                         "access_token": cred.SUPABASE_ACCESS_TOKEN,
                         "management_url": endpoints["management"],
                         "migrations_dir": MIGRATIONS_DIR,
                         "test_user_email": cred.TEST_USER_EMAIL,
                         "test_user_password": cred.TEST_USER_PASSWORD},
            "hosting": {**hosting, "target": "production"},
            "logs": {"source": "file", "path": endpoints["logs"], "tail_lines": 200},
        }, "staging": {
            "base_url": endpoints["staging_app"],
            "posthog": {"host": endpoints["posthog"],
                        "project_id": cred.POSTHOG_STAGING_PROJECT_ID,
                        "api_key": cred.POSTHOG_API_KEY},
            "hosting": {**hosting, "target": cred.VERCEL_STAGING_TARGET},
        }},
        "probes": {
            "health": {"interval": "1s", "timeout": "1s"},
            "redis": {"interval": "1s", "timeout": "1s"},
            "posthog": {"interval": "5s", "timeout": "4s"},
            "supabase": {"interval": "10s", "timeout": "5s"},
            "pwa": {"interval": "10s", "timeout": "5s"},
            "secrets": {"interval": "10s", "timeout": "5s", "reference": ".env.staging",
                        "candidate": ".env.production"},
            "deployments": {"interval": "5s", "timeout": "4s"},
        },
    }


def write_workdir(workdir: Path, endpoints: dict[str, str]) -> Path:
    """Write everything the cockpit needs into `workdir`; return the cockpit.toml path."""
    migrations = workdir / MIGRATIONS_DIR
    migrations.mkdir(parents=True, exist_ok=True)
    for version, name in (*APPLIED_MIGRATIONS, PENDING_MIGRATION):
        (migrations / f"{version}_{name}.sql").write_text(
            f"-- {name} (rehearsal)\nselect 1;\n")
    (workdir / ".env.staging").write_text(_env_file(
        "staging", "rediss://default:staging-pass@staging-redis.rehearsal.test:6380/0",
        "https://stagingrehearsal0000.supabase.co"))
    (workdir / ".env.production").write_text(_env_file(
        "production", "rediss://default:production-pass@redis.rehearsal.test:6380/0",
        "https://rehearsalppcockpit00.supabase.co"))
    write_rehearsal_runbook(workdir, endpoints["app"], endpoints.get("webhook"))
    config = workdir / "cockpit.toml"
    header = ("# Generated by `ppcockpit rehearse`: a local stand-in of Pocket Philosopher.\n"
              "# Every key below is a dummy literal; nothing here reaches a real service.\n")
    config.write_text(header + tomli_w.dumps(cockpit_document(endpoints)))
    return config


def remove_workdir(workdir: Path) -> None:
    tempdirs.remove(workdir)
