"""The typed shape of cockpit.toml: strict msgspec structs. Every key has a docstring;
unknown keys are rejected (ppcockpit.toml_document finds them all, with their lines)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from ppcockpit.config_types import (
    DURATION_FORMS,
    HttpUrl,
    Ratio,
    RedisUrl,
    Seconds,
    Strict,
    dec_hook,
    http_url,
    redis_url,
    seconds,
)
from ppcockpit.rollback_plan import RollbackPlan

__all__ = ["DURATION_FORMS", "HttpUrl", "Ratio", "RedisUrl", "RollbackPlan", "Seconds",
           "Strict", "dec_hook", "http_url", "redis_url", "seconds"]


class CockpitSection(Strict):
    environment: str | None = None
    """The environment opened when --env is not given (default: the first one)."""
    operator: str | None = None
    """Who is at the keyboard; recorded in the journal (default: the login name)."""
    theme: str = "dark"
    """The theme at start: dark, light or high-contrast."""
    history: Annotated[int, Meta(ge=10, le=10_000)] = 120
    """How many readings the memory history keeps."""
    runbook: str | None = None
    """The runbook TOML, relative to this file (default: the built-in Pocket Philosopher
    runbook)."""
    journal_dir: str | None = None
    """Where deployment sessions are journaled (default: the user state directory)."""
    release_log: str | None = None
    """The TOML file release entries are appended to (default: in journal_dir)."""


class Link(Strict):
    title: str
    """What the link shows, e.g. "PostHog · AI Telemetry"."""
    url: HttpUrl
    """Where it is."""


class HostingEnvironment(Strict, kw_only=True):
    provider: Literal["vercel"] = "vercel"
    """The hosting API (Vercel's shape)."""
    project_id: str
    """The hosting project id (prj_...) or name."""
    token: str | None = None
    """An API token: ${VERCEL_TOKEN}."""
    api_url: HttpUrl = HttpUrl("https://api.vercel.com")
    """The API base URL."""
    team_id: str | None = None
    """The team the project belongs to (teamId), when it is not a personal project."""
    target: str = "production"
    """Which deployments count as this environment's (production, preview, or a custom
    environment)."""


class LogsEnvironment(Strict, kw_only=True):
    source: Literal["command", "ssh", "file"]
    """Where the app's log lines come from."""
    run: str | None = None
    """The command (source command or ssh), e.g. `kubectl logs -f deploy/web --since=10m`."""
    path: str | None = None
    """The file to follow (source file), relative to this file."""
    host: str | None = None
    """The SSH host (source ssh)."""
    port: Annotated[int, Meta(ge=1, le=65535)] = 22
    """The SSH port."""
    user: str | None = None
    """The SSH user."""
    key_file: str | None = None
    """The SSH private key file (default: the SSH agent and ~/.ssh keys)."""
    known_hosts: str = "~/.ssh/known_hosts"
    """The known_hosts file the host key is verified against (always)."""
    max_lines: Annotated[int, Meta(ge=100, le=1_000_000)] = 10_000
    """Lines kept in the log buffer."""
    max_line_bytes: Annotated[int, Meta(ge=256, le=1_048_576)] = 16_384
    """Longer lines are cut, with a visible mark."""
    tail_lines: Annotated[int, Meta(ge=0, le=100_000)] = 200
    """(file) How many of the file's last lines to show at start."""
    connect_timeout: Seconds = Seconds(10.0)
    """(ssh) How long connecting may take."""

    def __post_init__(self) -> None:
        super().__post_init__()
        needs = {"command": ("run",), "ssh": ("host", "run"), "file": ("path",)}[self.source]
        missing = [name for name in needs if not getattr(self, name)]
        if missing:
            raise ValueError(f"source {self.source!r} needs {' and '.join(missing)}")


class PosthogEnvironment(Strict, kw_only=True):
    host: HttpUrl = HttpUrl("https://us.posthog.com")
    """PostHog host, e.g. https://us.posthog.com or https://eu.posthog.com."""
    project_id: str
    """The numeric project id."""
    api_key: str | None = None
    """Personal API key (phx_...) with query read scope: for queries and annotations."""
    capture_key: str | None = None
    """Project API key (phc_...): for the cockpit's own events. Optional."""


class SupabaseEnvironment(Strict):
    url: HttpUrl | None = None
    """The project URL (NEXT_PUBLIC_SUPABASE_URL)."""
    anon_key: str | None = None
    """The anon key, for the auth smoke test."""
    project_ref: str | None = None
    """The 20-character project ref, for the Management API."""
    access_token: str | None = None
    """A Management API access token (sbp_...)."""
    management_url: HttpUrl = HttpUrl("https://api.supabase.com")
    """The Management API base URL."""
    migrations_dir: str | None = None
    """The app repo's supabase/migrations folder, relative to this file. Optional."""
    test_user_email: str | None = None
    """A test user for the auth smoke test. Optional: without it the smoke is skipped."""
    test_user_password: str | None = None
    """The test user's password."""


class EnvironmentConfig(Strict):
    base_url: HttpUrl
    """Where the app is served, e.g. https://app.pocketphilosopher.com."""
    redis_url: RedisUrl | None = None
    """redis://, rediss:// or unix:// URL of the app's Redis; passwords via ${VAR}."""
    posthog: PosthogEnvironment | None = None
    """PostHog project for the failure ratio and deploy annotations."""
    supabase: SupabaseEnvironment | None = None
    """Supabase project for backups, migrations and the auth smoke."""
    hosting: HostingEnvironment | None = None
    """The hosting API: the live deployment, and what a rollback returns to."""
    logs: LogsEnvironment | None = None
    """The app's log stream for the log tail."""
    links: list[Link] = []
    """Dashboards and alerts to review (listed in the release log)."""


class ProbeSettings(Strict):
    enabled: bool = True
    """Set false to leave this probe out entirely."""
    interval: Seconds = Seconds(5.0)
    """How often the probe runs."""
    timeout: Seconds = Seconds(3.0)
    """How long one run may take before it counts as unavailable."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.timeout > self.interval:
            raise ValueError("timeout must not be longer than interval")


class HealthProbeConfig(ProbeSettings):
    path: str = "/api/health"
    """The health route, appended to base_url."""
    unavailable_after: Annotated[int, Meta(ge=0, le=100)] = 2
    """A provider alerts when unavailable for more than this many consecutive checks."""
    ignore_providers: list[str] = []
    """Provider ids that never count against go/no-go."""
    max_body: Annotated[int, Meta(ge=1024)] = 1_048_576
    """Bodies larger than this many bytes are not read."""


class RedisProbeConfig(ProbeSettings):
    memory_warn: Ratio = 0.75
    """Used memory over this share of maxmemory is degraded."""
    memory_crit: Ratio = 0.90
    """Used memory over this share of maxmemory is critical (unavailable)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.memory_warn > self.memory_crit:
            raise ValueError("memory_warn must not be above memory_crit")


class PosthogProbeConfig(ProbeSettings):
    interval: Seconds = Seconds(60.0)
    timeout: Seconds = Seconds(15.0)
    success_event: str = "i_chat_completed"
    """The event counted as a successful request."""
    failure_event: str = "i_request_failed"
    """The event counted as a failed request."""
    window: Seconds = Seconds(900.0)
    """The window the ratio is computed over (the team's rule: 15 minutes)."""
    ratio_warn: Ratio = 0.02
    """Failure ratio above this is degraded."""
    ratio_crit: Ratio = 0.05
    """Failure ratio above this is critical (unavailable)."""
    min_requests: Annotated[int, Meta(ge=0)] = 20
    """Below this many requests in the window the ratio is inconclusive (unknown)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ratio_warn > self.ratio_crit:
            raise ValueError("ratio_warn must not be above ratio_crit")


class SupabaseProbeConfig(ProbeSettings):
    interval: Seconds = Seconds(60.0)
    timeout: Seconds = Seconds(10.0)
    backup_max_age: Seconds = Seconds(86400.0)
    """The newest completed backup must be younger than this."""


class PwaProbeConfig(ProbeSettings):
    interval: Seconds = Seconds(60.0)
    timeout: Seconds = Seconds(10.0)
    manifest_path: str = "/manifest.webmanifest"
    """The web app manifest route."""
    service_worker_path: str = "/service-worker.js"
    """The service worker route."""
    offline_path: str = "/offline"
    """The offline fallback route; must answer 200."""


class DeploymentsProbeConfig(ProbeSettings):
    interval: Seconds = Seconds(30.0)
    timeout: Seconds = Seconds(10.0)


DEFAULT_SECRET_KEYS = [
    "NEXT_PUBLIC_SUPABASE_URL",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY",
    "SUPABASE_SERVICE_ROLE_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "TOGETHER_API_KEY",
    "RESEND_API_KEY",
    "POSTHOG_API_KEY",
    "REDIS_URL",
]


class SecretsProbeConfig(ProbeSettings):
    interval: Seconds = Seconds(60.0)
    reference: str | None = None
    """The reference .env export (e.g. staging), relative to this file."""
    candidate: str | None = None
    """The .env export being checked (e.g. production), relative to this file."""
    keys: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_SECRET_KEYS))
    """The keys both files must hold."""
    must_differ: list[str] = msgspec.field(default_factory=lambda: [
        "NEXT_PUBLIC_SUPABASE_URL",
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "REDIS_URL",
    ])
    """Keys whose value must not be the same in both files."""


class ProbesConfig(Strict):
    health: HealthProbeConfig = msgspec.field(default_factory=HealthProbeConfig)
    """The app's /api/health."""
    redis: RedisProbeConfig = msgspec.field(default_factory=RedisProbeConfig)
    """Redis memory, clients and throughput."""
    posthog: PosthogProbeConfig = msgspec.field(default_factory=PosthogProbeConfig)
    """The PostHog failure ratio."""
    supabase: SupabaseProbeConfig = msgspec.field(default_factory=SupabaseProbeConfig)
    """Supabase backups, migrations and auth smoke."""
    pwa: PwaProbeConfig = msgspec.field(default_factory=PwaProbeConfig)
    """Manifest, service worker and offline route."""
    secrets: SecretsProbeConfig = msgspec.field(default_factory=SecretsProbeConfig)
    """Secrets parity between two .env exports."""
    deployments: DeploymentsProbeConfig = msgspec.field(
        default_factory=DeploymentsProbeConfig)
    """The hosting API's live deployment and the previous one."""


class CockpitFile(Strict, kw_only=True):
    """The whole of cockpit.toml. Environments are converted one by one (see config.py), so
    that an error names the environment it is in."""

    cockpit: CockpitSection = msgspec.field(default_factory=CockpitSection)
    """Defaults for the cockpit itself."""
    environments: Annotated[dict[str, dict[str, Any]], Meta(min_length=1)]
    """The targets, by name (production, staging, ...): EnvironmentConfig each."""
    probes: ProbesConfig = msgspec.field(default_factory=ProbesConfig)
    """Probe settings shared by every environment."""
    rollback: RollbackPlan | None = None
    """The rollback plan (`R`); overrides the runbook file's [rollback]."""
