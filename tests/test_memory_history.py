"""The Redis memory history is drawn against 0–100% of maxmemory, never auto-scaled."""

from __future__ import annotations

from textual.app import App, ComposeResult

from screens.redis_panel import MemoryHistory
from themes import VARIABLE_DEFAULTS


class Host(App):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    CSS = """
    MemoryHistory { width: 10; height: 2; }
    MemoryHistory > .bar--ok { color: green; }
    MemoryHistory > .bar--warn { color: yellow; }
    MemoryHistory > .bar--crit { color: red; }
    """

    def compose(self) -> ComposeResult:
        yield MemoryHistory()


async def drawn(samples: tuple[float, ...]) -> list[str]:
    app = Host()
    async with app.run_test(size=(20, 4)) as pilot:
        history = app.query_one(MemoryHistory)
        history.samples = samples
        await pilot.pause()
        return str(history.render()).split("\n")


async def test_a_flat_line_stays_flat_at_its_level() -> None:
    rows = await drawn((0.41, 0.411, 0.409, 0.41))
    # 41% of 16 levels is 7: an empty top row, seven eighths on the bottom row
    assert rows == [" " * 10, " " * 6 + "▇▇▇▇"]


async def test_one_sample_is_not_a_full_bar() -> None:
    rows = await drawn((0.25,))
    assert rows == [" " * 10, " " * 9 + "▄"]


async def test_full_and_empty_and_newest_on_the_right() -> None:
    rows = await drawn(tuple([0.0] * 12 + [1.0, 0.001]))
    assert rows == ["        █ ", "        █▁"]  # the last ten samples; any use shows


async def test_zones_follow_the_thresholds() -> None:
    app = Host()
    async with app.run_test(size=(20, 4)) as pilot:
        history = app.query_one(MemoryHistory)
        history.samples = (0.5, 0.8, 0.95)
        await pilot.pause()
        bottom = history.render().split("\n")[-1]
        colors = [bottom[i:i + 1].get_style_at_offset(app.console, 0).color.name
                  for i in range(7, 10)]
        assert colors == ["#008000", "#ffff00", "#ff0000"]
