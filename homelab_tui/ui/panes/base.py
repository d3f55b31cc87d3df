"""What every pane is: a `LiveTable` that knows its columns, where its rows come from, what Enter
shows, and its own keys.

A pane's module declares, on its `Pane` subclass:
- NAME (the table is `#<NAME>-table`), KEY (the digit that shows it alone), TITLE, COLUMNS,
  DEFAULT_SORT (also the tie-breakers of any other sort), COMPONENT (whose health its freshness
  follows), NAMESPACED (whether the namespace picker applies);
- SOURCE, whose keys its row keys are (a Kubernetes kind, "router" or "dns"), and DEPENDS, what
  else changes its rows (the Nodes pane counts pods);
- `row_source(now)`: every key it should show and the row of a key, read from `self.state`;
- `open(key)`: what Enter on a row shows;
- BINDINGS: its own keys, live only while it has focus.

Adding a pane action (k9s-style, e.g. `l` for a pod's logs) is a binding and an action method:

    class PodsPane(KubePane):
        BINDINGS = [Binding("l", "logs", "Logs", id="pod_logs", tooltip="Follow the pod's logs")]

        def action_logs(self) -> None:
            if (key := self.cursor_key()) is not None:
                self.app.run_worker(follow_logs(key), group="logs", exclusive=True, exit_on_error=False,
                                    description="follow a pod's logs")

Textual looks a key up on the focused widget first, so the action runs only while its pane has
focus; under a modal or a wizard no pane has focus, so its keys are off. A pane key must not be
one the app binds (the digits, /, escape, n, ?, :, q, the wizards' capitals) nor a sort letter of
its columns (rows.SORT_LETTERS, bound here for every pane): tests/ui/test_bindings.py fails if it is.
A dangerous action (a shell, any change) is named in the app's DANGEROUS_ACTIONS: --read-only hides and refuses it.
Give the binding an `id=` so `[ui.keymap]` can rebind it. Run I/O with `self.app.run_worker`
(not `@work` on the pane), so that a failure reaches the app's one error router. An action that
changes the lab (delete, scale, restart, expose) is a plan applied by the engine, as
plans/delete.py is, so that it is previewed and audited like a wizard's steps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import ClassVar

import yaml
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from ...state import LabState
from .. import rows
from ..modals import DetailScreen
from ..themes import VARIABLE_DEFAULTS
from ..widgets import Cell, LiveTable

RowSource = tuple[Iterable[str], Callable[[str], "tuple[Cell, ...] | None"]]


class Pane(LiveTable):
    NAME: ClassVar[str]
    KEY: ClassVar[str]
    TITLE: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    DEFAULT_SORT: ClassVar[tuple[str, ...]]
    COMPONENT: ClassVar[str]
    SOURCE: ClassVar[str]
    DEPENDS: ClassVar[tuple[str, ...]] = ()
    NAMESPACED: ClassVar[bool] = False
    CAPTION_NOTE: ClassVar[str] = ""  # said last in the caption
    COMMANDS: ClassVar[tuple[str, ...]] = ()  # its `:` commands (k9s's names and aliases), after NAME
    # Every pane's keys: vim's and k9s's j/k beside the arrows, and the footer's hints for Enter and Tab.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", id="cursor_down", show=False),
        Binding("k", "cursor_up", "Up", id="cursor_up", show=False),
        Binding("enter", "select_cursor", "Open", id="open", tooltip="The row in full"),
        Binding("tab", "app.focus_next", "Next", id="next_pane", tooltip="The next pane"),
    ]

    def __init_subclass__(cls, **kwargs) -> None:
        """A pane with columns gets k9s's sort keys for them: shift and the column's letter."""
        if "COLUMNS" in cls.__dict__:
            cls.BINDINGS = [*cls.__dict__.get("BINDINGS", []), *(
                Binding(rows.SORT_LETTERS[column], f"sort_column('{column}')", f"Sort {column}", show=False,
                        id=f"sort_{re.sub(r'[^a-z0-9]+', '_', column.lower()).strip('_') or 'position'}",
                        tooltip=f"Sort by {column}; again to reverse")
                for column in cls.COLUMNS if column in rows.SORT_LETTERS)]
        super().__init_subclass__(**kwargs)

    def __init__(self, state: LabState, clock: Callable[[], datetime | None]) -> None:
        super().__init__(id=f"{self.NAME}-table", cursor_type="row", zebra_stripes=True)
        self.state = state
        self.clock = clock  # returns None in snapshot mode: no ages on screen
        self.sorting = (self.DEFAULT_SORT[0], False)
        self.tie_breakers = self.DEFAULT_SORT
        self._styles_for = ""  # the theme `_styles` were made for
        self._styles: dict[str, str] = {}
        for column in self.COLUMNS:
            self.add_column(column, key=column)

    class Measured(Message):
        """New rows were measured: the pane's size may need to change."""

    def row_source(self, now: datetime | None) -> RowSource:
        """Every key the pane should show, and the row for a key (None: no such row)."""
        raise NotImplementedError

    def open(self, key: str) -> None:
        """Enter on the row of `key`."""
        raise NotImplementedError

    def on_mount(self) -> None:
        self.render_caption()

    # -- rows -------------------------------------------------------------------------------------

    def follow(self, changed: Mapping[str, Collection[str] | None]) -> None:
        """Bring the rows in line with `changed`: a source (a kind, "router", "dns") → the keys
        that changed, or None for all of them."""
        if changed.get(self.SOURCE, ()) is None or any(source in changed for source in self.DEPENDS):
            self.resync()
        elif self.SOURCE in changed:
            _, row_for = self.row_source(self.clock())
            self.show_rows(changed[self.SOURCE], row_for)

    def resync(self) -> None:
        """Re-evaluate every row: the state's and the table's (after a poll, or a new filter)."""
        keys, row_for = self.row_source(self.clock())
        self.show_rows({*keys, *(key.value for key in self.rows)}, row_for)

    def show_rows(self, keys: Iterable[str], row_for: Callable[[str], tuple | None], *, sort: bool = False) -> None:
        super().show_rows(keys, row_for, sort=sort)
        self.render_caption()

    def _update_dimensions(self, new_rows) -> None:
        super()._update_dimensions(new_rows)
        self.post_message(self.Measured())

    def created(self, key: str) -> str:
        """When the object of `key` was made (ISO 8601), for its AGE; "" when the pane has no ages."""
        return ""

    def refresh_ages(self, now: datetime) -> None:
        """Bring the AGE cells of the rows on screen up to `now`: ages are otherwise computed only
        when a row changes. Only the visible rows are read, so a tick costs the same at 10k rows."""
        if "AGE" not in self.COLUMNS or not self.row_count:
            return
        top = round(self.scroll_y)
        bottom = min(top + self.scrollable_content_region.height - self.header_height * self.show_header,
                     self.row_count)
        with self.app.batch_update():
            for index in range(top, bottom):
                key = self._row_locations.get_key(index)
                shown = self._data[key]["AGE"]
                if (age := rows.age(self.created(key.value), now)) != shown.plain:
                    self.update_cell(key, "AGE", Cell(age, shown.style), update_width=True)

    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None when the pane is empty)."""
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value if self.row_count else None

    def wizard_answers(self) -> dict[str, str]:
        """What a wizard opened from this pane starts with, from the row under the cursor (the
        Services pane gives `service` to expose); none by default."""
        return {}

    def styler(self) -> Callable[..., tuple[Cell, ...]]:
        """`styled(cells, row_style="")`: cells shown as written, never as markup (a DataTable
        parses a str cell as markup, so a comment like "[homelab-tui default/nginx tcp/80]" would
        vanish), coloured from the theme: a whole-row style, or a status cell by its value."""
        styles, status_style = self._cell_styles(), rows.status_style
        status = [column in rows.STATUS_COLUMNS for column in self.COLUMNS]

        def styled(cells: tuple[str, ...], row_style: str = "") -> tuple[Cell, ...]:
            return tuple(Cell(cell, styles[row_style or (status_style(cell) if is_status else "")])
                         for is_status, cell in zip(status, cells))

        return styled

    def _cell_styles(self) -> dict[str, str]:
        """The named cell styles of rows.py in the current theme's colours."""
        theme = self.app.current_theme
        if self._styles_for != theme.name:
            self._styles_for = theme.name
            self._styles = {"": "", "bad": f"bold {theme.error}", "warn": theme.warning or "", "disabled": "dim",
                            "ours": theme.variables.get("homelab-ours", VARIABLE_DEFAULTS["homelab-ours"])}
        return self._styles

    # -- filter, namespace, sort --------------------------------------------------------------------

    def set_filter(self, pattern: str) -> None:
        """Show only the rows with a cell matching `pattern` (case-insensitive; "" shows all).
        Raises re.error when it is not a regular expression."""
        self.filter = re.compile(pattern, re.IGNORECASE) if pattern else None
        self.resync()

    def set_namespace(self, namespace: str) -> None:
        """Show one namespace ("" for all), if the pane has namespaces."""
        if self.NAMESPACED:
            self.namespace = namespace
            self.resync()

    def sort_by(self, column: str, reverse: bool = False) -> None:
        self.sorting = (column, reverse)
        self.show_rows((), lambda key: None, sort=True)

    def action_sort_column(self, column: str) -> None:
        """Sort by `column`; by the same column again, reversed (k9s's shift+letter, a header click)."""
        current, reverse = self.sorting
        self.sort_by(column, not reverse if column == current else False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.action_sort_column(str(event.column_key.value))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A dangerous action is hidden and refused under --read-only (the app says which)."""
        return action not in getattr(self.app, "blocked_actions", ())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.open(event.row_key.value)

    def render_caption(self) -> None:
        """The pane's title: its key and name, rows shown, sort order, filter, namespace."""
        column, reverse = self.sorting
        parts = [f"[b]{self.KEY} {self.TITLE}[/]", f"{self.row_count} rows",
                 f"sort {column} {'▼' if reverse else '▲'}"]
        if self.filter is not None:
            parts.append(f"/{self.filter.pattern}/")
        if self.namespace:
            parts.append(f"ns {self.namespace}")
        if self.CAPTION_NOTE:
            parts.append(self.CAPTION_NOTE)
        self.border_title = " · ".join(parts)

    def show_detail(self, title: str, fields: dict) -> None:
        self.app.push_screen(DetailScreen(title, yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)))


