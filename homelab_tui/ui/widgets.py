"""Widgets of the live view."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import DuplicateKey, Row, RowKey


class Cell:
    """A table cell: text shown as written (a str cell would be parsed as markup) with an optional
    style. The rich `Text` is built only when the cell is drawn: building one per cell up front
    took a second for 10k pods."""

    __slots__ = ("plain", "style")

    def __init__(self, plain: str, style: str = "") -> None:
        self.plain = plain
        self.style = style

    def __str__(self) -> str:
        return self.plain

    def __repr__(self) -> str:
        return f"Cell({self.plain!r}, {self.style!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cell) and self.plain == other.plain and self.style == other.style

    def __hash__(self) -> int:
        return hash((self.plain, self.style))

    def __rich__(self) -> Text:
        return Text(self.plain, style=self.style, end="")


class LiveTable(DataTable):
    """A DataTable that repaints its rows when a column widens.

    Textual 8.2.8's DataTable measures new rows when idle, after a frame may already have drawn
    them at the old column widths, and its line caches are keyed by `_update_count`, which that
    measurement does not bump: a table that got its rows in one burst could stay truncated
    ("ngin", "Runnin") until the next change. Seen in the snapshot tests; the fix is one bump.
    """

    async def _on_idle(self, event: events.Idle) -> None:
        widths = [column.content_width for column in self.columns.values()]
        await super()._on_idle(event)
        if widths != [column.content_width for column in self.columns.values()]:
            self._update_count += 1
            self.refresh()

    def add_keyed_rows(self, new_rows: list[tuple[str, tuple[Cell, ...]]]) -> None:
        """`add_row(*cells, key=key)` for many one-line rows, with one cursor update at the end.
        (`add_row` re-validates the cursor for every row: 0.8 s of the first 10k pods.)"""
        columns = self.ordered_columns
        for key, cells in new_rows:
            row_key = RowKey(key)
            if row_key in self._row_locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            self._row_locations[row_key] = len(self.rows)
            self._data[row_key] = {column.key: cell for column, cell in zip(columns, cells, strict=True)}
            self.rows[row_key] = Row(row_key, 1)
            self._new_rows.add(row_key)
        if not new_rows:
            return
        self._require_update_dimensions = True
        had_cursor_cell = self.row_count > len(new_rows)
        self.cursor_coordinate = self.cursor_coordinate
        if not had_cursor_cell and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # as add_row does when the first row arrives
        self._update_count += 1
        self.check_idle()

    def _update_dimensions(self, new_rows) -> None:
        """Measure new rows by the length of their text. Our cells are one-line `Cell`s; Textual's
        general path renders every cell and asks the terminal its size on each measure, which
        took 2 s of the first paint at 10k pods."""
        columns = self.ordered_columns
        for row_key in new_rows:
            cells = self._data.get(row_key)
            if cells is None:  # removed before this idle pass
                continue
            for column in columns:
                cell = cells.get(column.key)
                width = cell_len(str(cell))
                if width > column.content_width:
                    column.content_width = width
        super()._update_dimensions(())  # the virtual size, from the widths just set

    @contextmanager
    def cursor_kept(self) -> Iterator[None]:
        """Keep the cursor on the same row (by key) through updates that add, remove or re-sort
        rows, without scrolling; if its row went away, the cursor stays where it was."""
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key if self.row_count else None
        yield
        if key is not None and key in self.rows and (index := self.get_row_index(key)) != self.cursor_row:
            self.move_cursor(row=index, scroll=False)
