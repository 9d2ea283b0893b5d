"""The rehearsal's dummy credentials. Literals on purpose: nothing here opens anything real."""

from __future__ import annotations

import base64
import json


def fake_jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.cmVoZWFyc2FsLW9ubHk"


POSTHOG_PROJECT_ID = "4242"
POSTHOG_STAGING_PROJECT_ID = "4243"  # staging's own project, same organisation and key
POSTHOG_API_KEY = "phx_rehearsal0personal0api0key0000000000"
POSTHOG_CAPTURE_KEY = "phc_rehearsal0project0api0key000000000000"

SUPABASE_PROJECT_REF = "rehearsalppcockpit00"  # 20 characters, like a real ref
SUPABASE_ANON_KEY = fake_jwt({"iss": "supabase", "ref": SUPABASE_PROJECT_REF,
                               "role": "anon", "iat": 1700000000, "exp": 4100000000})
SUPABASE_ACCESS_TOKEN = "sbp_rehearsal0000000000000000000000000000"
TEST_USER_EMAIL = "oncall@rehearsal.pocketphilosopher.test"
TEST_USER_PASSWORD = "fire-drill-password"
TEST_USER_ID = "7d6c1f2e-5b4a-4c3d-9e8f-0a1b2c3d4e5f"

VERCEL_TOKEN = "vercel_rehearsal_token_000000000000"
VERCEL_PROJECT_ID = "prj_rehearsal0pocketphilosopher"
VERCEL_PROJECT_NAME = "pocket-philosopher"
VERCEL_TEAM_ID = "team_rehearsal"
VERCEL_STAGING_TARGET = "staging"  # a custom environment of the same Vercel project

# The incoming webhook's path is its secret, as Slack's is (/services/T…/B…/<token>).
WEBHOOK_TOKEN = "rehearsal0webhook0token0000000000"
WEBHOOK_PATH = f"/services/T0REHEARSAL/B0ROLLBACK/{WEBHOOK_TOKEN}"


def as_dict() -> dict[str, str]:
    """What a client of the stack needs beyond the generated cockpit.toml."""
    return {
        "vercel_token": VERCEL_TOKEN,
        "vercel_project_id": VERCEL_PROJECT_ID,
        "vercel_project_name": VERCEL_PROJECT_NAME,
        "posthog_project_id": POSTHOG_PROJECT_ID,
        "posthog_staging_project_id": POSTHOG_STAGING_PROJECT_ID,
        "posthog_api_key": POSTHOG_API_KEY,
        "posthog_capture_key": POSTHOG_CAPTURE_KEY,
        "supabase_anon_key": SUPABASE_ANON_KEY,
        "supabase_project_ref": SUPABASE_PROJECT_REF,
        "supabase_access_token": SUPABASE_ACCESS_TOKEN,
        "test_user_email": TEST_USER_EMAIL,
        "test_user_password": TEST_USER_PASSWORD,
    }
