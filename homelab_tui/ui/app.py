"""The live view: Nodes, Pods, Services, NAT and DNS panes on a dashboard, each one key away.

Each pane is a unit in ui/panes/ (its columns, rows, Enter and keys); each keeps its table by row
key (widgets.LiveTable). The app composes them, switches between the dashboard and one pane,
draws the header, and runs the workers that feed `state.LabState`. Kubernetes arrives through
watches, coalesced into table updates; the router and DNS are polled, each poll posting what it
read (RouterPolled, DnsPolled) and scheduling the next only when it has finished. A failing
component marks its panes stale and says why in the header; every worker error goes to
`on_worker_state_changed`, which retries with backoff. One component failing never stops the app
or another pane.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from ..config import Config, ConfigError, ConfigIssue, SecretError
from ..connect import cloudflare_client, dns_client, kube_client, router_client
from ..facts.dns import dns_checks
from ..models import CloudStatus, DnsCheck, EventType, MangleRule, NatRule, RouterIdentity
from ..state import Health, LabState, describe_error
from . import rows
from .commands import HomelabCommands, palette_commands, wizard_bindings
from .modals import ALL_NAMESPACES, NamespaceScreen
from .panes import PANES, WATCHED_KINDS, Dashboard, Pane
from .themes import VARIABLE_DEFAULTS, load_themes

if TYPE_CHECKING:
    from ..clients.kube import KubeClient
    from ..clients.router import RouterClient

FLUSH_SECONDS = 0.02  # bursts of watch events within this window become one table update
RETRY_CAP_SECONDS = 60.0
FULL_GC_THRESHOLD = 100  # Python's default is 10 middle-generation passes per full pass


async def _import_in_background(*names: str) -> None:
    """Import client modules in a thread before their first use. The client libraries
    (kubernetes-asyncio, librouteros, dnspython, aiohttp) take longer to import than Textual;
    `connect` imports each one when first called, which on the event loop would hold up the
    first frame."""
    await asyncio.to_thread(lambda: [importlib.import_module(name, __package__) for name in names])


@dataclass
class RouterPolled(Message):
    nat_rules: list[NatRule]
    mangle_rules: list[MangleRule]
    cloud: CloudStatus
    identity: RouterIdentity


@dataclass
class DnsPolled(Message):
    checks: list[DnsCheck]


class HomelabApp(App[None]):
    TITLE = "homelab-tui"
    CSS_PATH = "app.tcss"
    AUTO_FOCUS = "#nodes-table"  # not the hidden filter input
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
    COMMANDS = {HomelabCommands}
    BINDINGS = [
        Binding("0", "dashboard", "All panes", id="show_dashboard", tooltip="Every pane together"),
        # 1-5 show one pane; their numbers are in the pane titles, so the footer keeps its room
        *(Binding(pane.KEY, f"show('{pane.NAME}')", pane.TITLE, id=f"show_{pane.NAME}", show=False) for pane in PANES),
        Binding("slash", "edit_filter", "Filter", id="filter", tooltip="Show rows matching a regular expression"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False),
        Binding("n", "pick_namespace", "Namespace", id="namespace", tooltip="Pods and Services of one namespace"),
        Binding("s", "sort_next", "Sort", id="sort", tooltip="Sort the pane by its next column"),
        Binding("S", "sort_reverse", "Reverse", id="sort_reverse", show=False),
        *wizard_bindings(),
        Binding("q", "quit", "Quit", id="quit"),
    ]
    # The panes' keys (and the wizards') work on the panes only, not under a wizard or a modal.
    PANE_ACTIONS = {"show", "dashboard", "edit_filter", "clear_filter", "pick_namespace", "sort_next", "sort_reverse",
                    "wizard"}

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
        self.state = LabState()
        self.kube: KubeClient | None = None  # while the watches run; Enter on a Kubernetes pane asks it
        self.kube_context = ""
        self.view = "dashboard"  # or the name of the one pane shown
        self.namespace = ALL_NAMESPACES
        self._focused_pane = PANES[0].NAME
        self._router: RouterClient | None = None
        self._dns_started = False
        self._failures: dict[str, int] = {}  # consecutive failures per component, for backoff
        self._pending: dict[str, set[str]] = {}  # watched kind → keys changed since the last flush
        self._apply_scheduled = False
        self._relisted = False  # a re-list is among the pending changes

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **VARIABLE_DEFAULTS}

    # -- composition and views ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        self.dashboard = Dashboard(self.state, self.clock)
        yield self.dashboard
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
        self.watch_cluster()
        if self.config.router is not None:
            self.poll_router()  # its first answer starts the DNS polls: they need the DDNS state
        elif self.config.dns is not None:
            self.poll_dns()

    async def on_unmount(self) -> None:
        if self._router is not None:
            await self._router.close()

    def table(self, name: str) -> Pane:
        return self.dashboard.panes[name]

    @property
    def active_pane(self) -> Pane:
        return self.table(self._focused_pane if self.view == "dashboard" else self.view)

    @property
    def filters(self) -> dict[str, re.Pattern[str]]:
        """The panes' filters (`/regex`), of the panes that have one."""
        return {name: pane.filter for name, pane in self.dashboard.panes.items() if pane.filter is not None}

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, Pane):
            self._focused_pane = event.widget.NAME
            self._render_header()

    def action_show(self, name: str) -> None:
        self.view = name
        self.dashboard.show(name)
        self.table(name).focus()
        self._render_header()

    def action_dashboard(self) -> None:
        self.view = "dashboard"
        self.dashboard.show(None)
        self.table(self._focused_pane).focus()
        self._render_header()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in self.PANE_ACTIONS or self.screen is self.screen_stack[0]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands, and on the panes (where their keys work) the wizards and the views."""
        yield from super().get_system_commands(screen)
        if screen is self.screen_stack[0]:
            yield from palette_commands(self)

    def action_wizard(self, name: str) -> None:
        from .wizards import WizardScreen  # the engine and its clients load when a wizard opens

        self.push_screen(WizardScreen(name, self.config, in_cluster=set(self.state.kube.of("Node")),
                                      read_only=self.read_only))

    def on_wizard_screen_applied(self) -> None:
        """A bootstrap may have just written the kubeconfig the watch found missing: look again now
        rather than after the backoff (or never, for a missing kubeconfig)."""
        if self.state.components.get("kubernetes").health is not Health.CONNECTED:
            self._failures["kubernetes"] = 0
            self.watch_cluster()

    # -- filter, namespace and sort of the pane in front ----------------------------------------

    def action_edit_filter(self) -> None:
        editor = self.query_one("#filter", Input)
        current = self.active_pane.filter
        editor.value = current.pattern if current else ""
        editor.add_class("editing")
        editor.focus()

    @on(Input.Submitted, "#filter")  # only the filter: other inputs (a sudo password!) are not filters
    def apply_filter(self, event: Input.Submitted) -> None:
        try:
            self._set_filter(event.value)
        except re.error as exc:
            self.notify(f"filter: not a regular expression: {exc}", severity="error")

    def action_clear_filter(self) -> None:
        self._set_filter("")

    def _set_filter(self, pattern: str) -> None:
        pane = self.active_pane
        pane.set_filter(pattern)
        self.query_one("#filter", Input).remove_class("editing")
        pane.focus()
        self._render_header()

    def action_pick_namespace(self) -> None:
        self.push_screen(NamespaceScreen(self.state.namespaces(), self.namespace), self.set_namespace)

    def set_namespace(self, namespace: str | None) -> None:
        """Show one namespace in the namespaced panes ("" for all); None leaves it as it is."""
        if namespace is not None:
            self.namespace = namespace
            self.dashboard.set_namespace(namespace)
            self._render_header()

    def action_sort_next(self) -> None:
        self.active_pane.sort_next()

    def action_sort_reverse(self) -> None:
        self.active_pane.sort_reverse()

    # -- header ---------------------------------------------------------------------------------

    def _set_health(self, component: str, health: Health, reason: str = "") -> None:
        """Record a component's health; its panes keep their rows but are marked stale (dimmed)."""
        if self.state.components.set(component, health, reason):
            self.dashboard.mark_stale(component, self.state.components.get(component).stale)
            self._render_header()

    def _render_header(self) -> None:
        if not self.is_mounted:
            return
        marks = {Health.CONNECTED: "[green]●[/]", Health.CONNECTING: "[yellow]○[/]",
                 Health.RETRYING: "[yellow]●[/]", Health.ERROR: "[red]●[/]"}
        about = [f"cluster [b]{self.config.cluster.name}[/]"]
        if self.kube_context:
            about.append(f"context [b]{self.kube_context}[/]")
        if (router := self.state.router_identity) is not None:
            about.append(f"router [b]{router.identity}[/] (RouterOS {router.version})")
        about.append(f"namespace [b]{self.namespace or 'all'}[/]")
        if pattern := self.active_pane.filter:
            about.append(f"filter [b]/{pattern.pattern}/[/]")
        health = []
        names = ["kubernetes"] + (["router"] if self.config.router else []) + (["dns"] if self.config.dns else [])
        for name in names:
            status = self.state.components.get(name)
            text = f"{marks[status.health]} {name}"
            if status.health is not Health.CONNECTED:
                text += f" {status.health.value}" + (f": {status.reason}" if status.reason else "")
            health.append(text)
        for node in sorted(self.state.kube.of("Node").values(), key=lambda n: rows.natural_key(n.name)):
            short = node.name.split(".")[0]
            health.append(f"[green]●[/] {short}" if node.status == "Ready" else f"[red]●[/] {short} {node.status}")
        self.query_one("#status", Static).update("  ".join(about) + "\n" + "  ".join(health))

    # -- Kubernetes: watches into the state, coalesced into keyed table updates -------------------

    @work(group="kubernetes", exclusive=True, exit_on_error=False, description="watch the cluster")
    async def watch_cluster(self) -> None:
        def on_status(state: str, reason: str) -> None:
            self._set_health("kubernetes", Health.CONNECTED if state == "connected" else Health.RETRYING, reason)

        await _import_in_background("..clients.kube")
        client = kube_client(self.config, on_status=on_status, retry_cap=10.0)
        await client.open()
        self.kube, self.kube_context = client, client.context
        self._render_header()
        try:
            await asyncio.gather(*(self._pump(client, kind) for kind in WATCHED_KINDS))
        finally:
            self.kube = None
            await client.close()

    async def _pump(self, client: KubeClient, kind: str) -> None:
        async for event in client.watch(kind, keep_raw=False):  # Enter fetches the full object
            change = self.state.kube.apply(event)
            self._relisted = self._relisted or event.type is EventType.RELISTED
            if change:
                self._pending.setdefault(kind, set()).update(change.upserted, change.removed)
                if not self._apply_scheduled:
                    self._apply_scheduled = True
                    self.set_timer(FLUSH_SECONDS, self._apply_pending)

    def _apply_pending(self) -> None:
        self._apply_scheduled = False
        pending, self._pending = self._pending, {}
        self.dashboard.follow(pending)
        if "Node" in pending:
            self._render_header()
        if self._relisted:
            # A listing and its rows are long-lived and acyclic (10k pods are millions of objects):
            # freeze them out of the cyclic collector, whose passes over them took a third of the
            # CPU under churn.
            self._relisted = False
            gc.freeze()

    # -- router and DNS: polls that never overlap ------------------------------------------------

    @work(group="router", exclusive=True, exit_on_error=False, description="poll the router")
    async def poll_router(self) -> None:
        if self._router is None:
            await _import_in_background("..clients.router")
            self._router = await router_client(self.config)
        nat_rules = await self._router.nat_rules()
        mangle_rules = await self._router.mangle_rules()
        cloud = await self._router.cloud()
        identity = self.state.router_identity or await self._router.identity()
        self.post_message(RouterPolled(nat_rules, mangle_rules, cloud, identity))

    def on_router_polled(self, polled: RouterPolled) -> None:
        self.state.set_router(polled.nat_rules, polled.mangle_rules, polled.cloud, polled.identity)
        self._polled("router")
        self.dashboard.follow({"router": None})  # NAT, and the Services' EXPOSED column
        self._start_dns_once()

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
        checks = await dns_checks(self.config, dns_client(self.config), self.state.cloud, records,
                                  self.state.ingress_hosts())
        self.post_message(DnsPolled(checks))

    def on_dns_polled(self, polled: DnsPolled) -> None:
        self.state.set_dns(polled.checks)
        self._polled("dns")
        self.dashboard.follow({"dns": None})

    # -- one handler for every worker's failure --------------------------------------------------

    def _polled(self, component: str) -> None:
        """After a good poll: connected, and the next one in `refresh_seconds`."""
        self._set_health(component, Health.CONNECTED)
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
