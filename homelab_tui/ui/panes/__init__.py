"""The panes of the live view, one module each (see base.py for what a pane declares, and how to
give it keys of its own), and the dashboard that holds them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Container

from ...state import LabState
from .base import KubePane, Pane
from .dns import DnsPane
from .nat import NatPane
from .nodes import NodesPane
from .pods import PodsPane
from .services import ServicesPane

PANES: tuple[type[Pane], ...] = (NodesPane, PodsPane, ServicesPane, NatPane, DnsPane)  # by KEY
# The Kubernetes kinds watched: the kube panes' and Ingress, whose hosts feed the DNS checks.
WATCHED_KINDS = (*(pane.SOURCE for pane in PANES if issubclass(pane, KubePane)), "Ingress")
# The dashboard's order (Tab order too): services and DNS share a row on wide screens.
DASHBOARD_ORDER = ("nodes", "pods", "services", "dns", "nat")

__all__ = ["DASHBOARD_ORDER", "PANES", "WATCHED_KINDS", "Dashboard", "DnsPane", "KubePane", "NatPane", "NodesPane", "Pane",
           "PodsPane", "ServicesPane"]


class Dashboard(Container):
    """Every pane together, or one alone (`show`); state changes reach them through `follow`."""

    def __init__(self, state: LabState, clock: Callable[[], datetime | None]) -> None:
        super().__init__(id="dashboard")
        self.panes = {pane.NAME: pane(state, clock) for pane in PANES}

    def compose(self) -> ComposeResult:
        for name in DASHBOARD_ORDER:
            yield self.panes[name]

    def show(self, name: str | None) -> None:
        """The pane `name` alone, or every pane (None)."""
        self.set_class(name is not None, "-single")
        if name is not None:
            for pane in self.panes.values():
                pane.set_class(pane.NAME == name, "-shown")

    def follow(self, changed: Mapping[str, Collection[str] | None]) -> None:
        """What changed in the state, by source (a kind, "router", "dns") → keys, None for all."""
        for pane in self.panes.values():
            pane.follow(changed)

    def set_namespace(self, namespace: str) -> None:
        for pane in self.panes.values():
            pane.set_namespace(namespace)

    def mark_stale(self, component: str, stale: bool) -> None:
        """Dim the panes whose data comes from `component` while it may be out of date."""
        for pane in self.panes.values():
            if pane.COMPONENT == component:
                pane.set_class(stale, "stale")