class KubePane(Pane):
    """A pane of one Kubernetes kind (SOURCE): its row keys are the objects' keys, Enter shows the
    object as the API has it now, and ctrl+d deletes it (as in k9s), a plan confirmed first."""

    COMPONENT = "kubernetes"
    BINDINGS = [Binding("ctrl+d", "delete", "Delete", id="delete", tooltip="Delete the object under the cursor "
                        "(its plan is shown first)"),
                Binding("d", "describe", "Describe", id="describe", tooltip="Its fields and its Events"),
                Binding("y", "yaml", "YAML", id="yaml", tooltip="The live object as YAML, without managedFields")]

    def action_delete(self) -> None:
        from ...flows.delete import plan_delete  # the plans load on the first change, not at start

        if (key := self.cursor_key()) is not None:
            namespace, _, name = key.rpartition("/")
            self.app.apply_change(partial(plan_delete, kind=self.SOURCE, namespace=namespace, name=name), "Delete")

    def created(self, key: str) -> str:
        obj = self.state.kube.of(self.SOURCE).get(key)
        return obj.created if obj is not None else ""

    def open(self, key: str) -> None:
        self.action_yaml(key)

    def action_yaml(self, key: str | None = None) -> None:
        if (key := key or self.cursor_key()) is not None:
            self.app.run_worker(self._show_object(key), group="detail", exclusive=True, exit_on_error=False,
                                description="show the object")

    def action_describe(self) -> None:
        if (key := self.cursor_key()) is not None:
            self.app.run_worker(self._describe(key), group="detail", exclusive=True, exit_on_error=False,
                                description="describe the object")

    @property
    def kube(self):
        """The Dashboard's client, while its watches run."""
        if (client := self.parent.kube) is None:
            raise RuntimeError("not connected to the Kubernetes API")
        return client

    async def live_object(self, key: str) -> dict | None:
        """The whole object as the API has it now (the panes keep only the fields they show);
        None, said in a notification, when it is gone."""
        namespace, _, name = key.rpartition("/")
        raw = await self.kube.get(self.SOURCE, namespace or None, name)
        if raw is None:
            self.app.notify(f"{self.SOURCE} {key} no longer exists", severity="warning")
        return raw

    async def _show_object(self, key: str) -> None:
        """In YAML without managedFields, as `kubectl get -o yaml` shows it."""
        if (raw := await self.live_object(key)) is not None:
            raw["metadata"] = {k: v for k, v in raw.get("metadata", {}).items() if k != "managedFields"}
            self.show_detail(f"{self.SOURCE} {key}", raw)

    async def _describe(self, key: str) -> None:
        """As `kubectl describe`: the object's fields that matter, then its Events."""
        from .. import describe  # loaded on the first `d`, not at start
        if (raw := await self.live_object(key)) is None:
            return
        namespace, _, name = key.rpartition("/")
        events = await self.kube.events_for(namespace or None, self.SOURCE, name)
        self.app.push_screen(DetailScreen(f"describe {self.SOURCE} {key}",
                                          describe.describe(raw, events, self.clock())))
