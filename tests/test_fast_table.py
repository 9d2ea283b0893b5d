"""The cockpit's table: a header, the free column taking the room left, a cursor that keys,
clicks and fresh rows move (or keep) as an operator expects, outside text never markup."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult

from screens.fast_table import FastTable
from tests.support.screen_text import screen_text

COLUMNS = (("name", 8), ("state", 6), ("detail", None))


def rows(*names: str) -> list[tuple[str, tuple[str, str, str]]]:
    return [(name, (name, "ok", f"{name} detail")) for name in names]


class Table(App[None]):
    def __init__(self, shown: list, height: int = 12) -> None:
        super().__init__()
        self.shown = shown
        self.height = height
        self.messages: list[FastTable.RowHighlighted | FastTable.RowSelected] = []

    def compose(self) -> ComposeResult:
        table = FastTable(COLUMNS, id="t")
        table.styles.max_height = self.height
        yield table

    def on_mount(self) -> None:
        self.table.show_rows(self.shown)
        self.table.focus()

    @property
    def table(self) -> FastTable:
        return self.query_one(FastTable)

    def on_fast_table_row_highlighted(self, event: FastTable.RowHighlighted) -> None:
        self.messages.append(event)

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        self.messages.append(event)


def said(app: Table) -> list[tuple[str, str]]:
    return [(type(m).__name__, m.row_key) for m in app.messages]


def line(table: FastTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


async def test_header_and_the_free_column_takes_the_room_left() -> None:
    app = Table(rows("a", "b"))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        header = line(app.table, 0)
        assert len(header) == 40
        # Padding of one cell either side of every column: 10 + 8 + the rest (22).
        assert header.index("state") == 11 and header.index("detail") == 19
        assert line(app.table, 1).startswith(" a" + " " * 9 + "ok" + " " * 6 + "a detail")
        assert len(line(app.table, 1)) == 40


async def test_a_long_cell_is_cut_with_an_ellipsis_and_a_line_break_is_a_space() -> None:
    app = Table([("a", ("a", "ok", "x" * 60)), ("b", ("b\nc", "ok", "two\nlines"))])
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        assert line(app.table, 1).rstrip().endswith("x…")
        assert "b c" in line(app.table, 2) and "two lines" in line(app.table, 2)


async def test_outside_text_is_never_markup() -> None:
    app = Table([("k", ("[b]x[/]", "[/]", "[red]boom"))])
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        assert "[b]x[/]" in shown and "[/]" in shown and "[red]boom" in shown


async def test_keys_move_the_cursor_and_enter_selects() -> None:
    app = Table(rows(*"abcdefghijklmnopqrst"), height=6)  # 5 rows under the header
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        table = app.table
        await pilot.press("down", "down")
        assert table.cursor_key == "c"
        await pilot.press("up")
        assert table.cursor_key == "b"
        await pilot.press("end")
        assert table.cursor_key == "t"
        assert table.scroll_offset.y == 20 - 5  # the cursor row in sight
        await pilot.press("home")
        assert table.cursor_key == "a" and table.scroll_offset.y == 0
        await pilot.press("pagedown")
        assert table.cursor_row == 5
        await pilot.press("pageup")
        assert table.cursor_row == 0
        await pilot.press("up")  # at the top: stays
        app.messages.clear()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert said(app) == [("RowHighlighted", "b"), ("RowSelected", "b")]


async def test_the_cursor_row_is_drawn_in_the_cursor_style_and_moves() -> None:
    app = Table(rows("a", "b"))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        table = app.table
        cursor = table.get_component_rich_style("fast-table--cursor")

        def background(y: int) -> object:
            return next(iter(table.render_line(y))).style.bgcolor

        assert background(1) == cursor.bgcolor != background(2)
        table.move_cursor(row=1)
        assert background(2) == cursor.bgcolor != background(1)


async def test_a_click_moves_the_cursor_and_a_click_on_it_selects() -> None:
    app = Table(rows("a", "b", "c"))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        assert said(app) == [("RowHighlighted", "a")]  # the first row, as it appeared
        app.messages.clear()
        await pilot.click("#t", offset=(2, 0))  # the header: nothing
        await pilot.click("#t", offset=(2, 3))  # row c
        await pilot.pause()
        assert app.table.cursor_key == "c"
        assert said(app) == [("RowHighlighted", "c")]
        await pilot.click("#t", offset=(2, 3))
        await pilot.pause()
        assert said(app)[-1] == ("RowSelected", "c")


async def test_fresh_rows_keep_the_cursor_on_its_key() -> None:
    app = Table(rows("a", "b", "c"))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        table = app.table
        table.move_cursor(row=1)
        await pilot.pause()
        app.messages.clear()
        table.show_rows(rows("new", "a", "b", "c"))  # a row above: the cursor stays on b
        await pilot.pause()
        assert table.cursor_key == "b" and table.cursor_row == 2
        assert said(app) == []
        table.show_rows(rows("new", "a", "c"))  # b left: the same place, and it is said
        await pilot.pause()
        assert table.cursor_key == "c"
        assert said(app) == [("RowHighlighted", "c")]
        table.show_rows([])
        assert table.cursor_key is None and table.row_count == 0
        table.show_rows(rows("z"))
        assert table.cursor_key == "z"


async def test_a_cell_that_only_changes_colour_is_drawn_again() -> None:
    red, green = Style(color="red"), Style(color="green")
    app = Table([("a", ("a", "ok", "")), ("b", ("b", Text("state", style=red), ""))])
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        table = app.table

        def colour() -> object:
            segment = next(s for s in table.render_line(2) if "state" in s.text)
            return segment.style.color.name

        assert colour() == "red"
        table.show_rows([("a", ("a", "ok", "")), ("b", ("b", Text("state", style=green), ""))])
        assert colour() == "green"
        assert table.get_cell("b", "state").style == green
