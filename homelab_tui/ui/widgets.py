"""Widgets of the live view."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer
from textual.widgets._footer import FooterKey
from textual.widgets.data_table import CellKey, DuplicateKey, Row, RowKey
from textual._two_way_dict import TwoWayDict

from .rows import sort_key


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


class _OneLineOffsets(Sequence):
    """DataTable's `_y_offsets` when every row is one line high: line y is row y, offset 0,
    looked up on demand. (Textual rebuilds the full list, 10k entries, after every update.)"""

    def __init__(self, table: DataTable) -> None:
        self._locations = table._row_locations
        self._count = table.row_count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, y):  # an int: no slices are taken of it
        if not 0 <= y < self._count:
            raise IndexError(y)
        return self._locations.get_key(y), 0

    def clear(self) -> None:  # DataTable.clear() calls it; nothing is held
        pass


class LiveTable(DataTable):
    """A DataTable for live panes of up to 10k one-line rows of `Cell`s, kept by key.

    `show_rows(keys, row_for)` brings the rows of `keys` in line with `row_for` inside one
    `batch_update`: a row no longer wanted (or hidden by `filter` or `namespace`) is removed, a new
    one added, a changed one gets only its changed cells updated; then the rows are sorted once
    (by `sorting`, ties broken by `tie_breakers`) if the order may have changed, and the cursor stays
    on its row. The table is never cleared, so the cursor and scroll survive.

    What Textual 8.2.8 (pinned exactly) costs or gets wrong at that size is worked around. Each
    shortcut reaches into DataTable's private API; tests/ui/test_live_table.py checks they draw
    what Textual draws.

    - `add_keyed_rows`: many rows with one cursor update (add_row re-validates the cursor each).
    - `_update_dimensions`, `_update_column_widths`: cells measured by text length, not rendered;
      an updated cell only ever widens its column.
    - `_on_idle`: after a column widens, the cached lines drawn at the old width are dropped
      (Textual kept them: rows added in one burst could stay truncated until the next change).
    - `_y_offsets`: line y is row y, looked up, not a 10k list rebuilt after every update.
    - `_render_cell`: a `Cell` becomes segments directly, not through Rich's renderable pipeline.
    - `cursor_kept`: the cursor stays on its row's key through updates.

    With these, a 200x60 frame of the 10k-pod table went from ~200 ms to a few tens of ms.
    """

    filter: re.Pattern[str] | None = None  # k9s-style `/regex`: rows with a matching cell
    namespace = ""  # rows whose first cell is this ("" for all)
    sorting: tuple[str, bool] | None = None  # (column, reversed)
    tie_breakers: tuple[str, ...] = ()  # columns that order rows equal in the sort column

    def shows(self, row: tuple) -> bool:
        """Whether the filter and the namespace let `row` be shown."""
        if self.namespace and str(row[0]) != self.namespace:
            return False
        pattern = self.filter
        return pattern is None or any(pattern.search(str(cell)) for cell in row)

    def show_rows(self, keys: Iterable[str], row_for: Callable[[str], tuple | None], *, sort: bool = False) -> None:
        """Update the rows of `keys` (`row_for(key)` is None: no such row), re-sort if the order may
        have changed (or `sort`), and keep the cursor on the row it was on (the scroll is left alone)."""
        with self.app.batch_update(), self.cursor_kept():
            if self._upsert(keys, row_for) or sort:
                self.sort_rows()

    def _upsert(self, keys: Iterable[str], row_for: Callable[[str], tuple | None]) -> bool:
        """Add, update changed cells only, or remove. Returns whether the order may have changed
        (a row added, or a cell of a sort column updated)."""
        columns = [column.key for column in self.ordered_columns]
        sort_columns = {self.sorting[0] if self.sorting else None, *self.tie_breakers}
        reordered = False
        added: list[tuple[str, tuple]] = []
        removed: list[str] = []
        for key in keys:
            wanted = row_for(key)
            if wanted is not None and not self.shows(wanted):
                wanted = None
            present = key in self.rows
            if wanted is None:
                if present:
                    removed.append(key)
            elif not present:
                added.append((key, wanted))
            else:
                for column, old, new in zip(columns, self.get_row(key), wanted):
                    if old.plain != new.plain or old.style != new.style:
                        self.update_cell(key, column, new, update_width=True)
                        reordered = reordered or column.value in sort_columns
        self.remove_keyed_rows(removed)
        self.add_keyed_rows(added)
        return reordered or bool(added)

    def sort_rows(self) -> None:
        """Sort by `sorting`, numbers in text as numbers and ages as durations (rows.sort_key)."""
        if self.sorting is None:
            return
        column, reverse = self.sorting
        columns = (column, *(c for c in self.tie_breakers if c != column))
        keys = [sort_key(c) for c in columns]
        if len(columns) == 1:
            self.sort(column, key=keys[0], reverse=reverse)
        else:
            self.sort(*columns, key=lambda cells: tuple(k(c) for k, c in zip(keys, cells)), reverse=reverse)

    @property
    def _y_offsets(self) -> _OneLineOffsets:
        return _OneLineOffsets(self)  # every row we add is one line high (add_keyed_rows)

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        """A `Cell` drawn straight to segments: padding, the text cut or padded to the column, and
        the same styles Textual's general path layers on (its renderable pipeline cost 0.25 ms a
        cell, most of a 200x60 frame at 10k pods). Headers and other values take that path."""
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cell = self._data[row_key].get(column_key)
        if not isinstance(cell, Cell) or self.rows[row_key].height != 1 or self.fixed_rows or self.fixed_columns:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor, self._update_count,
                     self._pseudo_class_state)
        lines = self._cell_render_cache.get(cache_key)
        if lines is None:
            component_style, post_style = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
                self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
            outer = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
            edge, body = outer + post_style, outer + Style.parse(cell.style) + post_style
            pad, inner = " " * self.cell_padding, max(width - 2 * self.cell_padding, 0)
            length = cell_len(cell.plain)
            if length >= inner:
                middle = [Segment(set_cell_size(cell.plain, inner), body)]
            else:  # the text in its style, the rest of the column in the row's
                middle = [Segment(cell.plain, body), Segment(" " * (inner - length), edge)]
            lines = [[Segment(pad, edge), *middle, Segment(pad, edge)] if pad else middle]
            self._cell_render_cache[cache_key] = lines
        return lines

    async def _on_idle(self, event: events.Idle) -> None:
        widths = [column.content_width for column in self.columns.values()]
        await super()._on_idle(event)
        if widths != [column.content_width for column in self.columns.values()]:
            self._update_count += 1
            self.refresh()

    def remove_keyed_rows(self, keys: list[str]) -> None:
        """`remove_row(key)` for many rows, the row positions renumbered once. (`remove_row`
        renumbers every row for each one removed: a filter hiding 9k of 10k pods froze the app.)"""
        if not keys:
            return
        for key in keys:
            row_key = RowKey(key)
            for column_key in self._data.pop(row_key):  # removed cells trigger no width updates
                self._updated_cells.discard(CellKey(row_key, column_key))
            del self.rows[row_key]
        kept = sorted(self.rows, key=self._row_locations.get)
        self._row_locations = TwoWayDict({row_key: index for index, row_key in enumerate(kept)})
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)
        self.check_idle()

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

    def _update_column_widths(self, updated_cells) -> None:
        """Updated cells widen their column and never shrink it: Textual re-measures the whole
        column (10k cells) for every cell that got narrower, which froze the app under churn."""
        for row_key, column_key in updated_cells:
            column, cells = self.columns.get(column_key), self._data.get(row_key)
            if column is not None and cells is not None:
                column.content_width = max(column.content_width, cell_len(str(cells.get(column_key))))

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


class KeysFooter(Footer):
    """The compact footer. Where not all its keys fit, it leaves out keys that are not `essential`
    (moving around, the panes' first keys, help, filter, quit), the last ones first, until the rest
    fit (`?` lists them all), rather than let the palette's key cover them ("^p alette" at 80
    columns)."""

    DEFAULT_CSS = """
    KeysFooter FooterKey.-left-out { display: none; }
    KeysFooter.-compact FooterLabel { margin-right: 1; }
    """
    SLACK = 16  # the group's label, the palette key's padding

    def __init__(self, essential: Iterable[str]) -> None:
        super().__init__(compact=True)
        self.essential = frozenset(essential)
        self._keys: list[tuple[FooterKey, int]] = []  # each key as last composed, and the columns it takes

    def compose(self) -> ComposeResult:
        self._keys = []
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                self._keys.append((widget, cell_len(widget.key_display or widget.key) + (
                    1 + cell_len(widget.description) if widget.description else 0)))
            yield widget
        self.on_resize()

    def on_resize(self) -> None:
        room = self.size.width - self.SLACK
        needed = sum(width for _, width in self._keys)
        for widget, width in reversed(self._keys):
            left_out = needed > room and widget.action not in self.essential
            widget.set_class(left_out, "-left-out")
            needed -= width if left_out else 0
        self.set_class(any(widget.has_class("-left-out") for widget, _ in self._keys), "-tight")
