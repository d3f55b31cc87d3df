"""What exposing a Service reads, live: the Service (its ports, LoadBalancer address, traffic
policy and where its Ready endpoints run), the nodes, the router (NAT and mangle rules in order,
address lists, interfaces and lists, the LAN, /ip cloud) and the Cloudflare zone (its SSL mode,
the records of the host, Cloudflare's ranges). Router values stay RouterOS strings."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import datetime, timezone

from ..clients.cloudflare import CloudflareClient, CloudflareError, CloudflareUnreachable, bundled_ip_ranges
from ..clients.kube import KubeClientError
from ..clients.router import RouterError
from ..config import Config, SecretError
from ..models import Node
from ..connect import cloudflare_client, kube_client, router_client
from ..plans import PlanError
from ..plans.routeros import MARKER_PREFIX
from ..plans.expose import (
    ADDRESS_LIST,
    MANGLE,
    NAT,
    RECORD_PREFIX,
    ExposeFacts,
    NodeFacts,
    RouterFacts,
    ServiceFacts,
    ServicePort,
    ZoneFacts,
)


async def expose_facts(config: Config, service: str, host: str, with_record: bool,
                       with_ranges: bool) -> ExposeFacts:
    """`with_record`: the zone is read (a record will be made); `with_ranges`: Cloudflare's ranges."""
    kube, router, zone = await asyncio.gather(
        service_and_nodes(config, service), router_facts(config),
        zone_facts(config, host) if with_record else cloudflare_ranges(config) if with_ranges else no_zone())
    (service_facts, nodes) = kube
    return ExposeFacts(service_facts, nodes, router, zone)


async def no_zone() -> ZoneFacts:
    return ZoneFacts()


async def cloudflare_ranges(config: Config) -> ZoneFacts:
    """Cloudflare's ranges without a zone: its `/ips` needs no token; the bundled snapshot when
    no Cloudflare API is configured or it cannot be read."""
    cloudflare = config.dns.cloudflare if config.dns else None
    ranges = bundled_ip_ranges()
    if cloudflare is not None:
        try:
            async with CloudflareClient("", base_url=cloudflare.api_url) as client:
                ranges = await client.ips()
        except (CloudflareError, CloudflareUnreachable, OSError):
            pass
    return ZoneFacts(cloudflare_ranges=ranges.ipv4_cidrs, ranges_source=ranges.source or "Cloudflare's API")


async def service_and_nodes(config: Config, service: str) -> tuple[ServiceFacts, tuple[NodeFacts, ...]]:
    namespace, name = service.split("/", 1)
    try:
        async with kube_client(config, request_timeout=10.0) as kube:
            raw = await kube.get("Service", namespace, name)
            nodes = await kube.list_nodes()
            slices, _ = await kube.list_raw("EndpointSlice", namespace,
                                            label_selector=f"kubernetes.io/service-name={name}")
    except KubeClientError as error:
        raise PlanError("cluster.kubeconfig", f"cannot read the cluster ({error})") from None
    known, names = node_facts(config, nodes)
    return (service_facts(raw, slices, names) if raw is not None else ServiceFacts(exists=False)), known


def node_facts(config: Config, nodes: list[Node], now: datetime | None = None
               ) -> tuple[tuple[NodeFacts, ...], dict[str, str]]:
    """The nodes by the config's names (else the API's), with how long each has been Ready or
    NotReady; and the API's name → that name."""
    by_address = {node.fqdn: node for node in config.nodes} | {node.name: node for node in config.nodes}
    now = now or datetime.now(timezone.utc)
    ordered = sorted(nodes, key=lambda n: n.name)
    known = tuple(NodeFacts(by_address[n.name].name if n.name in by_address else n.name, n.internal_ip, n.ready,
                            0.0 if n.ready else _since_transition(n.raw, now),
                            _since_transition(n.raw, now) if n.ready else 0.0) for n in ordered)
    return known, {n.name: f.name for n, f in zip(ordered, known)}


