"""The fault menu on its own: keys pick, Escape cancels (the app wiring is the lead's)."""

from __future__ import annotations

from textual.app import App

from screens.fault_menu import FaultMenu
from themes import VARIABLE_DEFAULTS

FAULTS = [("calm", "clears every fault"), ("provider-outage", "anthropic goes down"),
          ("db-down", "503 with details")]


class Host(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    def __init__(self) -> None:
        super().__init__()
        self.picked: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(FaultMenu(FAULTS), self.picked.append)


async def test_j_k_and_arrows_move_and_enter_picks() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("j", "j", "k", "down", "enter")
        await pilot.pause()
    assert app.picked == ["db-down"]


async def test_enter_on_the_first_item_picks_calm() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
    assert app.picked == ["calm"]


async def test_escape_dismisses_with_none() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, FaultMenu)
        assert "REHEARSAL DRILL" in str(app.screen.query_one("#fault-menu-title").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FaultMenu)
    assert app.picked == [None]


async def test_every_real_fault_is_in_view_at_80x24_and_wraps_under_itself() -> None:
    from ppcockpit.rehearsal.scenarios import SCENARIOS
    from tests.support.screen_text import screen_text

    class Real(App[None]):
        def get_theme_variable_defaults(self) -> dict[str, str]:
            return VARIABLE_DEFAULTS

        def on_mount(self) -> None:
            self.push_screen(FaultMenu([(s.name, s.description) for s in SCENARIOS]))

    app = Real()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        for scenario in SCENARIOS:
            assert scenario.name in shown, scenario.name
        # A wrapped description starts under its own first line, not under the names.
        lines = [line for line in shown.splitlines() if "│" in line]
        continued = [line for line in lines if line.strip("│ ").startswith(("the ", "a "))]
        assert not continued
