"""Supabase migrations: what the Management API says is applied, against the app's folder."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, Row, Status, TargetUnavailable
from ppcockpit.text import one_line
from probes.clock import from_the_future
from probes.http_client import warm_up
from probes.supabase_management import ManagementClient

MAX_LISTED = 20  # pending / unknown names kept in details and rows
MAX_FOLDER_ENTRIES = 20_000
_MIGRATION_FILE = re.compile(r"^(\d{14})_([^/\\]+)\.sql$")


@dataclass(frozen=True, slots=True, order=True)
class Migration:
    version: str
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}" if self.name else self.version


def parse_migration_filename(filename: str) -> Migration | None:
    """`20251001115253_initial_schema.sql` → Migration; None for any other file name."""
    match = _MIGRATION_FILE.match(filename)
    return Migration(match.group(1), match.group(2)) if match else None


def version_time(version: str) -> float | None:
    """The unix time a `YYYYMMDDHHMMSS` version names (UTC); None for any other version."""
    if len(version) != 14 or not version.isdigit():
        return None
    try:
        return datetime.strptime(version, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def dated_in_the_future(migrations: list[Migration], now: float) -> list[Migration]:
    """Migrations whose version is a time later than `now` (beyond the clock-skew allowance):
    no one wrote them yet, so the list that holds them is not to be believed whole."""
    return [m for m in migrations
            if (at := version_time(m.version)) is not None and from_the_future(at, now)]


def parse_applied(data: object) -> list[Migration]:
    """The Management API's `[{"version", "name"?}]`, sorted; TargetUnavailable on a bad shape."""
    if not isinstance(data, list):
        raise TargetUnavailable("Supabase migrations answer is not the documented list")
    applied: dict[str, Migration] = {}
    for item in data:
        if not isinstance(item, dict):
            continue
        version = item.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)
        if not isinstance(version, str) or not version.strip():
            continue
        name = item.get("name")
        clean_name = one_line(name, limit=80) if isinstance(name, str) else ""
        version = one_line(version, limit=40)
        applied[version] = Migration(version, clean_name)
    return sorted(applied.values())


def read_migrations_folder(folder: Path) -> list[Migration]:
    """Migration files in `folder`, sorted (blocking disk I/O: call in a thread)."""
    if not folder.is_dir():
        raise ProbeMisconfigured(f"migrations folder not found: {folder}")
    found: list[Migration] = []
    with os.scandir(folder) as entries:
        for index, entry in enumerate(entries):
            if index >= MAX_FOLDER_ENTRIES:
                break
            migration = parse_migration_filename(entry.name)
            if migration is not None and entry.is_file():
                found.append(migration)
    return sorted(found)


def _listed(count: int, migrations: list[Migration], what: str) -> str:
    if count == 1:
        return f"1 {what}: {migrations[-1].label}"
    return f"{count} {what}, newest {migrations[-1].label}"


class SupabaseMigrationsProbe:
    """Applied, pending (in the folder, not applied) and unknown (applied, not in the folder)."""

    name = "supabase_migrations"

    def __init__(self, env: SupabaseEnvironment, settings: SupabaseProbeConfig, *,
                 migrations_dir: Path | None, now: Callable[[], float] = time.time) -> None:
        self._api = ManagementClient(env, timeout=settings.timeout)
        self._now = now
        self.migrations_dir = migrations_dir
        self.interval = settings.interval
        self.timeout = settings.timeout
        self.target = self._api.target

    async def check(self, deadline: float | None = None) -> Reading:
        local: list[Migration] | None = None
        if self.migrations_dir is not None:
            local = await asyncio.to_thread(read_migrations_folder, self.migrations_dir)
        applied = parse_applied(await self._api.get_project_json("database/migrations"))
        applied_versions = {m.version for m in applied}
        if local is None:
            pending: list[Migration] = []
            unknown: list[Migration] = []
        else:
            local_versions = {m.version for m in local}
            pending = [m for m in local if m.version not in applied_versions]
            unknown = [m for m in applied if m.version not in local_versions]

        # A version dated in the future is listed, never taken as the newest applied.
        future = dated_in_the_future(applied, self._now())
        believed = [m for m in applied if m not in future]
        parts = [f"{len(applied)} applied, newest {believed[-1].label}" if believed
                 else f"{len(applied)} applied" if applied else "no migrations applied"]
        if pending:
            parts.append(_listed(len(pending), pending, "pending"))
        if unknown:
            parts.append(_listed(len(unknown), unknown, "unknown (applied, not in the folder)"))
        if local is not None and not pending and not unknown:
            parts.append(f"all {len(local)} local migrations applied")
        elif local and not pending and (not believed
                                        or local[-1].version != believed[-1].version):
            parts.append(f"newest local {local[-1].label}")
        if future:
            parts.append(_listed(len(future), future, "dated in the future"))
        status = Status.DEGRADED if pending or unknown or future else Status.HEALTHY

        rows = tuple(
            [Row(key=m.version, label=m.label, status=Status.DEGRADED,
                 message="pending: in the folder, not applied") for m in pending[-MAX_LISTED:]]
            + [Row(key=m.version, label=m.label, status=Status.DEGRADED,
                   message="unknown: applied, not in the folder") for m in unknown[-MAX_LISTED:]]
        )
        return Reading(
            probe=self.name,
            target=self.target,
            status=status,
            summary=" · ".join(parts),
            metrics={
                "applied": len(applied),
                "pending": len(pending),
                "unknown": len(unknown),
                "local": len(local) if local is not None else None,
            },
            details={
                "newest_applied": believed[-1].label if believed else None,
                "newest_local": local[-1].label if local else None,
                "pending": [m.label for m in pending[-MAX_LISTED:]],
                "unknown": [m.label for m in unknown[-MAX_LISTED:]],
                "from_the_future": [m.label for m in future[-MAX_LISTED:]],
                "migrations_dir": str(self.migrations_dir) if self.migrations_dir else None,
            },
            rows=rows,
        )

    async def prepare(self) -> None:
        """Imports and the TLS context, off the loop, before the first timed check."""
        await warm_up()

    async def aclose(self) -> None:
        await self._api.aclose()
