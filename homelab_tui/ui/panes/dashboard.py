"""The dashboard: every pane, together or one alone, and the feeds that fill the state they show.

Kubernetes arrives through watches into `state.LabState`; a burst of events within FLUSH_SECONDS
becomes one update of the panes it touches (`Pane.follow`). The router and DNS are polled: each
poll posts what it read (RouterPolled, DnsPolled), and the next is scheduled only once that has
been handled, so polls never overlap. The feeds run as workers of the app, one group per
component, so that a failure reaches the app's one error router, which reports it to `failed`.
After each router poll every exposure is judged for drift and stale PCC (plans/repair.py), one
check at a time, off the poll: a failed check is said in the NAT pane and never stops the polls.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message

from ...config import Config
from ...connect import cloudflare_client, dns_client, kube_client, router_client
from ...facts.dns import dns_checks, polled_gateway_entry
from ...models import CloudStatus, DnsCheck, EventType, MangleRule, NatRule, RouterIdentity
from ...state import Health, LabState, describe_error
from . import DASHBOARD_ORDER, PANES, WATCHED_KINDS, Pane

if TYPE_CHECKING:
    from ...clients.kube import KubeClient
    from ...clients.router import RouterClient

FLUSH_SECONDS = 0.02  # bursts of watch events within this window become one table update
PREVIEW_OBJECTS = 100  # of a long List, shown ahead of the rest (a screenful and more)
RETRY_CAP_SECONDS = 60.0
AGE_SECONDS = 1.0  # how often the AGE cells on screen are brought up to date
# The drift check follows the router polls, at most this often: each reads the Cloudflare zone (4
# calls), and Cloudflare allows 1200 calls per 5 minutes (at the default refresh, every poll).
EXPOSURE_CHECK_SECONDS = 5.0
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


@dataclass
class ExposuresChecked(Message):
    statuses: list  # of plans.repair.ExposureStatus
    error: str = ""  # why the check failed (statuses then empty)


def share(needs: list[int], room: int, minimum: int = 1) -> list[int]:
    """Heights for `needs` within `room`: every need met if they fit; otherwise the smaller needs
    are met and the larger ones share what is left equally (none below `minimum`)."""
    heights = [0] * len(needs)
    left = room
    for done, index in enumerate(sorted(range(len(needs)), key=needs.__getitem__)):
        heights[index] = max(min(needs[index], left // (len(needs) - done)), minimum)
        left -= heights[index]
    return heights


FEEDS = ("kubernetes", "router", "dns")  # the components whose workers feed the panes, by worker group


class Dashboard(Container):
    class Changed(Message):
        """Something the header shows changed: a component's health, the context, the nodes."""

    @dataclass
    class TurnedStale(Message):
        """An exposure's PCC turned stale, or stale for other reasons (the app may rebalance it)."""

        status: object  # plans.repair.ExposureStatus

    def __init__(self, config: Config, state: LabState, clock: Callable[[], datetime | None]) -> None:
        super().__init__(id="dashboard")
        self.config = config
        self.state = state
        self.clock = clock  # returns None in snapshot mode: no ages on screen
        self.panes = {pane.NAME: pane(state, clock) for pane in PANES}
        self.kube: KubeClient | None = None  # while the watches run; Enter on a Kubernetes pane asks it
        self._router: RouterClient | None = None
        self._dns_started = False
        self._checking_exposures = False  # a drift check runs: the next poll skips its own
        self._exposures_checked = -EXPOSURE_CHECK_SECONDS  # when the last check started (monotonic)
        self._stale_seen: dict[str, tuple[str, ...]] = {}  # exposure → the stale reasons last reported
        self._failures: dict[str, int] = {}  # consecutive failures per component, for backoff
        self._pending: dict[str, set[str]] = {}  # watched kind → keys changed since the last flush
        self._apply_scheduled = False
        self._relisted = False  # a re-list is among the pending changes
        # The Lists are asked for now, while the app mounts: the API server takes a while to
        # answer a big one (0.3-0.6 s for 10k pods). The feed's worker takes the client over.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._kube_early: asyncio.Task[KubeClient] | None = loop.create_task(self._connect_kube()) if loop else None
        self._fitted: tuple[bool, list[int]] | None = None  # the panes' layout, as fit_panes last set it

    def compose(self) -> ComposeResult:
        for name in DASHBOARD_ORDER:
            yield self.panes[name]
        for name, pane in self.panes.items():
            if name not in DASHBOARD_ORDER:  # shown only alone
                pane.display = False
                yield pane

    def on_mount(self) -> None:
        # The live view keeps a large, stable heap (listings, rows, render caches). Full passes of
        # the cyclic collector over it stalled the event loop ~90 ms about once a second under
        # churn at 10k pods; they now come ten times less often (young generations unchanged).
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_GC_THRESHOLD)
        self.set_interval(AGE_SECONDS, self.refresh_ages)
        self.start("kubernetes")
        if self.config.router is not None:
            self.start("router")  # its first answer starts the DNS polls: they need the DDNS state
        elif self.config.dns is not None:
            self.start("dns")

    async def on_unmount(self) -> None:
        if (early := self._kube_early) is not None:  # never taken over by the feed
            self._kube_early = None
            early.cancel()
            await asyncio.wait({early})
            if not early.cancelled() and early.exception() is None:
                await early.result().close()
        if self._router is not None:
            await self._router.close()

    def show(self, name: str | None) -> None:
        """The pane `name` alone, or every pane (None)."""
        self.set_class(name is not None, "-single")
        if name is not None:
            for pane in self.panes.values():
                pane.set_class(pane.NAME == name, "-shown")
        for pane in self.panes.values():
            if pane.NAME not in DASHBOARD_ORDER:
                pane.display = pane.NAME == name
        self.fit_panes()

    def follow(self, changed: Mapping[str, Collection[str] | None]) -> None:
        """What changed in the state, by source (a kind, "router", "dns") → keys, None for all."""
        for pane in self.panes.values():
            pane.follow(changed)
        self.fit_panes()

    def on_resize(self) -> None:
        self.fit_panes()

    def fit_panes(self) -> None:
        """Size the panes by the rows they hold, within the screen: each gets what it needs while
        they all fit, the smaller needs first when they do not (`share`), and the Pods pane the
        room left over. On a wide screen Services and DNS share a row when both fit side by side
        in full, and are stacked otherwise."""
        if not self.size.height:
            return
        if self.has_class("-single"):
            self._fitted = None
            for pane in self.panes.values():
                pane.styles.height = "1fr"
            return
        wide = self.screen.has_class("-wide")
        services, dns = self.panes["services"], self.panes["dns"]
        paired = wide and services.virtual_size.width + dns.virtual_size.width + 5 <= self.size.width
        self.set_class(not paired, "-stacked")
        border = 2 if wide else 1  # a rounded box, or a rule above each pane when narrow

        groups = [[self.panes[name]] for name in DASHBOARD_ORDER if name != "dns" or not paired]
        if paired:
            groups[DASHBOARD_ORDER.index("services")].append(dns)
        width = (self.size.width - 1) // 2 if paired else self.size.width  # of a pane in a pair

        def need(pane: Pane) -> int:
            """Its box, header and rows, and on a wide screen a scrollbar if its columns are wider."""
            inside = (width if pane in (services, dns) else self.size.width) - 2
            return border + pane.header_height + pane.row_count + (wide and pane.virtual_size.width > inside)

        heights = share([max(map(need, group)) for group in groups], self.size.height, minimum=border + 2)
        heights[DASHBOARD_ORDER.index("pods")] += max(self.size.height - sum(heights), 0)  # before services
        if (paired, heights) != self._fitted:  # a change of layout, not one every watch flush
            self._fitted = (paired, heights)
            self.styles.grid_rows = heights  # the wide grid's rows; the narrow layout is a stack
            for group, height in zip(groups, heights):
                for pane in group:
                    pane.styles.height = height

    def on_pane_measured(self) -> None:
        self.fit_panes()  # new rows measured: Services and DNS may no longer fit side by side

    def refresh_ages(self) -> None:
        """The ages on screen, up to now (none in snapshot mode)."""
        if (now := self.clock()) is not None:
            for pane in self.panes.values():
                if pane.display:
                    pane.refresh_ages(now)

    def set_namespace(self, namespace: str) -> None:
        for pane in self.panes.values():
            pane.set_namespace(namespace)

    # -- health, and starting the feeds again ---------------------------------------------------

    def set_health(self, component: str, health: Health, reason: str = "") -> None:
        """Record a component's health; its panes keep their rows but are marked stale (dimmed)."""
        if self.state.components.set(component, health, reason):
            stale = self.state.components.get(component).stale
            for pane in self.panes.values():
                if pane.COMPONENT == component:
                    pane.set_class(stale, "stale")
            self.post_message(self.Changed())

    def start(self, component: str, *, afresh: bool = False) -> None:
        """Run the feed of `component` (one of FEEDS); `afresh` forgets its failures."""
        if afresh:
            self._failures[component] = 0
        feed, description = {"kubernetes": (self._watch_cluster, "watch the cluster"),
                             "router": (self._poll_router, "poll the router"),
                             "dns": (self._poll_dns, "check DNS")}[component]
        self.app.run_worker(feed, group=component, exclusive=True, exit_on_error=False, description=description)

    def failed(self, component: str, health: Health, reason: str) -> None:
        """The feed of `component` failed: mark it, and unless that is permanent (ERROR) start it
        again, later each time it fails in a row."""
        self.set_health(component, health, reason)
        if component == "router":
            self._start_dns_once()  # DNS rows say "router not reached" rather than waiting
        if health is not Health.ERROR:
            failures = self._failures[component] = self._failures.get(component, 0) + 1
            delay = min(self.config.ui.refresh_seconds * 2 ** (failures - 1), RETRY_CAP_SECONDS)
            self.set_timer(delay, partial(self.start, component))

    def _polled(self, component: str) -> None:
        """After a good poll: connected, and the next one in `refresh_seconds`."""
        self.set_health(component, Health.CONNECTED)
        self._failures[component] = 0
        self.set_timer(self.config.ui.refresh_seconds, partial(self.start, component))

    # -- Kubernetes: watches into the state, coalesced into keyed table updates -------------------

    def _kube_status(self, state: str, reason: str) -> None:
        self.set_health("kubernetes", Health.CONNECTED if state == "connected" else Health.RETRYING, reason)

    async def _connect_kube(self) -> KubeClient:
        """A client for the cluster, its Lists asked for (the small ones first)."""
        client = kube_client(self.config, on_status=self._kube_status, retry_cap=10.0)
        await client.open()
        client.prefetch(*sorted(WATCHED_KINDS, key=lambda kind: kind == "Pod"))
        return client

    async def _watch_cluster(self) -> None:
        early, self._kube_early = self._kube_early, None
        client = await early if early is not None else await self._connect_kube()
        self.kube, self.state.kube_context = client, client.context
        self.post_message(self.Changed())
        try:
            await asyncio.gather(*(self._pump(client, kind) for kind in WATCHED_KINDS))
        finally:
            self.kube = None
            await client.close()

    async def _pump(self, client: KubeClient, kind: str) -> None:
        async for event in client.watch(kind, keep_raw=False,  # Enter fetches it whole
                                        preview=PREVIEW_OBJECTS):
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
        self.follow(pending)
        if "Node" in pending:
            self.post_message(self.Changed())
        if self._relisted:
            # A listing and its rows are long-lived and acyclic (10k pods are millions of objects):
            # freeze them out of the cyclic collector, whose passes over them took a third of the
            # CPU under churn.
            self._relisted = False
            gc.freeze()

    # -- router and DNS: polls that never overlap --------------------------------------------------

    async def _poll_router(self) -> None:
        if self._router is None:
            await _import_in_background("...clients.router")
            self._router = await router_client(self.config)
        nat_rules = await self._router.nat_rules()
        mangle_rules = await self._router.mangle_rules()
        cloud = await self._router.cloud()
        identity = self.state.router_identity or await self._router.identity()
        self.post_message(RouterPolled(nat_rules, mangle_rules, cloud, identity))

    def on_router_polled(self, polled: RouterPolled) -> None:
        self.state.set_router(polled.nat_rules, polled.mangle_rules, polled.cloud, polled.identity)
        self._polled("router")
        self.follow({"router": None})  # NAT, and the Services' EXPOSED column
        self._start_dns_once()
        due = time.monotonic() >= self._exposures_checked + EXPOSURE_CHECK_SECONDS
        if due and not self._checking_exposures and not self.state.components.get("kubernetes").stale:  # reads both
            self._checking_exposures, self._exposures_checked = True, time.monotonic()
            self.app.run_worker(self._check_exposures, group="exposures", exit_on_error=False,
                                description="check the exposures for drift")

    async def _check_exposures(self) -> None:
        """Judge every exposure against its record. Any failure is posted, not raised: the check
        must never stop the router's polls or take the NAT pane down."""
        from ...facts.exposures import exposure_inputs  # the repair judge loads with the first check
        from ...plans.repair import exposure_status

        try:
            inputs = await exposure_inputs(self.config)
            # pure but not free (hundreds of rules): judged off the event loop, so the panes keep up
            statuses = await asyncio.to_thread(lambda: [exposure_status(answers, facts) for answers, facts in inputs])
        except Exception as error:  # noqa: BLE001 - shown in the NAT pane's caption, checked again next poll
            self.post_message(ExposuresChecked([], describe_error(error)))
        else:
            self.post_message(ExposuresChecked(statuses))

    def on_exposures_checked(self, checked: ExposuresChecked) -> None:
        self._checking_exposures = False
        if checked.error:
            self.state.exposures_error = checked.error  # said in the NAT pane's caption
        else:
            self.state.set_exposures(checked.statuses)
            for key, status in self.state.exposures.items():
                if status.stale and self._stale_seen.get(key) != status.stale:
                    self.post_message(self.TurnedStale(status))
            self._stale_seen = {key: status.stale for key, status in self.state.exposures.items() if status.stale}
        self.follow({"exposures": None})

    def _start_dns_once(self) -> None:
        if self.config.dns is not None and not self._dns_started:
            self._dns_started = True
            self.start("dns")

    async def _poll_dns(self) -> None:
        await _import_in_background("...clients.dns", "...clients.cloudflare")
        records = None
        if self.config.dns.cloudflare is not None:
            async with await cloudflare_client(self.config) as cloudflare:
                zone = await cloudflare.zone_by_name(self.config.dns.cloudflare.zone)
                records = await cloudflare.list_records(zone["id"]) if zone else []
        checks = await dns_checks(self.config, dns_client(self.config), self.state.cloud, records,
                                  self.state.ingress_hosts(), await polled_gateway_entry(self._router),
                                  self.state.router_identity)
        self.post_message(DnsPolled(checks))

    def on_dns_polled(self, polled: DnsPolled) -> None:
        self.state.set_dns(polled.checks)
        self._polled("dns")
        self.follow({"dns": None})
