"""The log tail panel in a small host App: every key, the states, hostile text, a flood."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual import events
from textual.app import App
from textual.widgets import Input

from ppcockpit.logs import LogBuffer, SourceState
from screens.log_lines import LogLinesView
from screens.log_tail import LogTailPanel
from tests.support.log_host import AT, SECRET, LogHost, app_line, feed, make_buffer, mixed
from tests.support.screen_text import screen_text

Host = LogHost


def panel_of(app: App[None]) -> LogTailPanel:
    return app.query_one(LogTailPanel)


def shown(app: App[None]) -> list[str]:
    return [line.raw for line in panel_of(app).view.lines]


def rows(app: App[None]) -> list[str]:
    view = panel_of(app).view
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


async def test_lines_arrive_in_columns_with_counters_in_the_title() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(160, 30)) as pilot:
        feed(buffer, [*mixed(8), b"  \xe2\x96\xb2 Next.js 14.2.15"])
        await pilot.pause()
        panel = panel_of(app)
        assert len(panel.view.lines) == 9
        assert "9 lines" not in str(panel.border_title)
        assert str(panel.border_title) == "Logs · 1.8 lines/s · 2 errors/min · ▶ following"
        text = rows(app)
        error_row = next(row for row in text if "error" in row)
        assert error_row.startswith("08:00:02.002 ✖ error /api/chat")
        assert "anthropic" in error_row and "req-0002" in error_row
        assert error_row.endswith("Coach reply 2 — rate limited")
        assert text[8].endswith("  ▲ Next.js 14.2.15")


async def test_p_pauses_counts_new_lines_and_resumes_with_all_of_them() -> None:
    buffer = make_buffer(max_lines=50)
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, mixed(10))
        await pilot.pause()
        await pilot.press("p")
        assert buffer.paused
        feed(buffer, mixed(30))
        await pilot.pause()
        panel = panel_of(app)
        assert len(panel.view.lines) == 10  # the view holds still
        assert "⏸ paused · 30 new" in str(panel.border_title)
        feed(buffer, mixed(40))  # past the 50-line buffer: counted, and said
        await pilot.pause()
        assert "⏸ paused · 70 new (20 past the buffer)" in str(panel.border_title)
        await pilot.press("p")
        await pilot.pause()
        assert not buffer.paused and len(panel.view.lines) == 50
        assert "▶ following" in str(panel.border_title)
        assert (buffer.received, buffer.dropped, len(buffer)) == (80, 30, 50)


async def test_1_to_4_set_the_level_threshold() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, [*mixed(20), b"plain banner"])
        await pilot.pause()
        panel = panel_of(app)
        levels = lambda: {line.level for line in panel.view.lines}  # noqa: E731
        await pilot.press("1")
        assert levels() == {"error"}
        assert "errors · 5 of 21 lines" in panel.border_subtitle
        await pilot.press("2")
        assert levels() == {"error", "warn"}
        await pilot.press("3")
        assert levels() == {"error", "warn", "info", None}  # a plain line counts as info
        await pilot.press("4")
        assert len(panel.view.lines) == 21 and panel.border_subtitle == ""


async def test_slash_searches_highlights_and_n_N_move_between_matches() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, mixed(12))
        await pilot.pause()
        panel = panel_of(app)
        assert not app.query("#log-search")  # mounted at the first `/`, not at start
        await pilot.press("slash")
        search = app.query_one("#log-search", Input)
        assert search.has_focus and search.has_class("-open")
        await pilot.press(*"rate limited")
        assert panel.view.pattern is not None
        await pilot.press("enter")
        assert not search.has_class("-open") and panel.view.has_focus
        assert panel.view.cursor_line is not None
        assert panel.view.cursor_line.message == "Coach reply 10"  # the newest error
        assert "/rate limited/" in panel.border_subtitle
        assert buffer.paused  # a selected line holds the view still
        highlight = panel.view.get_component_rich_style("log--match", partial=True)
        cursor_row = next(y for y in range(panel.view.size.height)
                          if "Coach reply 10" in panel.view.render_line(y).text)
        assert any(segment.style and segment.style.bgcolor == highlight.bgcolor
                   for segment in panel.view.render_line(cursor_row))
        await pilot.press("N")
        assert panel.view.cursor_line.message == "Coach reply 6"
        await pilot.press("N", "N")
        assert panel.view.cursor_line.message == "Coach reply 2"
        assert "no older match" in str(app.query_one("#log-detail").render())
        await pilot.press("n")
        assert panel.view.cursor_line.message == "Coach reply 6"


async def test_an_invalid_regex_says_so_and_keeps_the_view() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, mixed(4))
        await pilot.pause()
        await pilot.press("slash", "(", "a")
        search = app.query_one("#log-search", Input)
        assert search.has_class("-invalid")
        detail = str(app.query_one("#log-detail").render())
        assert detail.startswith("✖ invalid regex: missing ), unterminated subpattern")
        await pilot.press("enter")  # refused: the search stays open to be fixed
        assert search.has_class("-open") and len(panel_of(app).view.lines) == 4
        await pilot.press("escape")
        assert not search.has_class("-open") and panel_of(app).view.pattern is None


async def test_w_wraps_long_lines_under_their_message() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(buffer, [app_line(1, message="m" * 150), b"x" * 200])
        await pilot.pause()
        panel = panel_of(app)
        assert panel.view.virtual_size.height == 2
        await pilot.press("w")
        assert panel.view.wrap and "wrap" in panel.border_subtitle
        assert panel.view.virtual_size.height > 5
        text = rows(app)
        indent = panel.view._columns.json_indent
        assert text[1].startswith(" " * indent + "m")  # continues under the message
        assert "".join(row.strip() for row in text[:8]).count("m") >= 150
        await pilot.press("w")
        assert panel.view.virtual_size.height == 2


async def test_s_asks_the_app_to_save_the_buffer_which_writes_0600(tmp_path: Path) -> None:
    buffer = make_buffer()
    app = Host(buffer, saves=tmp_path / "saved")
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, [*mixed(3), f"token={SECRET}".encode()])
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
    (path,) = app.saved
    assert path.name == "ppcockpit-logs-production-20270115T080000Z.log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text().splitlines()
    assert len(content) == 4 and SECRET not in path.read_text()
    assert json.loads(content[0])["message"] == "Coach reply 0"


async def test_enter_on_a_line_filters_to_its_request_and_esc_clears() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        lines = mixed(6)
        lines.insert(2, app_line(99, "error", rid="req-0005", message="Retry failed"))
        feed(buffer, lines)
        await pilot.pause()
        panel = panel_of(app)
        await pilot.press("enter")
        assert "select a line first" in str(app.query_one("#log-detail").render())
        await pilot.press("up")  # the newest line: req-0005
        assert panel.view.cursor_line.request_id == "req-0005"
        assert "request req-0005" in str(app.query_one("#log-detail").render())
        await pilot.press("enter")
        assert [line.message for line in panel.view.lines] == ["Retry failed", "Coach reply 5"]
        assert "request req-0005 · 2 of 7 lines" in panel.border_subtitle
        await pilot.press("escape")
        assert len(panel.view.lines) == 7 and not panel.filter.active


async def test_the_app_filters_by_a_health_readings_request_id() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, mixed(5))
        await pilot.pause()
        panel = panel_of(app)
        panel.filter_request_id("req-0003")
        assert [line.request_id for line in panel.view.lines] == ["req-0003"]
        panel.filter_request_id("not-here")
        assert panel.view.lines == []
        assert "no line of request not-here in the last 5 lines" in str(
            app.query_one("#log-detail").render())
        feed(buffer, [app_line(7, rid="not-here")])  # it arrives later: it shows up
        await pilot.pause()
        assert [line.request_id for line in panel.view.lines] == ["not-here"]


async def test_f_filters_to_the_selected_lines_provider() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, mixed(6))
        await pilot.pause()
        panel = panel_of(app)
        await pilot.press("up", "f")
        assert {line.provider for line in panel.view.lines} == {"openai"}
        assert "provider openai" in panel.border_subtitle


async def test_a_deploy_marker_line_passes_every_filter() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        feed(buffer, mixed(3))
        panel = panel_of(app)
        panel.mark_deploy(datetime(2027, 1, 15, 8, 0, 5, tzinfo=UTC))
        feed(buffer, mixed(3))
        await pilot.pause()
        await pilot.press("1")
        assert [line.raw for line in panel.view.lines if line.marker] == [
            "──── deploy marked 08:00:05 UTC ────"]
        assert any("──── deploy marked 08:00:05 UTC ────" in row for row in rows(app))
        assert buffer.received == 6 and buffer.markers == 1


async def test_no_source_and_a_down_source_say_so() -> None:
    buffer = LogBuffer(clock=lambda: AT)
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        assert "no log source configured" in screen_text(app)
        buffer.set_state(SourceState("down", "ssh deploy@web1:22: kubectl logs", since=AT - 75,
                                     reason="connection refused", retry_at=AT + 4))
        await pilot.pause()
        state = str(app.query_one("#log-state").render())
        assert state.startswith("✖ down: ssh deploy@web1:22: kubectl logs · since ")
        assert state.endswith("(1m) · connection refused · restarting in 4s")
        assert app.query_one("#log-state").has_class("-down")
        buffer.set_state(SourceState("streaming", "ssh deploy@web1:22", since=AT))
        await pilot.pause()
        assert not app.query_one("#log-state").display


async def test_hostile_text_is_shown_literally_never_as_markup() -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=(120, 24)) as pilot:
        feed(buffer, [b"[bold]x[/] [@click=app.quit]quit[/] [link=file:///etc]l[/link]",
                      b"\x1b[31mred\x1b[0m\x1b]0;title\x07 \x00nul \xff",
                      app_line(1, message="[reverse]boom[/reverse] \\u001b[2J"),
                      f"key={SECRET}".encode()])
        await pilot.pause()
        text = rows(app)
        assert text[0].endswith("[bold]x[/] [@click=app.quit]quit[/] [link=file:///etc]l[/link]")
        assert text[1].endswith("red nul \ufffd")
        assert "[reverse]boom[/reverse] \\u001b[2J" in text[2]
        assert SECRET not in "".join(text) and "[sha256:" in text[3]
        for y in range(4):
            for segment in panel_of(app).view.render_line(y):
                assert not (segment.style and (segment.style.link or segment.style.meta))
        await pilot.click(LogLinesView, offset=(40, 0))
        assert app.is_running
        panel = panel_of(app)  # ids and patterns from outside reach the border titles too
        panel.filter_request_id("[@click=app.quit]r[/]")
        panel.filter_provider("[b]p[/b]")
        await pilot.pause()
        bottom = screen_text(app).splitlines()[-1]
        assert "provider [b]p[/b] · request [@click=app.quit]r[/]" in bottom


async def test_a_flood_is_applied_in_batches_and_loses_no_line() -> None:
    buffer = make_buffer(max_lines=2000)
    app = Host(buffer)
    async with app.run_test(size=(100, 24)) as pilot:
        panel = panel_of(app)
        panel.batch_seconds = 0.05
        redraws = 0
        original = panel._pull

        def counting_pull() -> None:
            nonlocal redraws
            redraws += 1
            original()

        panel._pull = counting_pull  # type: ignore[method-assign]
        lines = mixed(200)
        for _ in range(100):  # 20,000 lines in 100 batches, keys pressed in between
            feed(buffer, lines)
        await pilot.press("1")
        await pilot.press("4")
        await pilot.pause(0.1)
        assert redraws < 10  # batched, not one redraw per source batch
        assert buffer.received == 20_000 and buffer.dropped == 18_000
        assert len(panel.view.lines) == 2000
        assert panel.view.lines[-1].seq == buffer.next_seq - 1


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_moving_the_cursor_pauses_and_scrolling_back_pauses(
        size: tuple[int, int]) -> None:
    buffer = make_buffer()
    app = Host(buffer)
    async with app.run_test(size=size) as pilot:
        feed(buffer, mixed(100))
        await pilot.pause()
        await pilot.press("up", "up", "pageup", "end")
        assert buffer.paused
        assert panel_of(app).view.cursor_line.seq == 100
        await pilot.press("p")
        assert not buffer.paused and panel_of(app).view.cursor_line is None
        view = panel_of(app).view
        view.post_message(events.MouseScrollUp(view, 5, 2, 0, -1, 0, False, False, False))
        await pilot.pause()
        assert buffer.paused
