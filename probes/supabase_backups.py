"""Supabase backups (runbook 2.3): the newest completed backup must be recent."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.durations import format_duration
from ppcockpit.model import Reading, Status, TargetUnavailable, worst
from ppcockpit.text import one_line
from probes.clock import from_the_future, future_note
from probes.http_client import warm_up
from probes.supabase_management import ManagementClient

MAX_FAILED_LISTED = 10
_MIN_EPOCH = 946_684_800.0  # 2000-01-01: anything earlier is not a backup date
_MAX_EPOCH = 32_503_680_000.0  # year 3000


def parse_backup_time(value: object) -> float | None:
    """Unix seconds of an `inserted_at` (format unconfirmed), or None when unreadable.

    Accepts ISO-8601 with or without zone and fractions (naive means UTC), a unix number
    in seconds or milliseconds, or such a number as a string.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch(float(value))
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = value.strip()
    try:
        return _epoch(float(text))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _epoch(number: float) -> float | None:
    if not math.isfinite(number):
        return None
    if number > _MAX_EPOCH:  # milliseconds
        number /= 1000
    return number if _MIN_EPOCH <= number <= _MAX_EPOCH else None


def age_text(seconds: float) -> str:
    """Backup ages read in hours, as the runbook's 24-hour rule does: "31h", "45m"."""
    if seconds < 3600:
        return format_duration(seconds)
    return f"{int(seconds // 3600)}h"


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class BackupSummary:
    total: int
    newest_completed_at: float | None
    failed: list[dict[str, Any]]  # newest first, bounded
    failed_count: int
    pitr_enabled: bool
    walg_enabled: bool
    region: str | None
    latest_physical_at: float | None
    future: int = 0  # dates later than `now` (plus the clock-skew allowance): ignored


def summarize_backups(data: object, now: float) -> BackupSummary:
    """Reduce the backups answer to what the probe judges; TargetUnavailable on a bad shape.

    A completed backup (or a physical restore point) dated after `now`, beyond the clock-skew
    allowance, is from the future: it is counted in `future`, never taken as the newest."""
    if not isinstance(data, dict) or not isinstance(data.get("backups", []), list):
        raise TargetUnavailable("Supabase backups answer is not the documented object")
    backups = [b for b in data.get("backups") or [] if isinstance(b, dict)]
    completed: list[float] = []
    failed: list[tuple[float, dict[str, Any]]] = []
    future = 0
    for backup in backups:
        status = one_line(backup.get("status", ""), limit=20).upper()
        at = parse_backup_time(backup.get("inserted_at"))
        if status == "COMPLETED" and at is not None:
            if from_the_future(at, now):
                future += 1
            else:
                completed.append(at)
        elif status == "FAILED":
            failed.append((at or 0.0, {
                "id": one_line(backup.get("id", "?"), limit=40),
                "inserted_at": iso(at) if at is not None else None,
            }))
    failed.sort(key=lambda item: item[0], reverse=True)
    physical = data.get("physical_backup_data")
    latest_physical = (parse_backup_time(physical.get("latest_physical_backup_date_unix"))
                       if isinstance(physical, dict) else None)
    if latest_physical is not None and from_the_future(latest_physical, now):
        latest_physical = None
        future += 1
    region = data.get("region")
    return BackupSummary(
        total=len(backups),
        newest_completed_at=max(completed, default=None),
        failed=[entry for _, entry in failed[:MAX_FAILED_LISTED]],
        failed_count=len(failed),
        pitr_enabled=data.get("pitr_enabled") is True,
        walg_enabled=data.get("walg_enabled") is True,
        region=one_line(region, limit=40) if isinstance(region, str) else None,
        latest_physical_at=latest_physical,
        future=future,
    )


def _failed_text(summary: BackupSummary) -> str:
    named = ", ".join(
        f"{entry['id']} ({(entry['inserted_at'] or 'date unknown')[:10]})"
        for entry in summary.failed[:3]
    )
    more = summary.failed_count - min(3, len(summary.failed))
    return f"{summary.failed_count} failed: {named}" + (f" +{more} more" if more > 0 else "")


class SupabaseBackupsProbe:
    """Judges `GET /v1/projects/{ref}/database/backups` against `backup_max_age`."""

    name = "supabase_backups"

    def __init__(self, env: SupabaseEnvironment, settings: SupabaseProbeConfig, *,
                 now: Callable[[], float] = time.time) -> None:
        self._api = ManagementClient(env, timeout=settings.timeout, now=now)
        self._now = now
        self.max_age = settings.backup_max_age
        self.interval = settings.interval
        self.timeout = settings.timeout
        self.target = self._api.target

    async def check(self, deadline: float | None = None) -> Reading:
        answer = await self._api.get_project_json("database/backups")
        now = self._now()
        summary = summarize_backups(answer, now)
        newest = summary.newest_completed_at
        # With PITR the physical (WAL-G) backup is the restore point; count it when newer.
        if summary.pitr_enabled and summary.latest_physical_at is not None:
            newest = max(newest or 0.0, summary.latest_physical_at)
        age = max(0.0, now - newest) if newest is not None else None
        limit = age_text(self.max_age)
        if age is None:
            status, head = Status.UNAVAILABLE, "no completed backup"
        elif age >= self.max_age:
            status = Status.UNAVAILABLE
            head = f"newest completed backup is {age_text(age)} old (max {limit})"
        else:
            status = Status.HEALTHY
            head = f"newest completed backup {age_text(age)} old (max {limit})"
        parts = [head]
        if summary.failed_count:
            parts.append(_failed_text(summary))
        parts.append("PITR on" if summary.pitr_enabled else "PITR off")
        if summary.future:
            # A date from the future means the list (or its clock) cannot be trusted whole.
            status = worst([status, Status.DEGRADED])
            parts.append(future_note(summary.future, "backup"))
        return Reading(
            probe=self.name,
            target=self.target,
            status=status,
            summary=" · ".join(parts),
            metrics={
                "newest_backup_age_s": round(age, 1) if age is not None else None,
                "backups_total": summary.total,
                "backups_failed": summary.failed_count,
            },
            details={
                "pitr_enabled": summary.pitr_enabled,
                "walg_enabled": summary.walg_enabled,
                "region": summary.region,
                "newest_backup_at": iso(newest) if newest is not None else None,
                "latest_physical_backup_at": (iso(summary.latest_physical_at)
                                              if summary.latest_physical_at else None),
                "failed": summary.failed,
                "from_the_future": summary.future,
            },
        )

    async def prepare(self) -> None:
        """Imports and the TLS context, off the loop, before the first timed check."""
        await warm_up()

    async def aclose(self) -> None:
        await self._api.aclose()
