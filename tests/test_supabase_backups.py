"""Supabase backups against a loopback stand-in of the Management API (contracts.md)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.model import Reading, Status, TargetUnavailable
from probes.supabase_backups import SupabaseBackupsProbe, parse_backup_time
from tests.support.http_stub import Serve

TOKEN = "sbp_plantedManagementToken0123456789"
REF = "abcdefghijklmnopqrst"
NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z, fixed so ages are exact



def ago(hours: float, style: str = "iso") -> object:
    at = NOW - hours * 3600
    if style == "unix":
        return at
    text = datetime.fromtimestamp(at, UTC).isoformat()
    return text.replace("+00:00", "Z") if style == "iso" else text.replace("+00:00", "")


def backups_body(*backups: dict[str, object], pitr: bool = False) -> dict[str, object]:
    return {
        "region": "eu-central-1", "walg_enabled": True, "pitr_enabled": pitr,
        "backups": list(backups),
        "physical_backup_data": {"earliest_physical_backup_date_unix": None,
                                 "latest_physical_backup_date_unix": None},
    }


def backup(id_: int, status: str, inserted_at: object) -> dict[str, object]:
    return {"id": id_, "is_physical_backup": True, "status": status, "inserted_at": inserted_at}


class FakeManagement:
    def __init__(self) -> None:
        self.status = 200
        self.body: object = backups_body()
        self.headers: dict[str, str] = {}
        self.requests: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/projects/{ref}/database/backups", self.backups)
        return app

    async def backups(self, request: web.Request) -> web.Response:
        self.requests.append(request.match_info["ref"])
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


@pytest.fixture
async def fake(serve: Serve) -> AsyncIterator[tuple[FakeManagement, SupabaseBackupsProbe]]:
    management = FakeManagement()
    url = await serve(management.app())
    env = SupabaseEnvironment(management_url=url, project_ref=REF, access_token=TOKEN)
    probe = SupabaseBackupsProbe(env, SupabaseProbeConfig(), now=lambda: NOW)
    yield management, probe
    await probe.aclose()


async def checked(probe: SupabaseBackupsProbe) -> Reading:
    reading = await probe.check()
    assert TOKEN not in repr(reading)
    assert reading.probe == "supabase_backups" and REF in reading.target
    return reading


async def unavailable(probe: SupabaseBackupsProbe) -> TargetUnavailable:
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    assert TOKEN not in str(caught.value) and "\n" not in caught.value.reason
    return caught.value


async def test_fresh_backup_is_healthy(fake) -> None:
    management, probe = fake
    management.body = backups_body(backup(2, "COMPLETED", ago(3)), backup(1, "COMPLETED", ago(27)))
    reading = await checked(probe)
    assert reading.status is Status.HEALTHY
    assert reading.summary == "newest completed backup 3h old (max 24h) · PITR off"
    assert reading.metrics == {"newest_backup_age_s": 3 * 3600.0, "backups_total": 2,
                               "backups_failed": 0}
    assert reading.details["region"] == "eu-central-1"
    assert reading.details["newest_backup_at"] == ago(3)
    assert reading.details["walg_enabled"] is True and reading.details["failed"] == []
    assert management.requests == [REF]


async def test_thirty_one_hours_old_is_unavailable(fake) -> None:
    management, probe = fake
    management.body = backups_body(backup(1, "COMPLETED", ago(31, "naive")))
    reading = await checked(probe)
    assert reading.status is Status.UNAVAILABLE
    assert reading.summary == "newest completed backup is 31h old (max 24h) · PITR off"


async def test_configured_max_age(serve: Serve) -> None:
    management = FakeManagement()
    management.body = backups_body(backup(1, "COMPLETED", ago(7, "unix")))
    url = await serve(management.app())
    env = SupabaseEnvironment(management_url=url, project_ref=REF, access_token=TOKEN)
    probe = SupabaseBackupsProbe(env, SupabaseProbeConfig(backup_max_age="6h"), now=lambda: NOW)
    reading = await probe.check()
    await probe.aclose()
    assert reading.summary == "newest completed backup is 7h old (max 6h) · PITR off"


async def test_none_completed(fake) -> None:
    management, probe = fake
    management.body = backups_body(backup(1, "PENDING", ago(1)), backup(2, "REMOVED", ago(2)))
    reading = await checked(probe)
    assert reading.status is Status.UNAVAILABLE
    assert reading.summary == "no completed backup · PITR off"
    assert reading.metrics["newest_backup_age_s"] is None


async def test_failed_backups_are_named_and_pitr_noted(fake) -> None:
    management, probe = fake
    management.body = backups_body(
        backup(41, "FAILED", ago(2)), backup(40, "COMPLETED", ago(5)),
        backup(39, "FAILED", "2025-11-22T15:00:00.123456+00:00"), pitr=True)
    reading = await checked(probe)
    assert reading.status is Status.HEALTHY
    assert reading.summary == ("newest completed backup 5h old (max 24h) · "
                               "2 failed: 41 (2025-11-24), 39 (2025-11-22) · PITR on")
    assert reading.metrics["backups_failed"] == 2
    assert reading.details["pitr_enabled"] is True
    assert reading.details["failed"] == [
        {"id": "41", "inserted_at": "2025-11-24T14:00:00Z"},
        {"id": "39", "inserted_at": "2025-11-22T15:00:00.123456Z"}]


async def test_pitr_physical_backup_counts_as_the_restore_point(fake) -> None:
    management, probe = fake
    body = backups_body(pitr=True)
    body["physical_backup_data"] = {"earliest_physical_backup_date_unix": int(NOW - 7 * 86400),
                                    "latest_physical_backup_date_unix": int(NOW - 600)}
    management.body = body
    reading = await checked(probe)
    assert reading.status is Status.HEALTHY
    assert reading.summary == "newest completed backup 10m old (max 24h) · PITR on"


async def test_token_rejected(serve: Serve) -> None:
    url = await serve(FakeManagement().app())
    env = SupabaseEnvironment(management_url=url, project_ref=REF,
                              access_token="sbp_wrongTokenPlanted")
    probe = SupabaseBackupsProbe(env, SupabaseProbeConfig(), now=lambda: NOW)
    error = await unavailable(probe)
    await probe.aclose()
    assert error.reason == "Supabase access token rejected"
    assert "sbp_wrongTokenPlanted" not in repr(error)


async def test_rate_limited_honours_reset(fake) -> None:
    management, probe = fake
    management.status = 429
    management.body = {"message": "Too many requests"}
    management.headers = {"X-RateLimit-Limit": "120", "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset": "42"}
    error = await unavailable(probe)
    assert error.reason == "Supabase Management API rate limit reached; retry in 42s"
    assert error.retry_after == 42


async def test_server_error(fake) -> None:
    management, probe = fake
    management.status = 500
    management.body = {"message": "Failed to retrieve backups\x1b[31m"}
    management.headers = {"x-request-id": "req-123"}
    error = await unavailable(probe)
    assert error.reason == "Supabase Management API answered 500: Failed to retrieve backups"
    assert error.request_id == "req-123"


async def test_body_that_is_not_json(fake) -> None:
    management, probe = fake
    management.body = "<html>maintenance</html>"
    error = await unavailable(probe)
    assert error.reason == ("Supabase Management API answered database/backups with a body "
                            "that is not JSON")


async def test_unexpected_shape(fake) -> None:
    management, probe = fake
    management.body = [1, 2, 3]
    assert (await unavailable(probe)).reason == (
        "Supabase backups answer is not the documented object")


async def test_refused() -> None:
    env = SupabaseEnvironment(management_url="http://127.0.0.1:9", project_ref=REF,
                              access_token=TOKEN)
    probe = SupabaseBackupsProbe(env, SupabaseProbeConfig())
    error = await unavailable(probe)
    assert error.reason == "Supabase Management API: connection refused"
    await probe.aclose()


# --- parse_backup_time ------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2999, 1, 1),
                       timezones=st.just(UTC))


@given(moment=moments, offset=st.integers(-12 * 60, 14 * 60))
def test_iso_with_any_zone_and_fraction(moment: datetime, offset: int) -> None:
    shifted = moment.astimezone(timezone(timedelta(minutes=offset)))
    assert parse_backup_time(shifted.isoformat()) == pytest.approx(moment.timestamp())
    naive = moment.replace(tzinfo=None).isoformat(sep=" ")
    assert parse_backup_time(naive) == pytest.approx(moment.timestamp())
    assert parse_backup_time(moment.isoformat().replace("+00:00", "Z")) == pytest.approx(
        moment.timestamp())


@given(seconds=st.floats(min_value=1e9, max_value=3e10))
def test_unix_seconds_milliseconds_and_strings(seconds: float) -> None:
    assert parse_backup_time(seconds) == pytest.approx(seconds)
    assert parse_backup_time(seconds * 1000) == pytest.approx(seconds)
    assert parse_backup_time(repr(seconds)) == pytest.approx(seconds)


@given(value=st.one_of(st.text(max_size=80), st.none(), st.booleans(), st.floats(),
                       st.lists(st.integers(), max_size=3)))
def test_anything_else_is_none_or_a_sane_time(value: object) -> None:
    result = parse_backup_time(value)
    assert result is None or (math.isfinite(result) and 9e8 < result < 3.3e10)


# --- dates from the future are never trusted ----------------------------------------------

async def test_a_backup_dated_2999_does_not_make_a_stale_set_fresh(fake) -> None:
    management, probe = fake
    management.body = backups_body(backup(1, "COMPLETED", "2020-03-01T00:00:00Z"),
                                   backup(2, "COMPLETED", "2999-01-01T00:00:00Z"))
    reading = await checked(probe)
    assert reading.status is Status.UNAVAILABLE
    assert reading.summary.startswith("newest completed backup is ")
    assert reading.summary.endswith(" · PITR off · 1 backup from the future ignored")
    assert reading.details["newest_backup_at"] == "2020-03-01T00:00:00Z"
    assert reading.details["from_the_future"] == 1


async def test_a_fresh_set_with_a_backup_from_the_future_is_degraded(fake) -> None:
    management, probe = fake
    body = backups_body(backup(1, "COMPLETED", ago(3)), backup(2, "COMPLETED", ago(-48)),
                        pitr=True)
    body["physical_backup_data"] = {"latest_physical_backup_date_unix": int(NOW + 86400)}
    management.body = body
    reading = await checked(probe)
    assert reading.status is Status.DEGRADED
    assert reading.summary == ("newest completed backup 3h old (max 24h) · PITR on · "
                               "2 backups from the future ignored")


async def test_a_backup_within_the_clock_skew_allowance_is_believed(fake) -> None:
    management, probe = fake
    management.body = backups_body(backup(1, "COMPLETED", ago(-1 / 60)))  # a minute ahead
    reading = await checked(probe)
    assert reading.status is Status.HEALTHY
    assert reading.details["from_the_future"] == 0
    assert reading.details["newest_backup_at"] == ago(-1 / 60)


async def test_a_redirect_is_reported_and_the_token_never_sent_on(serve: Serve) -> None:
    elsewhere = FakeManagement()
    other = await serve(elsewhere.app())

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{other}{request.path}")

    app = web.Application()
    app.router.add_get("/v1/projects/{ref}/database/backups", moved)
    url = await serve(app)
    env = SupabaseEnvironment(management_url=url, project_ref=REF, access_token=TOKEN)
    probe = SupabaseBackupsProbe(env, SupabaseProbeConfig(), now=lambda: NOW)
    error = await unavailable(probe)
    await probe.aclose()
    assert error.reason == (
        f"Supabase Management API answered 307: redirected to {other}/v1/projects/{REF}/"
        "database/backups, not followed (credentials are never sent on)")
    assert elsewhere.requests == []


async def test_credentials_in_the_management_url_are_never_shown() -> None:
    env = SupabaseEnvironment(management_url="http://ops:planted-mgmt-pass@127.0.0.1:9",
                              project_ref=REF, access_token=TOKEN)
    probe = SupabaseBackupsProbe(env, SupabaseProbeConfig())
    error = await unavailable(probe)
    await probe.aclose()
    assert "planted-mgmt-pass" not in probe.target + error.reason
    assert probe.target == f"Supabase project {REF} (http://ops:***@127.0.0.1:9)"
