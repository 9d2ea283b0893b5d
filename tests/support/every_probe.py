"""A configuration that builds every probe the cockpit has."""

from __future__ import annotations

from pathlib import Path

import tomli_w


def every_probe_config(tmp_path: Path, secrets_timeout: str = "5s") -> Path:
    """A configuration that builds every probe there is; its targets refuse connections
    and its secrets probe reads two real .env files."""
    closed = "http://127.0.0.1:1"
    (tmp_path / ".env.staging").write_text(
        "OPENAI_API_KEY=sk-staging-aaaaaaaaaaaaaaaa\nREDIS_URL=redis://a:b@staging:6379/0\n")
    (tmp_path / ".env.production").write_text(
        "OPENAI_API_KEY=sk-prod-bbbbbbbbbbbbbbbbbb\nREDIS_URL=redis://a:c@prod:6379/0\n")
    document = {
        "environments": {"production": {
            "base_url": closed, "redis_url": "redis://127.0.0.1:1/0",
            "posthog": {"host": closed, "project_id": "1", "api_key": "phx_abcdefabcdef"},
            "supabase": {"url": closed, "anon_key": "anon-key-abcdef",
                         "project_ref": "abcdefghijklmnopqrst",
                         "access_token": "sbp_abcdefabcdef", "management_url": closed,
                         "test_user_email": "a@b.test", "test_user_password": "pw-abcdef"},
        }},
        "probes": {"secrets": {"timeout": secrets_timeout, "reference": ".env.staging",
                               "candidate": ".env.production",
                               "keys": ["OPENAI_API_KEY", "REDIS_URL"]}},
    }
    path = tmp_path / "cockpit.toml"
    path.write_text(tomli_w.dumps(document))
    return path
