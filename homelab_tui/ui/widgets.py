"""Widgets of the live view."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable


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

    def _update_dimensions(self, new_rows) -> None:
        """Measure new rows by the length of their text. Our cells are one-line `Text`; Textual's
        general path renders every cell and asks the terminal its size on each measure, which
        took 2 s of the first paint at 10k pods."""
        columns = self.ordered_columns
        for row_key in new_rows:
            cells = self._data.get(row_key)
            if cells is None:  # removed before this idle pass
                continue
            for column in columns:
                cell = cells.get(column.key)
                width = cell_len(cell.plain if isinstance(cell, Text) else str(cell))
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