def _since_transition(raw: dict, now: datetime) -> float:
    """Seconds since the Ready condition last changed (NotReady → Ready or back)."""
    ready = next((c for c in (raw.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
    try:
        since = datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00"))
    except (KeyError, ValueError, AttributeError):
        return float("inf")  # no time given: long enough
    return max((now - since).total_seconds(), 0.0)


def service_facts(raw: dict, slices: list[dict], names: dict[str, str]) -> ServiceFacts:
    """A Service and its EndpointSlices as expose sees them; `names`: the API's node name → ours."""
    spec, status = raw.get("spec") or {}, raw.get("status") or {}
    ports = tuple(ServicePort(p.get("name", ""), int(p["port"]), p.get("protocol", "TCP"), int(p.get("nodePort") or 0))
                  for p in spec.get("ports") or [])
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    endpoint_nodes = tuple(sorted({names.get(e.get("nodeName", ""), e.get("nodeName", "")) for s in slices
                                   for e in s.get("endpoints") or []
                                   if (e.get("conditions") or {}).get("ready", True) and e.get("nodeName")}))
    return ServiceFacts(True, spec.get("type", "ClusterIP"), ports, ingress[0].get("ip", "") if ingress else "",
                        spec.get("externalTrafficPolicy", "Cluster"), endpoint_nodes, records_of(raw))


def records_of(raw: dict) -> dict[str, str]:
    """A Service's records of how its ports are exposed (its annotations of ours)."""
    annotations = (raw.get("metadata") or {}).get("annotations") or {}
    return {key: value for key, value in annotations.items() if key.startswith(RECORD_PREFIX)}


async def router_facts(config: Config) -> RouterFacts:
    if config.router is None:
        raise PlanError("router", "no [router] section in the config: exposing goes through the router")
    try:
        async with await router_client(config) as router:
            nat = await router.print(NAT)
            mangle = await router.print(MANGLE)
            listed = await router.print(ADDRESS_LIST)
            interfaces = [i.name for i in await router.interfaces()]
            members = await router.interface_list_members()
            lists = {item.name for item in await router.interface_lists()}
            addresses = await router.addresses()
            cloud = await router.print("/ip/cloud")
    except (RouterError, OSError) as error:
        raise PlanError("router", f"cannot read the router ({error})") from None
    grouped = {name: tuple(m.interface for m in members if m.list == name) for name in sorted(lists)}
    wan = set(grouped.get("WAN", ()))
    lan = next((str(ipaddress.ip_interface(a.address).network) for a in addresses
                if a.interface not in wan and not a.interface.startswith("pppoe") and not a.disabled), "")
    return RouterFacts(tuple(nat), tuple(mangle), tuple(listed), tuple(interfaces), grouped, lan,
                       cloud[0] if cloud else {})


async def zone_facts(config: Config, host: str | None) -> ZoneFacts:
    """The zone's SSL mode, Cloudflare's ranges and the records named `host` ("": none; None:
    every record of the zone, read once for many hosts)."""
    cloudflare = config.dns.cloudflare if config.dns else None
    if cloudflare is None:
        return await cloudflare_ranges(config)
    try:
        async with await cloudflare_client(config) as client:
            zone = await client.zone_by_name(cloudflare.zone)
            if zone is None:
                raise PlanError("dns.cloudflare.zone", f"Cloudflare has no zone {cloudflare.zone} for this token")
            mode = await client.ssl_mode(zone["id"])
            records = await client.list_records(zone["id"], host) if host or host is None else []
            try:
                ranges = await client.ips()
            except (CloudflareError, CloudflareUnreachable):
                ranges = bundled_ip_ranges()
    except (CloudflareError, CloudflareUnreachable, SecretError, OSError) as error:
        raise PlanError("dns.cloudflare", f"cannot read the Cloudflare zone ({error})") from None
    return ZoneFacts(cloudflare.zone, mode, tuple(map(_record, records)), ranges.ipv4_cidrs, ranges.source or "Cloudflare's API")


async def expose_zone_records(config: Config, service: str) -> ZoneFacts:
    """The zone's records that carry a marker of `service` (what unexpose removes)."""
    cloudflare = config.dns.cloudflare if config.dns else None
    if cloudflare is None:
        return ZoneFacts()
    try:
        async with await cloudflare_client(config) as client:
            zone = await client.zone_by_name(cloudflare.zone)
            records = await client.list_records(zone["id"], comment_prefix=f"{MARKER_PREFIX}{service} ") if zone else []
    except (CloudflareError, CloudflareUnreachable, OSError) as error:
        raise PlanError("dns.cloudflare", f"cannot read the Cloudflare zone ({error})") from None
    return ZoneFacts(cloudflare.zone, records=tuple(_record(r) for r in records))


async def exposure_records(config: Config) -> dict[str, dict[str, str]] | None:
    """Each Service with a record of how it is exposed → its records; None when the cluster cannot
    be read (the router can still be cleaned up)."""
    try:
        async with kube_client(config, request_timeout=10.0) as kube:
            services, _ = await kube.list_raw("Service")
    except KubeClientError:
        return None
    found = {}
    for raw in services:
        meta = raw.get("metadata") or {}
        if records := records_of(raw):
            found[f"{meta.get('namespace', '')}/{meta.get('name', '')}"] = records
    return found


def _record(record) -> dict[str, str]:
    return {"id": record.id, "type": record.type, "name": record.name, "content": record.content,
            "proxied": "true" if record.proxied else "false", "ttl": str(record.ttl), "comment": record.comment}
