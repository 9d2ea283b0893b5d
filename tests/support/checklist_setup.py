"""A small deployment to walk in tests: a runbook with a step of every kind, a journal and a
release log in the test's directory, a real git repository to tag, and a config whose only
probe is the health probe against a stand-in served by the test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import tomli_w

from ppcockpit.cli import Assembled, GlobalFlags, build_session
from ppcockpit.config import load_config

RUNBOOK = {
    "title": "Drill",
    "phases": [
        {"id": "pre", "title": "Pre-flight", "steps": [
            {"id": "aware", "title": "On-call knows", "kind": "manual"},
            {"id": "health", "title": "Health is fine", "kind": "probe", "probe": "health",
             "status": ["healthy", "degraded"]},
        ]},
        {"id": "ship", "title": "Ship", "steps": [
            {"id": "url", "title": "Deployment URL", "kind": "record", "as": "deployment_url",
             "pattern": "https://.+"},
            {"id": "smoke", "title": "Smoke test", "kind": "command",
             "run": "echo checking {deployment_url}", "timeout": "30s"},
            {"id": "broken", "title": "Broken test", "kind": "command",
             "run": "echo boom; exit 3", "timeout": "30s"},
            {"id": "slow", "title": "Slow test", "kind": "command",
             "run": "sleep 60 && echo ppcockpit-slow-step",
             "timeout": "2m"},
            {"id": "tag", "title": "Tag the release", "kind": "tag", "repo": "repo"},
        ]},
        {"id": "end", "title": "Follow-up", "steps": [
            {"id": "posted", "title": "Posted in the channel", "kind": "manual"},
        ]},
    ],
}


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}
    (path / "README").write_text("release\n")
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "README"],
                    ["git", "commit", "-q", "-m", "release"]):
        subprocess.run(command, cwd=path, env=env, check=True, capture_output=True)
    return path


def write_deployment(directory: Path, base_url: str) -> Path:
    """cockpit.toml + runbook.toml + a git repo in `directory`; the config's path."""
    git_repo(directory / "repo")
    (directory / "runbook.toml").write_text(tomli_w.dumps(RUNBOOK))
    config = directory / "cockpit.toml"
    off = {name: {"enabled": False} for name in
           ("redis", "posthog", "supabase", "pwa", "secrets", "deployments")}
    config.write_text(tomli_w.dumps({
        "cockpit": {"runbook": "runbook.toml", "journal_dir": "journal",
                    "release_log": "release-log.toml", "operator": "alice"},
        "environments": {"production": {"base_url": base_url}},
        "probes": {"health": {"interval": "200ms", "timeout": "150ms"}, **off}}))
    return config


def assemble(config_path: Path, **flags: object) -> Assembled:
    config = load_config(config_path)
    return build_session(config, GlobalFlags(**flags))  # type: ignore[arg-type]
