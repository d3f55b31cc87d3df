"""Cluster DNS as the LAN reaches it: CoreDNS, behind the router's resolver.

`coredns` answers `<service>.<namespace>.svc.cluster.local` with the Service's ClusterIP, read from
the Kubernetes sim at query time (NXDOMAIN for a Service it does not hold). It listens on no port of
its own: the only way to it is the router's resolver (the lab's DnsSim), which asks `upstream(qname)`
before answering from its own data. As RouterOS 7 does with `/ip dns static`, the first enabled FWD
entry whose name is `qname` (or, with match-subdomain=yes, a parent of it) sends the query to its
`forward-to`. That reaches CoreDNS only when it is the LoadBalancer address of a Service on UDP 53
whose Ready endpoints are CoreDNS pods, which is what the DNS gateway makes; any other address never
answers, and the router gives up with SERVFAIL. A name no entry matches is answered as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dns.message
import dns.rcode

from .dns_server import DnsSim, Record, Upstream, normalize_name
from .kube_api import KubeApiSim
from .routeros import RouterOsSim

CLUSTER_DOMAIN = "cluster.local"
STATIC_MENU = "/ip/dns/static"
COREDNS_IMAGE = "coredns"  # in the image's name, e.g. rancher/mirrored-coredns-coredns


def forwarding_entry(entries: Iterable[Mapping[str, str]], qname: str) -> Mapping[str, str] | None:
    """The FWD entry RouterOS forwards `qname` by: the first enabled one matching it, in order."""
    qname = normalize_name(qname)
    for entry in entries:
        if entry.get("type") != "FWD" or entry.get("disabled") == "true":
            continue
        name = normalize_name(entry.get("name", ""))
        if qname == name or (entry.get("match-subdomain") == "true" and qname.endswith("." + name)):
            return entry
    return None


class ClusterDns:
    """CoreDNS of the lab's cluster, and the way the router's resolver reaches it."""

    def __init__(self, kube: KubeApiSim, router: RouterOsSim, domain: str = CLUSTER_DOMAIN) -> None:
        self.kube, self.router, self.domain = kube, router, domain
        self.coredns = DnsSim(self.records, zones=(domain,))  # answers in process; never started

    def records(self) -> list[Record]:
        """An A record of its ClusterIP for every Service that has one (not headless)."""
        return [(f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.{self.domain}", "A", ip)
                for svc in self.kube.list("Service") if (ip := svc["spec"].get("clusterIP")) not in (None, "", "None")]

    def upstream(self, qname: str) -> Upstream | None:
        """Who answers `qname` for the router's resolver: None when no FWD entry matches it."""
        entry = forwarding_entry(self.router.rules(STATIC_MENU), qname)
        if entry is None:
            return None
        return self.coredns.answer if self.reaches_coredns(entry.get("forward-to", "")) else _gives_up

    def reaches_coredns(self, address: str) -> bool:
        """Whether UDP 53 at `address` is CoreDNS: a LoadBalancer ingress of a Service on UDP 53
        with a Ready endpoint that is a CoreDNS pod."""
        for svc in self.kube.list("Service"):
            ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if address in (entry.get("ip") for entry in ingress) and any(
                    port.get("port") == 53 and port.get("protocol") == "UDP" for port in svc["spec"].get("ports") or []) \
                    and self._coredns_behind(svc["metadata"]["namespace"], svc["metadata"]["name"]):
                return True
        return False

    def _coredns_behind(self, namespace: str, name: str) -> bool:
        endpoints = self.kube.get("Endpoints", namespace, name) or {}
        for subset in endpoints.get("subsets") or []:
            for address in subset.get("addresses") or []:  # the Ready ones
                ref = address.get("targetRef") or {}
                pod = self.kube.get("Pod", ref.get("namespace"), ref.get("name", "")) if ref.get("kind") == "Pod" else None
                if pod and any(COREDNS_IMAGE in c.get("image", "") for c in pod["spec"].get("containers") or []):
                    return True
        return False


def _gives_up(query: dns.message.Message) -> dns.message.Message:
    """The upstream never answered: RouterOS answers SERVFAIL once its query-server-timeout passes."""
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.SERVFAIL)
    return response
