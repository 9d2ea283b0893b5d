"""Supabase migrations: the Management API's applied list against a local folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, Status, TargetUnavailable
from probes.supabase_migrations import (
    Migration,
    SupabaseMigrationsProbe,
    parse_applied,
    parse_migration_filename,
    version_time,
)

TOKEN = "sbp_plantedMigrationsToken0123456789"
REF = "abcdefghijklmnopqrst"
APPLIED = [
    {"version": "20250901080000", "name": "extensions"},
    {"version": "20251001115253", "name": "initial_schema"},
]
LOCAL = ["20250901080000_extensions.sql", "20251001115253_initial_schema.sql"]

MakeProbe = Callable[..., Awaitable[SupabaseMigrationsProbe]]


class FakeManagement:
    def __init__(self) -> None:
        self.body: object = APPLIED
        self.status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"/v1/projects/{REF}/database/migrations", self.migrations)
        return app

    async def migrations(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response(self.body, status=self.status)


@pytest.fixture
async def management() -> AsyncIterator[tuple[FakeManagement, str]]:
    fake = FakeManagement()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def make_probe(management, tmp_path: Path) -> AsyncIterator[MakeProbe]:
    _, url = management
    probes: list[SupabaseMigrationsProbe] = []

    async def make(files: list[str] | None = LOCAL) -> SupabaseMigrationsProbe:
        folder: Path | None = None
        if files is not None:
            folder = tmp_path / "supabase" / "migrations"
            folder.mkdir(parents=True, exist_ok=True)
            for name in files:
                (folder / name).write_text("-- sql\n")
        env = SupabaseEnvironment(management_url=url, project_ref=REF, access_token=TOKEN)
        probe = SupabaseMigrationsProbe(env, SupabaseProbeConfig(), migrations_dir=folder)
        probes.append(probe)
        return probe

    yield make
    for probe in probes:
        await probe.aclose()


async def checked(probe: SupabaseMigrationsProbe) -> Reading:
    reading = await probe.check()
    assert reading.probe == "supabase_migrations"
    assert TOKEN not in repr(reading)
    return reading


async def test_all_applied_is_healthy(make_probe: MakeProbe) -> None:
    reading = await checked(await make_probe([*LOCAL, "README.md", "seed.sql"]))
    assert reading.status is Status.HEALTHY
    assert reading.summary == ("2 applied, newest 20251001115253_initial_schema · "
                               "all 2 local migrations applied")
    assert reading.metrics == {"applied": 2, "pending": 0, "unknown": 0, "local": 2}
    assert reading.details["pending"] == [] and reading.details["unknown"] == []
    assert reading.details["newest_local"] == "20251001115253_initial_schema"
    assert reading.rows == ()


async def test_pending_migration_is_degraded(make_probe: MakeProbe) -> None:
    probe = await make_probe([*LOCAL, "20251120093000_add_streaks.sql"])
    reading = await checked(probe)
    assert reading.status is Status.DEGRADED
    assert reading.summary == ("2 applied, newest 20251001115253_initial_schema · "
                               "1 pending: 20251120093000_add_streaks")
    assert reading.metrics["pending"] == 1
    assert reading.details["pending"] == ["20251120093000_add_streaks"]
    assert [(r.key, r.status, r.message) for r in reading.rows] == [
        ("20251120093000", Status.DEGRADED, "pending: in the folder, not applied")]


async def test_several_pending_name_the_newest(make_probe: MakeProbe) -> None:
    probe = await make_probe([*LOCAL, "20251120093000_add_streaks.sql",
                                        "20251121093000_add_badges.sql"])
    reading = await checked(probe)
    assert reading.summary.endswith("2 pending, newest 20251121093000_add_badges")


async def test_unknown_applied_migration_is_degraded(management, make_probe: MakeProbe) -> None:
    fake, _ = management
    fake.body = [*APPLIED, {"version": "20251115000000"}]  # name is optional
    reading = await checked(await make_probe())
    assert reading.status is Status.DEGRADED
    assert reading.summary == ("3 applied, newest 20251115000000 · "
                               "1 unknown (applied, not in the folder): 20251115000000 · "
                               "newest local 20251001115253_initial_schema")
    assert reading.metrics["unknown"] == 1
    assert reading.rows[0].message == "unknown: applied, not in the folder"


async def test_without_a_folder_lists_the_newest_applied(make_probe: MakeProbe) -> None:
    reading = await checked(await make_probe(None))
    assert reading.status is Status.HEALTHY
    assert reading.summary == "2 applied, newest 20251001115253_initial_schema"
    assert reading.metrics["local"] is None


async def test_missing_folder_is_a_misconfiguration(management, tmp_path: Path) -> None:
    _, url = management
    env = SupabaseEnvironment(management_url=url, project_ref=REF, access_token=TOKEN)
    missing = tmp_path / "nope" / "migrations"
    probe = SupabaseMigrationsProbe(env, SupabaseProbeConfig(), migrations_dir=missing)
    with pytest.raises(ProbeMisconfigured) as caught:
        await probe.check()
    assert str(caught.value) == f"migrations folder not found: {missing}"
    await probe.aclose()


async def test_bad_answer_shape(management, make_probe: MakeProbe) -> None:
    fake, _ = management
    fake.body = {"message": "not a list"}
    with pytest.raises(TargetUnavailable, match="not the documented list"):
        await (await make_probe()).check()


async def test_server_error(management, make_probe: MakeProbe) -> None:
    fake, _ = management
    fake.status, fake.body = 503, {"message": "Service Unavailable"}
    with pytest.raises(TargetUnavailable) as caught:
        await (await make_probe()).check()
    assert caught.value.reason == "Supabase Management API answered 503: Service Unavailable"


# --- parsers ----------------------------------------------------------------------------

versions = st.from_regex(r"\A[0-9]{14}\Z")
names = st.from_regex(r"\A[a-z0-9_]{1,40}\Z")


@given(version=versions, name=names)
def test_migration_file_names_round_trip(version: str, name: str) -> None:
    assert parse_migration_filename(f"{version}_{name}.sql") == Migration(version, name)
    assert parse_migration_filename(f"{version}_{name}.sql").label == f"{version}_{name}"


@given(filename=st.text(max_size=60))
def test_other_file_names_are_ignored_or_well_formed(filename: str) -> None:
    parsed = parse_migration_filename(filename)
    if parsed is not None:
        assert len(parsed.version) == 14 and parsed.version.isdigit()
        assert filename == f"{parsed.version}_{parsed.name}.sql"


@given(data=st.lists(st.one_of(
    st.fixed_dictionaries({"version": versions}, optional={"name": st.text(max_size=20)}),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.integers(), st.none()), max_size=20))
def test_applied_list_parses_tolerantly(data: list[object]) -> None:
    applied = parse_applied(data)
    assert applied == sorted(applied)
    assert len({m.version for m in applied}) == len(applied)
    assert all("\n" not in m.name for m in applied)


async def test_a_version_dated_in_the_future_is_never_the_newest(management,
                                                                 make_probe: MakeProbe) -> None:
    fake, _ = management
    fake.body = [*APPLIED, {"version": "29990101000000", "name": "from_the_future"}]
    reading = await checked(await make_probe(None))  # no folder: nothing else would flag it
    assert reading.status is Status.DEGRADED
    assert reading.summary == ("3 applied, newest 20251001115253_initial_schema · "
                               "1 dated in the future: 29990101000000_from_the_future")
    assert reading.details["newest_applied"] == "20251001115253_initial_schema"
    assert reading.details["from_the_future"] == ["29990101000000_from_the_future"]


def test_version_time() -> None:
    assert version_time("20251001115253") == 1759319573.0
    for other in ("2025100111525", "20251301000000", "abc", "202510011152530", ""):
        assert version_time(other) is None
