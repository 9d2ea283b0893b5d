"""SVG snapshots of the log tail panel with logs flowing, at 80x24 and 160x48 (fixed clock
and lines; review before --snapshot-update)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.log_host import LogHost, app_line, feed, make_buffer, mixed

SIZES = [(80, 24), (160, 48)]


def flowing() -> LogHost:
    buffer = make_buffer()
    lines = mixed(30)
    lines[12:12] = [b"ProviderError: rate limited",
                    b"    at async POST (/var/task/.next/server/app/api/chat/route.js:1:4821)"]
    feed(buffer, lines)
    buffer.mark_deploy(datetime(2027, 1, 15, 8, 0, 31, tzinfo=UTC))
    feed(buffer, [app_line(31, "warn", "openai", message="Provider health degraded"),
                  b"[bold]not markup[/] \x1b[31mnot red\x1b[0m " + b"y" * 300,
                  app_line(32, "error", "openai")])
    return LogHost(buffer)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_log_tail_following(snap_compare, size: tuple[int, int]) -> None:
    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()

    assert snap_compare(flowing(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_log_tail_errors_searched_and_selected(snap_compare, size: tuple[int, int]) -> None:
    async def search(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.press("2", "slash", *"rate", "enter")
        await pilot.pause()

    assert snap_compare(flowing(), terminal_size=size, run_before=search)
