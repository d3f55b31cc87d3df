"""The live view: Nodes, Pods, Services, NAT and DNS panes, with a status line per component.

Kubernetes arrives through watches into `state.KubeState`; the router and DNS are polled, each
poll scheduling the next only when it has finished. Tables are updated by row key inside
`batch_update`, never cleared, so the cursor and scroll survive. A failing component marks its
panes stale and says why in the status line; it never stops the app or another pane.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from datetime import datetime

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from ..clients.kube import KubeClient
from ..check import describe_error
from ..clients.router import RouterClient
from ..config import Config, SecretError
from ..connect import cloudflare_client, dns_client, kube_client, router_client
from ..dns_status import dns_checks
from ..models import CloudStatus, MangleRule, NatRule, RouterIdentity
from ..state import Components, Health, KubeState
from . import rows

PANES = (("nodes", "Nodes", rows.NODE_COLUMNS), ("pods", "Pods", rows.POD_COLUMNS),
         ("services", "Services", rows.SERVICE_COLUMNS), ("nat", "NAT", rows.NAT_COLUMNS),
         ("dns", "DNS", rows.DNS_COLUMNS))
KIND_PANES = {"Node": "nodes", "Pod": "pods", "Service": "services"}
PANE_KINDS = {pane: kind for kind, pane in KIND_PANES.items()}
COMPONENT_PANES = {"kubernetes": ("nodes", "pods", "services"), "router": ("nat",), "dns": ("dns",)}
FLUSH_SECONDS = 0.05  # bursts of watch events within this window become one table update


class HomelabApp(App[None]):
    TITLE = "homelab-tui"
    AUTO_FOCUS = "#nodes-table"  # not the hidden filter input
    CSS = """
    #status { height: 1; padding: 0 1; background: $panel; }
    #panes { height: 1fr; }
    #panes TabPane { height: 1fr; padding: 0; }
    DataTable { height: 1fr; }
    DataTable.stale { opacity: 60%; }
    #filter { dock: bottom; display: none; }
    #filter.editing { display: block; }
    """
    BINDINGS = [
        Binding("1", "show('nodes')", "Nodes", id="show_nodes"),
        Binding("2", "show('pods')", "Pods", id="show_pods"),
        Binding("3", "show('services')", "Services", id="show_services"),
        Binding("4", "show('nat')", "NAT", id="show_nat"),
        Binding("5", "show('dns')", "DNS", id="show_dns"),
        Binding("slash", "edit_filter", "Filter", id="filter"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, config: Config, *, clock: Callable[[], datetime | None] = rows.utc_now) -> None:
        super().__init__()
        self.config = config
        self.clock = clock  # returns None in snapshot mode: no ages on screen
        self.kube_state = KubeState()
        self.components = Components()
        self.nat_rules: list[NatRule] = []
        self.mangle_rules: list[MangleRule] = []
        self.cloud: CloudStatus | None = None
        self.router_identity: RouterIdentity | None = None
        self._router: RouterClient | None = None
        self._dns_started = False
        self.filters: dict[str, re.Pattern[str]] = {}  # per pane, k9s-style `/regex`
        self._snapshot_rows: dict[str, dict[str, tuple]] = {}  # last full rows of the polled panes
        self._pending: dict[str, set[str]] = {}
        self._flush_scheduled = False

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with TabbedContent(id="panes"):
            for pane_id, title, columns in PANES:
                with TabPane(title, id=pane_id):
                    table: DataTable = DataTable(id=f"{pane_id}-table", cursor_type="row", zebra_stripes=True)
                    for column in columns:
                        table.add_column(column, key=column)
                    yield table
        yield Input(placeholder="filter: a regular expression; Enter applies, Esc clears", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.set_keymap(self.config.ui.keymap)
        self._render_status()
        self.watch_cluster()
        if self.config.router is not None:
            self.poll_router()  # its first answer starts the DNS polls: they need the DDNS state
        elif self.config.dns is not None:
            self.poll_dns()

    async def on_unmount(self) -> None:
        if self._router is not None:
            await self._router.close()

    def action_show(self, pane_id: str) -> None:
        self.query_one(TabbedContent).active = pane_id
        self.table(pane_id).focus()
        self._render_status()  # the status line shows the shown pane's filter

    @property
    def active_pane(self) -> str:
        return self.query_one(TabbedContent).active or PANES[0][0]

    def action_edit_filter(self) -> None:
        editor = self.query_one("#filter", Input)
        current = self.filters.get(self.active_pane)
        editor.value = current.pattern if current else ""
        editor.add_class("editing")
        editor.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.set_filter(self.active_pane, event.value)
        except re.error as exc:
            self.notify(f"filter: not a regular expression: {exc}", severity="error")
            return
        event.input.remove_class("editing")
        self.table(self.active_pane).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).remove_class("editing")
        self.set_filter(self.active_pane, "")
        self.table(self.active_pane).focus()

    def set_filter(self, pane_id: str, pattern: str) -> None:
        """Show only the rows of `pane_id` with a cell matching `pattern` (case-insensitive)."""
        if pattern:
            self.filters[pane_id] = re.compile(pattern, re.IGNORECASE)
        else:
            self.filters.pop(pane_id, None)
        self._resync(pane_id)
        self._render_status()

    def _visible(self, pane_id: str, row: tuple) -> bool:
        pattern = self.filters.get(pane_id)
        return pattern is None or any(pattern.search(str(cell)) for cell in row)

    def _resync(self, pane_id: str) -> None:
        """Re-evaluate every row of a pane (after its filter changed)."""
        if pane_id in self._snapshot_rows:
            self._replace_all(pane_id, self._snapshot_rows[pane_id])
            return
        keys, row_for = self._row_source(pane_id, self.clock())
        with self.batch_update():
            self._upsert(pane_id, {*keys, *(key.value for key in self.table(pane_id).rows)}, row_for)
            self._sort(pane_id)

    def table(self, pane_id: str) -> DataTable:
        return self.query_one(f"#{pane_id}-table", DataTable)

    # -- status line ----------------------------------------------------------------------------

    def _set_health(self, component: str, health: Health, reason: str = "") -> None:
        """Record a component's health; its panes keep their rows but are marked stale (dimmed)."""
        if self.components.set(component, health, reason):
            stale = self.components.get(component).stale
            for pane_id in COMPONENT_PANES.get(component, ()):
                self.table(pane_id).set_class(stale, "stale")
            self._render_status()

    def _render_status(self) -> None:
        marks = {Health.CONNECTED: "[green]●[/]", Health.CONNECTING: "[yellow]○[/]",
                 Health.RETRYING: "[yellow]●[/]", Health.ERROR: "[red]●[/]"}
        names = ["kubernetes"] + (["router"] if self.config.router else []) + (["dns"] if self.config.dns else [])
        parts = [f"cluster [b]{self.config.cluster.name}[/]"]
        if self.router_identity is not None:
            parts.append(f"router [b]{self.router_identity.identity}[/]")
        for name in names:
            status = self.components.get(name)
            text = f"{marks[status.health]} {name}"
            if status.health is not Health.CONNECTED:
                text += f" {status.health.value}" + (f": {status.reason}" if status.reason else "")
            parts.append(text)
        if self.is_mounted and (pattern := self.filters.get(self.active_pane)):
            parts.append(f"filter [b]/{pattern.pattern}/[/]")
        self.query_one("#status", Static).update("  ".join(parts))

    # -- Kubernetes: watches into state, coalesced into keyed table updates ---------------------

    @work(group="kube", exclusive=True, exit_on_error=False, description="watch the cluster")
    async def watch_cluster(self) -> None:
        def on_status(state: str, reason: str) -> None:
            self._set_health("kubernetes", Health.CONNECTED if state == "connected" else Health.RETRYING, reason)

        try:
            client = kube_client(self.config, on_status=on_status, retry_cap=10.0)
            await client.open()
        except Exception as exc:  # no kubeconfig, bad context: say so and stay up
            self._set_health("kubernetes", Health.ERROR, describe_error(exc))
            return
        try:
            await asyncio.gather(*(self._pump(client, kind) for kind in KIND_PANES))
        finally:
            await client.close()

    async def _pump(self, client: KubeClient, kind: str) -> None:
        async for event in client.watch(kind):
            change = self.kube_state.apply(event)
            if change:
                self._pending.setdefault(kind, set()).update(change.upserted, change.removed)
                if not self._flush_scheduled:
                    self._flush_scheduled = True
                    self.set_timer(FLUSH_SECONDS, self._flush)

    SORT_COLUMNS = {"nodes": ("NAME",), "pods": ("NAMESPACE", "NAME"), "services": ("NAMESPACE", "NAME"),
                    "dns": ("NAME",)}

    def _sort(self, pane_id: str) -> None:
        if pane_id == "nat":  # router order: the position column, numerically
            self.table("nat").sort("#", key=lambda position: int(position))
        else:
            self.table(pane_id).sort(*self.SORT_COLUMNS[pane_id])

    def _row_source(self, pane_id: str, now: datetime | None) -> tuple[Iterable[str], Callable[[str], tuple | None]]:
        """Every key a Kubernetes pane should show, and the row for a key (None: no such object)."""
        if pane_id == "pods":
            pods = self.kube_state.of("Pod")
            return pods, lambda key: rows.pod_row(pods[key], now) if key in pods else None
        if pane_id == "services":
            services = self.kube_state.of("Service")

            def service_row(key: str) -> tuple | None:
                if key not in services:
                    return None
                exposed = rows.exposure(services[key], self.nat_rules, self.mangle_rules)
                return rows.service_row(services[key], exposed, now)

            return services, service_row
        nodes = self.kube_state.of("Node")
        counts = rows.pods_per_node(self.kube_state.of("Pod"))
        return nodes, lambda key: rows.node_row(nodes[key], counts.get(key, 0), now) if key in nodes else None

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        now = self.clock()
        changed_panes = {KIND_PANES[kind] for kind in pending}
        if "Pod" in pending:
            changed_panes.add("nodes")  # the pod count per node
        with self.batch_update():
            for pane_id in changed_panes:
                all_keys, row_for = self._row_source(pane_id, now)
                kind = PANE_KINDS[pane_id]
                # Nodes are few: refresh them all when pods move; others only where events landed.
                keys = set(all_keys) if pane_id == "nodes" else set()
                self._upsert(pane_id, keys | pending.get(kind, set()), row_for)
                self._sort(pane_id)

    def _upsert(self, pane_id: str, keys: Iterable[str], row_for: Callable[[str], tuple | None]) -> None:
        """Bring the rows of `keys` in line: add, update changed cells only, or remove."""
        table = self.table(pane_id)
        columns = [column.key for column in table.ordered_columns]
        for key in keys:
            wanted = row_for(key)
            if wanted is not None and not self._visible(pane_id, wanted):
                wanted = None
            present = key in table.rows
            if wanted is None:
                if present:
                    table.remove_row(key)
            elif not present:
                table.add_row(*wanted, key=key)
            else:
                current = table.get_row(key)
                for column, old, new in zip(columns, current, wanted):
                    if old != new:
                        table.update_cell(key, column, new, update_width=True)

    def _replace_all(self, pane_id: str, wanted: dict[str, tuple]) -> None:
        self._snapshot_rows[pane_id] = wanted
        table = self.table(pane_id)
        stale = [key.value for key in table.rows if key.value not in wanted]
        with self.batch_update():
            self._upsert(pane_id, [*stale, *wanted], wanted.get)
            self._sort(pane_id)

    # -- router and DNS: polls that never overlap ------------------------------------------

    @work(group="router", exclusive=True, exit_on_error=False, description="poll the router")
    async def poll_router(self) -> None:
        try:
            if self._router is None:
                self._router = await router_client(self.config)
            self.nat_rules = await self._router.nat_rules()
            self.mangle_rules = await self._router.mangle_rules()
            self.cloud = await self._router.cloud()
            self.router_identity = self.router_identity or await self._router.identity()
        except SecretError as exc:
            self._set_health("router", Health.ERROR, str(exc))
            self._start_dns_once()
            return  # a missing secret does not fix itself: no retry
        except Exception as exc:
            self._set_health("router", Health.RETRYING, describe_error(exc))
        else:
            self._set_health("router", Health.CONNECTED)
            self._show_router()
        self._start_dns_once()
        self.set_timer(self.config.ui.refresh_seconds, self.poll_router)

    def _start_dns_once(self) -> None:
        if self.config.dns is not None and not self._dns_started:
            self._dns_started = True
            self.poll_dns()

    def _show_router(self) -> None:
        shown = [(f"mangle{r.id}", rows.mangle_row(r)) for r in self.mangle_rules if r.action == "mark-connection"]
        shown += [(f"nat{r.id}", rows.nat_row(r)) for r in self.nat_rules]
        self._replace_all("nat", {key: (str(position), *row) for position, (key, row) in enumerate(shown)})
        keys, row_for = self._row_source("services", self.clock())
        with self.batch_update():
            self._upsert("services", list(keys), row_for)

    @work(group="dns", exclusive=True, exit_on_error=False, description="check DNS")
    async def poll_dns(self) -> None:
        try:
            records = None
            if self.config.dns.cloudflare is not None:
                async with await cloudflare_client(self.config) as cloudflare:
                    zone = await cloudflare.zone_by_name(self.config.dns.cloudflare.zone)
                    records = await cloudflare.list_records(zone["id"]) if zone else []
            checks = await dns_checks(self.config, dns_client(self.config), self.cloud, records)
        except Exception as exc:
            self._set_health("dns", Health.RETRYING, describe_error(exc))
        else:
            self._set_health("dns", Health.CONNECTED)
            self._replace_all("dns", {check.name: rows.dns_row(check) for check in checks})
        self.set_timer(self.config.ui.refresh_seconds, self.poll_dns)
