"""Who answers a TCP connection to `address:port` on the lab's LAN, from the Kubernetes sim's state
at connection time: kube-proxy on the nodes and the LoadBalancer addresses.

- A node's address (a Node of the cluster, Ready: its kube-proxy runs): the port answers when it is
  the NodePort of a Service with a Ready endpoint, or the port of a LoadBalancer Service whose
  ingress is that address (k3s ServiceLB). Anything else is refused: kube-proxy rejects a NodePort
  without endpoints, and nothing else listens. A lab machine that is no Ready Node refuses too.
- A LoadBalancer ingress address that is no node's: its port answers when the Service has a Ready
  endpoint, any other port is refused.
- Any other address: nobody has it; the connection times out.

The sim's pods answer every HTTP GET of / with 200. The router's /tool/fetch and the nodes' curl
ask this (sim/lab.py wires them), as sim/cluster_dns.py does for the router's DNS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from .kube_api import KubeApiSim

Answer = Literal["answers", "refused", "timeout"]


class KubeProxy:
    def __init__(self, kube: KubeApiSim, lab_addresses: Callable[[], Iterable[str]]) -> None:
        self.kube, self.lab_addresses = kube, lab_addresses  # lab_addresses: every machine's, joined or not

    def connect(self, address: str, port: int) -> Answer:
        services = self.kube.list("Service")
        node = next((n for n in self.kube.list("Node") if address in _internal_ips(n)), None)
        if node is not None and _ready(node):
            wanted = [svc for svc in services if port in _node_ports(svc) or port in _lb_ports(svc, address)]
        elif node is not None or address in set(self.lab_addresses()):
            return "refused"
        else:
            wanted = [svc for svc in services if port in _lb_ports(svc, address)]
            if not any(_lb_ports(svc, address) for svc in services):
                return "timeout"
        return "answers" if any(self._ready_endpoint(svc) for svc in wanted) else "refused"

    def _ready_endpoint(self, svc: dict) -> bool:
        endpoints = self.kube.get("Endpoints", svc["metadata"]["namespace"], svc["metadata"]["name"]) or {}
        return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])  # the Ready ones


def _node_ports(svc: dict) -> set[int]:
    return {p["nodePort"] for p in svc["spec"].get("ports") or [] if p.get("nodePort")}


def _lb_ports(svc: dict, address: str) -> set[int]:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if address not in (entry.get("ip") for entry in ingress):
        return set()
    return {p["port"] for p in svc["spec"].get("ports") or []}


def _internal_ips(node: dict) -> list[str]:
    return [a["address"] for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]


def _ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])
