"""Widgets of the live view."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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

    @contextmanager
    def cursor_kept(self) -> Iterator[None]:
        """Keep the cursor on the same row (by key) through updates that add, remove or re-sort
        rows, without scrolling; if its row went away, the cursor stays where it was."""
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key if self.row_count else None
        yield
        if key is not None and key in self.rows and (index := self.get_row_index(key)) != self.cursor_row:
            self.move_cursor(row=index, scroll=False)
