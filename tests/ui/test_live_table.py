"""LiveTable's shortcuts draw exactly what Textual's DataTable draws for the same cells."""

from __future__ import annotations

from rich.style import Style
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from homelab_tui.ui.widgets import Cell, LiveTable

ROWS = [
    ("short", (Cell("abc", "bold red"), Cell("a longer text than the column"), Cell(""))),
    ("wide", (Cell("日本語のノード", "dim"), Cell("[b]not markup[/b]"), Cell("x", "#F2A541"))),
    ("plain", (Cell("y"), Cell("zz", "underline"), Cell("1234567"))),
]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        table = LiveTable(zebra_stripes=True, cursor_type="row")
        for key in ("A", "B", "C"):
            table.add_column(key, key=key)
        yield table


async def filled(pilot) -> LiveTable:
    table = pilot.app.query_one(LiveTable)
    table.add_keyed_rows(ROWS)
    await pilot.pause()
    return table


async def test_cells_render_as_textual_renders_them_as_text():
    async with TableApp().run_test() as pilot:
        table = await filled(pilot)
        for row_index, (key, cells) in enumerate(ROWS):
            for column_index, cell in enumerate(cells):
                for cursor, hover, width in ((False, False, 8), (True, False, 8), (False, True, 3), (False, False, 40)):
                    base = Style(bgcolor="blue") if row_index % 2 else Style()
                    ours = table._render_cell(row_index, column_index, base, width, cursor, hover)
                    table._cell_render_cache.clear()
                    column_key = table._column_locations.get_key(column_index)
                    table._data[key][column_key] = cell.__rich__()  # a Text: Textual's own path
                    theirs = DataTable._render_cell(table, row_index, column_index, base, width, cursor, hover)
                    table._data[key][column_key] = cell
                    table._cell_render_cache.clear()
                    assert ours == theirs, (key, column_index, cursor, hover, width)


async def test_rows_added_in_one_batch_are_measured_and_found_by_line():
    async with TableApp().run_test() as pilot:
        table = await filled(pilot)
        assert table.row_count == 3 and table.get_row("wide")[1] == Cell("[b]not markup[/b]")
        assert [column.content_width for column in table.ordered_columns] == [14, 29, 7]
        table.sort("A", key=lambda cell: str(cell))
        assert [table._y_offsets[y][0].value for y in range(3)] == ["short", "plain", "wide"]
