"""The panes of the live view, one module each (base.py says what a pane declares, and how to give
it keys of its own); dashboard.py holds them and feeds them."""

from __future__ import annotations

from .base import KubePane, Pane
from .deployments import DeploymentsPane
from .dns import DnsPane
from .ingresses import IngressesPane
from .nat import NatPane
from .nodes import NodesPane
from .pods import PodsPane
from .services import ServicesPane

PANES: tuple[type[Pane], ...] = (NodesPane, PodsPane, ServicesPane, NatPane, DnsPane, DeploymentsPane,
                                 IngressesPane)  # by KEY
# The Kubernetes kinds watched: the kube panes' (Ingress's hosts also feed the DNS checks).
WATCHED_KINDS = tuple(dict.fromkeys(pane.SOURCE for pane in PANES if issubclass(pane, KubePane)))
# The dashboard's order (Tab order too): services and DNS share a row on wide screens.
DASHBOARD_ORDER = ("nodes", "pods", "services", "dns", "nat")  # the others are shown only alone

__all__ = ["DASHBOARD_ORDER", "PANES", "WATCHED_KINDS", "DeploymentsPane", "DnsPane",
           "IngressesPane", "KubePane", "NatPane", "NodesPane", "Pane", "PodsPane", "ServicesPane"]
