"""The live view: Nodes, Pods, Services, NAT and DNS panes on a dashboard, each one key away.

Kubernetes arrives through watches into `state.KubeState`; the router and DNS are polled, each
poll scheduling the next only when it has finished. Tables are updated by row key inside
`batch_update`, never cleared, so the cursor and scroll survive. A failing component marks its
panes stale and says why in the header; every worker error goes to `on_worker_state_changed`,
which retries with backoff. One component failing never stops the app or another pane.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import yaml
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from ..config import Config, ConfigError, ConfigIssue, SecretError
from ..connect import cloudflare_client, dns_client, kube_client, router_client
from ..dns_status import dns_checks
from ..models import CloudStatus, DnsCheck, EventType, MangleRule, NatRule, RouterIdentity
from ..state import Components, Health, KubeState, describe_error
from . import rows
from .screens import ALL_NAMESPACES, DetailScreen, NamespaceScreen
from .themes import VARIABLE_DEFAULTS, load_themes
from .widgets import Cell, LiveTable

if TYPE_CHECKING:
    from ..clients.kube import KubeClient
    from ..clients.router import RouterClient


async def _import_in_background(*names: str) -> None:
    """Import client modules in a thread before their first use. The client libraries
    (kubernetes-asyncio, librouteros, dnspython, aiohttp) take longer to import than Textual;
    `connect` imports each one when first called, which on the event loop would hold up the
    first frame."""
    await asyncio.to_thread(lambda: [importlib.import_module(name, __package__) for name in names])


@dataclass(frozen=True)
class Pane:
    id: str
    title: str
    columns: tuple[str, ...]
    default_sort: tuple[str, ...]  # also the tie-breakers of any other sort
    component: str  # whose health the pane's freshness follows
    kind: str = ""  # the Kubernetes kind that feeds it
    namespaced: bool = False


PANES = (
    Pane("nodes", "Nodes", rows.NODE_COLUMNS, ("NAME",), "kubernetes", "Node"),
    Pane("pods", "Pods", rows.POD_COLUMNS, ("NAMESPACE", "NAME"), "kubernetes", "Pod", namespaced=True),
    Pane("services", "Services", rows.SERVICE_COLUMNS, ("NAMESPACE", "NAME"), "kubernetes", "Service",
         namespaced=True),
    Pane("nat", "NAT", rows.NAT_COLUMNS, ("#",), "router"),
    Pane("dns", "DNS", rows.DNS_COLUMNS, ("NAME",), "dns"),
)
PANE = {pane.id: pane for pane in PANES}
KIND_PANES = {pane.kind: pane.id for pane in PANES if pane.kind}
WATCHED_KINDS = (*KIND_PANES, "Ingress")  # Ingress hosts feed the DNS pane
# The dashboard's order (Tab order too): services and DNS share a row on wide screens.
DASHBOARD_ORDER = ("nodes", "pods", "services", "dns", "nat")
# The command palette's entries beside Textual's own (title, help, action): the wizards and the views.
PALETTE = (
    ("Bootstrap a cluster", "Install k3s or kubeadm on the first server", "wizard('bootstrap')"),
    ("Join nodes", "Join worker nodes to the cluster", "wizard('join')"),
    ("Show all panes", "The dashboard: every pane at once", "dashboard"),
    *((f"Show {pane.title}", f"The {pane.title} pane alone", f"show('{pane.id}')") for pane in PANES),
)
FLUSH_SECONDS = 0.02  # bursts of watch events within this window become one table update
RETRY_CAP_SECONDS = 60.0
FULL_GC_THRESHOLD = 100  # Python's default is 10 middle-generation passes per full pass


class HomelabApp(App[None]):
    TITLE = "homelab-tui"
    CSS_PATH = "app.tcss"
    AUTO_FOCUS = "#nodes-table"  # not the hidden filter input
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
    BINDINGS = [
        # 1-5 show one pane; their numbers are in the pane titles, so the footer keeps its room
        Binding("0", "dashboard", "All panes", id="show_dashboard", tooltip="Every pane together"),
        Binding("1", "show('nodes')", "Nodes", id="show_nodes", show=False),
        Binding("2", "show('pods')", "Pods", id="show_pods", show=False),
        Binding("3", "show('services')", "Services", id="show_services", show=False),
        Binding("4", "show('nat')", "NAT", id="show_nat", show=False),
        Binding("5", "show('dns')", "DNS", id="show_dns", show=False),
        Binding("slash", "edit_filter", "Filter", id="filter", tooltip="Show rows matching a regular expression"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False),
        Binding("n", "pick_namespace", "Namespace", id="namespace", tooltip="Pods and Services of one namespace"),
        Binding("s", "sort_next", "Sort", id="sort", tooltip="Sort the pane by its next column"),
        Binding("S", "sort_reverse", "Reverse", id="sort_reverse", show=False),
        Binding("b", "wizard('bootstrap')", "Bootstrap", id="bootstrap", tooltip="Install the first server"),
        Binding("j", "wizard('join')", "Join", id="join", tooltip="Join worker nodes"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, config: Config, *, clock: Callable[[], datetime | None] = rows.utc_now,
                 read_only: bool = False) -> None:
        super().__init__()
        self.read_only = read_only  # wizards show plans but never apply them
        for theme in load_themes().values():
            self.register_theme(theme)
        if config.ui.theme not in self.available_themes:
            known = ", ".join(sorted(self.available_themes))
            raise ConfigError(str(config.path or "config"),
                              [ConfigIssue("ui.theme", f"unknown theme {config.ui.theme!r}; expected one of {known}")])
        self.theme = config.ui.theme
        self.config = config
        self.clock = clock  # returns None in snapshot mode: no ages on screen
        self.kube_state = KubeState()
        self.kube_context = ""
        self.components = Components()
        self.router_rules: dict[str, NatRule | MangleRule] = {}  # NAT pane row key → rule
        self.dns_rows: dict[str, DnsCheck] = {}
        self.cloud: CloudStatus | None = None
        self.router_identity: RouterIdentity | None = None
        self._router: RouterClient | None = None
        self._kube: KubeClient | None = None  # while the watches run
        self._dns_started = False
        self._failures: dict[str, int] = {}  # consecutive failures per component, for backoff
        self.view = "dashboard"  # or the id of the one pane shown
        self._focused_pane = PANES[0].id
        self.namespace = ALL_NAMESPACES
        self.filters: dict[str, re.Pattern[str]] = {}  # per pane, k9s-style `/regex`
        self.sorting: dict[str, tuple[str, bool]] = {pane.id: (pane.default_sort[0], False) for pane in PANES}
        self._polled_rows: dict[str, dict[str, tuple]] = {}  # last full rows of the polled panes
        self._pending: dict[str, set[str]] = {}
        self._styles_for = ""  # the theme `_styles` were made for
        self._styles: dict[str, str] = {}
        self._apply_scheduled = False
        self._relisted = False  # a re-list is among the pending changes

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **VARIABLE_DEFAULTS}

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Container(id="dashboard"):
            for pane_id in DASHBOARD_ORDER:
                pane = PANE[pane_id]
                table = LiveTable(id=f"{pane.id}-table", cursor_type="row", zebra_stripes=True)
                for column in pane.columns:
                    table.add_column(column, key=column)
                yield table
        yield Input(placeholder="filter: a regular expression; Enter applies, Esc clears", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        # The live view keeps a large, stable heap (listings, rows, render caches). Full passes of
        # the cyclic collector over it stalled the event loop ~90 ms about once a second under
        # churn at 10k pods; they now come ten times less often (young generations unchanged).
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_GC_THRESHOLD)
        self.set_keymap(self.config.ui.keymap)
        self._render_header()
        for pane in PANES:
            self._render_caption(pane.id)
        self.watch_cluster()
        if self.config.router is not None:
            self.poll_router()  # its first answer starts the DNS polls: they need the DDNS state
        elif self.config.dns is not None:
            self.poll_dns()

    async def on_unmount(self) -> None:
        if self._router is not None:
            await self._router.close()

    def table(self, pane_id: str) -> DataTable:
        return self.query_one(f"#{pane_id}-table", DataTable)

    @property
    def active_pane(self) -> str:
        return self._focused_pane if self.view == "dashboard" else self.view

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, DataTable) and event.widget.id:
            self._focused_pane = event.widget.id.removesuffix("-table")
            self._render_header()

    def action_show(self, pane_id: str) -> None:
        self.view = pane_id
        dashboard = self.query_one("#dashboard")
        dashboard.add_class("-single")
        for pane in PANES:
            self.table(pane.id).set_class(pane.id == pane_id, "-shown")
        self.table(pane_id).focus()
        self._render_header()

    def action_dashboard(self) -> None:
        self.view = "dashboard"
        self.query_one("#dashboard").remove_class("-single")
        self.table(self._focused_pane).focus()
        self._render_header()

    PANE_ACTIONS = {"show", "dashboard", "edit_filter", "clear_filter", "pick_namespace", "sort_next", "sort_reverse",
                    "wizard"}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The panes' keys work on the panes only, not under a wizard or a modal."""
        return action not in self.PANE_ACTIONS or self.screen is self.screen_stack[0]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands, and on the panes (where their keys work) the wizards and the views.
        They run as the keys do, through `check_action`: a wizard opened here is read-only too
        under --read-only."""
        yield from super().get_system_commands(screen)
        if screen is self.screen_stack[0]:
            for title, help_text, action in PALETTE:
                yield SystemCommand(title, help_text, partial(self.run_action, action))

    def action_wizard(self, kind: str) -> None:
        from .wizards import WizardScreen  # the engine and its clients load when a wizard opens

        self.push_screen(WizardScreen(kind, self.config, in_cluster=set(self.kube_state.of("Node")),
                                      read_only=self.read_only))

    def on_wizard_screen_applied(self) -> None:
        """A bootstrap may have just written the kubeconfig the watch found missing: look again now
        rather than after the backoff (or never, for a missing kubeconfig)."""
        if self.components.get("kubernetes").health is not Health.CONNECTED:
            self._failures["kubernetes"] = 0
            self.watch_cluster()

    # -- filter, namespace and sort -------------------------------------------------------------

    def action_edit_filter(self) -> None:
        editor = self.query_one("#filter", Input)
        current = self.filters.get(self.active_pane)
        editor.value = current.pattern if current else ""
        editor.add_class("editing")
        editor.focus()

    @on(Input.Submitted, "#filter")  # only the filter: other inputs (a sudo password!) are not filters
    def apply_filter(self, event: Input.Submitted) -> None:
        pane_id = self.active_pane
        try:
            self.set_filter(pane_id, event.value)
        except re.error as exc:
            self.notify(f"filter: not a regular expression: {exc}", severity="error")
            return
        event.input.remove_class("editing")
        self.table(pane_id).focus()

    def action_clear_filter(self) -> None:
        pane_id = self.active_pane
        self.query_one("#filter", Input).remove_class("editing")
        self.set_filter(pane_id, "")
        self.table(pane_id).focus()

    def set_filter(self, pane_id: str, pattern: str) -> None:
        """Show only the rows of `pane_id` with a cell matching `pattern` (case-insensitive)."""
        if pattern:
            self.filters[pane_id] = re.compile(pattern, re.IGNORECASE)
        else:
            self.filters.pop(pane_id, None)
        self._resync(pane_id)
        self._render_header()

    def action_pick_namespace(self) -> None:
        namespaces = sorted({obj.namespace for kind in ("Pod", "Service", "Ingress")
                             for obj in self.kube_state.of(kind).values()})
        self.push_screen(NamespaceScreen(namespaces, self.namespace), self.set_namespace)

    def set_namespace(self, namespace: str | None) -> None:
        """Show one namespace in the namespaced panes ("" for all); None leaves it as it is."""
        if namespace is None:
            return
        self.namespace = namespace
        for pane in PANES:
            if pane.namespaced:
                self._resync(pane.id)
        self._render_header()

    def action_sort_next(self) -> None:
        pane = PANE[self.active_pane]
        column, _ = self.sorting[pane.id]
        self.sort_by(pane.id, pane.columns[(pane.columns.index(column) + 1) % len(pane.columns)])

    def action_sort_reverse(self) -> None:
        column, reverse = self.sorting[self.active_pane]
        self.sort_by(self.active_pane, column, not reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        pane_id = event.data_table.id.removesuffix("-table")
        column, reverse = self.sorting[pane_id]
        clicked = str(event.column_key.value)
        self.sort_by(pane_id, clicked, not reverse if clicked == column else False)

    def sort_by(self, pane_id: str, column: str, reverse: bool = False) -> None:
        self.sorting[pane_id] = (column, reverse)
        self._update_pane(pane_id, (), lambda key: None, sort=True)

    def _sort(self, pane_id: str) -> None:
        column, reverse = self.sorting[pane_id]
        columns = (column, *(c for c in PANE[pane_id].default_sort if c != column))
        keys = [rows.sort_key(c) for c in columns]
        if len(columns) == 1:
            self.table(pane_id).sort(column, key=keys[0], reverse=reverse)
        else:
            self.table(pane_id).sort(*columns, key=lambda cells: tuple(k(c) for k, c in zip(keys, cells)),
                                     reverse=reverse)

    def _visible(self, pane_id: str, row: tuple) -> bool:
        if PANE[pane_id].namespaced and self.namespace and str(row[0]) != self.namespace:
            return False
        pattern = self.filters.get(pane_id)
        return pattern is None or any(pattern.search(str(cell)) for cell in row)

    # -- detail view -----------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        pane = PANE[event.data_table.id.removesuffix("-table")]
        key = event.row_key.value
        if pane.kind:
            self.show_object(pane.kind, key)
            return
        if pane.id == "nat":
            rule = self.router_rules.get(key)
            if rule is None:
                return
            menu = "nat" if isinstance(rule, NatRule) else "mangle"
            title, fields = f"/ip firewall {menu} {rule.id}", rule.raw
        else:
            check = self.dns_rows.get(key)
            if check is None:
                return
            title = f"DNS {check.name}"
            fields = {"name": check.name, "expected": check.expected, "actual": check.actual,
                      "status": "OK" if check.ok else "MISMATCH", "detail": check.detail}
        self.push_screen(DetailScreen(title, yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)))

    @work(group="detail", exclusive=True, exit_on_error=False, description="fetch an object")
    async def show_object(self, kind: str, key: str) -> None:
        """The object as the API has it now (the panes keep only the fields they show), in YAML
        without managedFields, as `kubectl get -o yaml` shows it."""
        namespace, _, name = key.rpartition("/")
        if self._kube is None:
            raise RuntimeError("not connected to the Kubernetes API")
        raw = await self._kube.get(kind, namespace or None, name)
        if raw is None:
            self.notify(f"{kind} {key} no longer exists", severity="warning")
            return
        raw["metadata"] = {k: v for k, v in raw.get("metadata", {}).items() if k != "managedFields"}
        await self.push_screen(DetailScreen(f"{kind} {key}", yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)))

    # -- header and captions ------------------------------------------------------------------

    def _set_health(self, component: str, health: Health, reason: str = "") -> None:
        """Record a component's health; its panes keep their rows but are marked stale (dimmed)."""
        if self.components.set(component, health, reason):
            stale = self.components.get(component).stale
            for pane in PANES:
                if pane.component == component:
                    self.table(pane.id).set_class(stale, "stale")
            self._render_header()

    def _render_header(self) -> None:
        if not self.is_mounted:
            return
        marks = {Health.CONNECTED: "[green]●[/]", Health.CONNECTING: "[yellow]○[/]",
                 Health.RETRYING: "[yellow]●[/]", Health.ERROR: "[red]●[/]"}
        about = [f"cluster [b]{self.config.cluster.name}[/]"]
        if self.kube_context:
            about.append(f"context [b]{self.kube_context}[/]")
        if self.router_identity is not None:
            about.append(f"router [b]{self.router_identity.identity}[/] (RouterOS {self.router_identity.version})")
        about.append(f"namespace [b]{self.namespace or 'all'}[/]")
        if pattern := self.filters.get(self.active_pane):
            about.append(f"filter [b]/{pattern.pattern}/[/]")
        health = []
        names = ["kubernetes"] + (["router"] if self.config.router else []) + (["dns"] if self.config.dns else [])
        for name in names:
            status = self.components.get(name)
            text = f"{marks[status.health]} {name}"
            if status.health is not Health.CONNECTED:
                text += f" {status.health.value}" + (f": {status.reason}" if status.reason else "")
            health.append(text)
        for node in sorted(self.kube_state.of("Node").values(), key=lambda n: rows.natural_key(n.name)):
            short = node.name.split(".")[0]
            health.append(f"[green]●[/] {short}" if node.status == "Ready" else f"[red]●[/] {short} {node.status}")
        self.query_one("#status", Static).update("  ".join(about) + "\n" + "  ".join(health))

    def _render_caption(self, pane_id: str) -> None:
        """The pane's title: its key and name, rows shown, sort order, filter, namespace."""
        table = self.table(pane_id)
        column, reverse = self.sorting[pane_id]
        pane = PANE[pane_id]
        parts = [f"[b]{PANES.index(pane) + 1} {pane.title}[/]", f"{table.row_count} rows",
                 f"sort {column} {'▼' if reverse else '▲'}"]
        if pattern := self.filters.get(pane_id):
            parts.append(f"/{pattern.pattern}/")
        if PANE[pane_id].namespaced and self.namespace:
            parts.append(f"ns {self.namespace}")
        if pane_id == "nat":
            parts.append(f"{rows.OURS} homelab-tui's")
        table.border_title = " · ".join(parts)

    def _styled(self, pane_id: str, cells: tuple[str, ...], row_style: str = "") -> tuple[Cell, ...]:
        """Cells shown as written, never as markup (a DataTable parses a str cell as markup, so a comment like
        "[homelab-tui default/nginx tcp/80]" would vanish), coloured from the theme: a whole-row
        style, or a status cell by its value."""
        styles = self._cell_styles()
        return tuple(
            Cell(cell, styles[row_style or (rows.status_style(cell) if column in rows.STATUS_COLUMNS else "")])
            for column, cell in zip(PANE[pane_id].columns, cells))

    def _cell_styles(self) -> dict[str, str]:
        """The named cell styles of rows.py in the current theme's colours."""
        theme = self.current_theme
        if self._styles_for != theme.name:
            self._styles_for = theme.name
            self._styles = {"": "", "bad": f"bold {theme.error}", "warn": theme.warning or "", "disabled": "dim",
                            "ours": theme.variables.get("homelab-ours", VARIABLE_DEFAULTS["homelab-ours"])}
        return self._styles

    # -- table updates by key -----------------------------------------------------------------

    def _resync(self, pane_id: str) -> None:
        """Re-evaluate every row of a pane (after its filter or namespace changed)."""
        if pane_id in self._polled_rows:
            self._replace_all(pane_id, self._polled_rows[pane_id])
            return
        keys, row_for = self._row_source(pane_id, self.clock())
        self._update_pane(pane_id, {*keys, *(key.value for key in self.table(pane_id).rows)}, row_for)

    def _update_pane(self, pane_id: str, keys: Iterable[str], row_for: Callable[[str], tuple | None],
                     *, sort: bool = False) -> None:
        """Update the rows of `keys`, re-sort if the order may have changed, and keep the cursor
        on the object it was on (the scroll position is left alone)."""
        table = self.table(pane_id)
        with self.batch_update(), table.cursor_kept():
            if self._upsert(pane_id, keys, row_for) or sort:
                self._sort(pane_id)
        self._render_caption(pane_id)

    def _upsert(self, pane_id: str, keys: Iterable[str], row_for: Callable[[str], tuple | None]) -> bool:
        """Bring the rows of `keys` in line: add, update changed cells only, or remove. Returns
        whether the order may have changed (a row added, or a cell of the sort column updated)."""
        table = self.table(pane_id)
        columns = [column.key for column in table.ordered_columns]
        sort_columns = {self.sorting[pane_id][0], *PANE[pane_id].default_sort}
        reordered = False
        added: list[tuple[str, tuple]] = []
        for key in keys:
            wanted = row_for(key)
            if wanted is not None and not self._visible(pane_id, wanted):
                wanted = None
            present = key in table.rows
            if wanted is None:
                if present:
                    table.remove_row(key)
            elif not present:
                added.append((key, wanted))
            else:
                for column, old, new in zip(columns, table.get_row(key), wanted):
                    if old.plain != new.plain or old.style != new.style:
                        table.update_cell(key, column, new, update_width=True)
                        reordered = reordered or column.value in sort_columns
        table.add_keyed_rows(added)
        return reordered or bool(added)

    def _replace_all(self, pane_id: str, wanted: dict[str, tuple]) -> None:
        """A polled pane: `wanted` is every row it should hold."""
        self._polled_rows[pane_id] = wanted
        stale = [key.value for key in self.table(pane_id).rows if key.value not in wanted]
        self._update_pane(pane_id, [*stale, *wanted], wanted.get)

    # -- Kubernetes: watches into state, coalesced into keyed table updates ---------------------

    @work(group="kubernetes", exclusive=True, exit_on_error=False, description="watch the cluster")
    async def watch_cluster(self) -> None:
        def on_status(state: str, reason: str) -> None:
            self._set_health("kubernetes", Health.CONNECTED if state == "connected" else Health.RETRYING, reason)

        await _import_in_background("..clients.kube")
        client = kube_client(self.config, on_status=on_status, retry_cap=10.0)
        await client.open()
        self._kube, self.kube_context = client, client.context
        self._render_header()
        try:
            await asyncio.gather(*(self._pump(client, kind) for kind in WATCHED_KINDS))
        finally:
            self._kube = None
            await client.close()

    async def _pump(self, client: KubeClient, kind: str) -> None:
        async for event in client.watch(kind, keep_raw=False):  # Enter fetches the full object
            change = self.kube_state.apply(event)
            self._relisted = self._relisted or event.type is EventType.RELISTED
            if change:
                self._pending.setdefault(kind, set()).update(change.upserted, change.removed)
                if not self._apply_scheduled:
                    self._apply_scheduled = True
                    self.set_timer(FLUSH_SECONDS, self._apply_pending)

    def _row_source(self, pane_id: str, now: datetime | None) -> tuple[Iterable[str], Callable[[str], tuple | None]]:
        """Every key a Kubernetes pane should show, and the row for a key (None: no such object)."""
        if pane_id == "pods":
            pods = self.kube_state.of("Pod")
            return pods, lambda key: self._styled("pods", rows.pod_row(pods[key], now)) if key in pods else None
        if pane_id == "services":
            services = self.kube_state.of("Service")
            nat = [rule for rule in self.router_rules.values() if isinstance(rule, NatRule)]
            mangle = [rule for rule in self.router_rules.values() if isinstance(rule, MangleRule)]

            def service_row(key: str) -> tuple | None:
                if key not in services:
                    return None
                return self._styled("services", rows.service_row(services[key], rows.exposure(services[key], nat, mangle), now))

            return services, service_row
        nodes = self.kube_state.of("Node")
        counts = rows.pods_per_node(self.kube_state.of("Pod"))

        def node_row(key: str) -> tuple | None:
            return self._styled("nodes", rows.node_row(nodes[key], counts.get(key, 0), now)) if key in nodes else None

        return nodes, node_row

    def _apply_pending(self) -> None:
        self._apply_scheduled = False
        pending, self._pending = self._pending, {}
        now = self.clock()
        changed_panes = {KIND_PANES[kind] for kind in pending if kind in KIND_PANES}
        if "Pod" in pending:
            changed_panes.add("nodes")  # the pod count per node
        for pane_id in changed_panes:
            all_keys, row_for = self._row_source(pane_id, now)
            # Nodes are few: refresh them all when pods move; others only where events landed.
            keys = set(all_keys) if pane_id == "nodes" else set()
            self._update_pane(pane_id, keys | pending.get(PANE[pane_id].kind, set()), row_for)
        if "Node" in pending:
            self._render_header()
        if self._relisted:
            # A listing and its rows are long-lived and acyclic (10k pods are millions of objects):
            # freeze them out of the cyclic collector, whose passes over them took a third of the
            # CPU under churn.
            self._relisted = False
            gc.freeze()

    # -- router and DNS: polls that never overlap ------------------------------------------

    @work(group="router", exclusive=True, exit_on_error=False, description="poll the router")
    async def poll_router(self) -> None:
        if self._router is None:
            await _import_in_background("..clients.router")
            self._router = await router_client(self.config)
        nat_rules = await self._router.nat_rules()
        mangle_rules = await self._router.mangle_rules()
        self.cloud = await self._router.cloud()
        self.router_identity = self.router_identity or await self._router.identity()
        # The mark-connection rules that feed dst-nat (PCC), then NAT in router order.
        shown = [(f"mangle{r.id}", r) for r in mangle_rules if r.action == "mark-connection"]
        shown += [(f"nat{r.id}", r) for r in nat_rules]
        self.router_rules = dict(shown)
        self._set_health("router", Health.CONNECTED)
        self._replace_all("nat", {
            key: self._styled("nat", (str(position), *(rows.nat_row(r) if isinstance(r, NatRule)
                                                       else rows.mangle_row(r))), rows.rule_style(r))
            for position, (key, r) in enumerate(shown)})
        keys, row_for = self._row_source("services", self.clock())
        self._update_pane("services", list(keys), row_for)  # the EXPOSED column
        self._start_dns_once()
        self._poll_again("router")

    def _start_dns_once(self) -> None:
        if self.config.dns is not None and not self._dns_started:
            self._dns_started = True
            self.poll_dns()

    @work(group="dns", exclusive=True, exit_on_error=False, description="check DNS")
    async def poll_dns(self) -> None:
        await _import_in_background("..clients.dns", "..clients.cloudflare")
        records = None
        if self.config.dns.cloudflare is not None:
            async with await cloudflare_client(self.config) as cloudflare:
                zone = await cloudflare.zone_by_name(self.config.dns.cloudflare.zone)
                records = await cloudflare.list_records(zone["id"]) if zone else []
        hosts = [host for ingress in self.kube_state.of("Ingress").values() for host in ingress.hosts]
        checks = await dns_checks(self.config, dns_client(self.config), self.cloud, records, hosts)
        self._set_health("dns", Health.CONNECTED)
        self.dns_rows = {check.name: check for check in checks}
        self._replace_all("dns", {check.name: self._styled("dns", rows.dns_row(check)) for check in checks})
        self._poll_again("dns")

    # -- one handler for every worker's failure ----------------------------------------------

    def _poll_again(self, component: str) -> None:
        """After a good poll: the next one in `refresh_seconds`."""
        self._failures[component] = 0
        self.set_timer(self.config.ui.refresh_seconds, self._restarter(component))

    def _restarter(self, component: str) -> Callable[[], object]:
        return {"kubernetes": self.watch_cluster, "router": self.poll_router, "dns": self.poll_dns}[component]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker failed: say why in the header, keep the last rows (stale), retry with backoff.
        A missing secret or kubeconfig does not fix itself, so it is reported and not retried.
        A failed detail look-up is a notification."""
        if event.state is not WorkerState.ERROR or not self.is_running:
            return  # a worker caught by shutdown, with the panes already gone: nothing to report
        from ..clients.kube import KubeConfigError  # loaded by now: the failed worker imported it

        component, error = event.worker.group, event.worker.error
        if component == "detail":  # one look-up on Enter: say why, nothing to retry
            self.notify(f"cannot show the object: {describe_error(error)}", severity="error")
            return
        if component.startswith("wizard"):  # reading facts or applying: the user retries from the wizard
            self.notify(f"{event.worker.description}: {describe_error(error)}", severity="error", timeout=15)
            return
        permanent = isinstance(error, (SecretError, KubeConfigError))
        reason = describe_error(error) + ("; b bootstraps a cluster" if isinstance(error, KubeConfigError) else "")
        self._set_health(component, Health.ERROR if permanent else Health.RETRYING, reason)
        if component == "router":
            self._start_dns_once()  # DNS rows say "router not reached" rather than waiting
        if not permanent:
            failures = self._failures[component] = self._failures.get(component, 0) + 1
            delay = min(self.config.ui.refresh_seconds * 2 ** (failures - 1), RETRY_CAP_SECONDS)
            self.set_timer(delay, self._restarter(component))
