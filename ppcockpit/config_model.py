"""The typed shape of cockpit.toml. Every key has a docstring; unknown keys are rejected."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ppcockpit.durations import parse_duration


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('expected a duration string such as "500ms", "5s", "15m" or "24h"')
    return parse_duration(value)


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("expected a duration greater than zero")
    return value


Duration = Annotated[float, BeforeValidator(_duration), AfterValidator(_positive)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {value[:40]!r}")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CockpitSection(Strict):
    environment: str | None = None
    """The environment opened when --env is not given (default: the first one)."""
    operator: str | None = None
    """Who is at the keyboard; shown in the header (default: $USER)."""
    theme: str = "dark"
    """The theme at start: dark, light or high-contrast."""
    history: int = Field(default=120, ge=10, le=10_000)
    """How many readings the memory history keeps."""


class PosthogEnvironment(Strict):
    host: HttpUrl = "https://us.posthog.com"
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
    management_url: HttpUrl = "https://api.supabase.com"
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
    redis_url: str | None = None
    """redis://, rediss:// or unix:// URL of the app's Redis; passwords via ${VAR}."""
    posthog: PosthogEnvironment | None = None
    """PostHog project for the failure ratio and deploy annotations."""
    supabase: SupabaseEnvironment | None = None
    """Supabase project for backups, migrations and the auth smoke."""

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value


class ProbeSettings(Strict):
    enabled: bool = True
    """Set false to leave this probe out entirely."""
    interval: Duration = 5.0
    """How often the probe runs."""
    timeout: Duration = 3.0
    """How long one run may take before it counts as unavailable."""

    @model_validator(mode="after")
    def _timeout_fits(self) -> ProbeSettings:
        if self.timeout > self.interval:
            raise ValueError("timeout must not be longer than interval")
        return self


class HealthProbeConfig(ProbeSettings):
    path: str = "/api/health"
    """The health route, appended to base_url."""
    unavailable_after: int = Field(default=2, ge=0, le=100)
    """A provider alerts when unavailable for more than this many consecutive checks."""
    ignore_providers: list[str] = []
    """Provider ids that never count against go/no-go."""
    max_body: int = Field(default=1_048_576, ge=1024)
    """Bodies larger than this many bytes are not read."""


class RedisProbeConfig(ProbeSettings):
    memory_warn: Ratio = 0.75
    """Used memory over this share of maxmemory is degraded."""
    memory_crit: Ratio = 0.90
    """Used memory over this share of maxmemory is critical (unavailable)."""

    @model_validator(mode="after")
    def _ordered(self) -> RedisProbeConfig:
        if self.memory_warn > self.memory_crit:
            raise ValueError("memory_warn must not be above memory_crit")
        return self


class PosthogProbeConfig(ProbeSettings):
    interval: Duration = 60.0
    timeout: Duration = 15.0
    success_event: str = "i_chat_completed"
    """The event counted as a successful request."""
    failure_event: str = "i_request_failed"
    """The event counted as a failed request."""
    window: Duration = 900.0
    """The window the ratio is computed over (the team's rule: 15 minutes)."""
    ratio_warn: Ratio = 0.02
    """Failure ratio above this is degraded."""
    ratio_crit: Ratio = 0.05
    """Failure ratio above this is critical (unavailable)."""
    min_requests: int = Field(default=20, ge=0)
    """Below this many requests in the window the ratio is inconclusive (unknown)."""

    @model_validator(mode="after")
    def _ordered(self) -> PosthogProbeConfig:
        if self.ratio_warn > self.ratio_crit:
            raise ValueError("ratio_warn must not be above ratio_crit")
        return self


class SupabaseProbeConfig(ProbeSettings):
    interval: Duration = 60.0
    timeout: Duration = 10.0
    backup_max_age: Duration = 86400.0
    """The newest completed backup must be younger than this."""


class PwaProbeConfig(ProbeSettings):
    interval: Duration = 60.0
    timeout: Duration = 10.0
    manifest_path: str = "/manifest.webmanifest"
    """The web app manifest route."""
    service_worker_path: str = "/service-worker.js"
    """The service worker route."""
    offline_path: str = "/offline"
    """The offline fallback route; must answer 200."""


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
    interval: Duration = 60.0
    reference: str | None = None
    """The reference .env export (e.g. staging), relative to this file."""
    candidate: str | None = None
    """The .env export being checked (e.g. production), relative to this file."""
    keys: list[str] = DEFAULT_SECRET_KEYS
    """The keys both files must hold."""
    must_differ: list[str] = [
        "NEXT_PUBLIC_SUPABASE_URL",
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "REDIS_URL",
    ]
    """Keys whose value must not be the same in both files."""


class ProbesConfig(Strict):
    health: HealthProbeConfig = HealthProbeConfig()
    """The app's /api/health."""
    redis: RedisProbeConfig = RedisProbeConfig()
    """Redis memory, clients and throughput."""
    posthog: PosthogProbeConfig = PosthogProbeConfig()
    """The PostHog failure ratio."""
    supabase: SupabaseProbeConfig = SupabaseProbeConfig()
    """Supabase backups, migrations and auth smoke."""
    pwa: PwaProbeConfig = PwaProbeConfig()
    """Manifest, service worker and offline route."""
    secrets: SecretsProbeConfig = SecretsProbeConfig()
    """Secrets parity between two .env exports."""


class CockpitFile(Strict):
    """The whole of cockpit.toml."""

    cockpit: CockpitSection = CockpitSection()
    """Defaults for the cockpit itself."""
    environments: dict[str, EnvironmentConfig] = Field(min_length=1)
    """The targets, by name (production, staging, ...)."""
    probes: ProbesConfig = ProbesConfig()
    """Probe settings shared by every environment."""
