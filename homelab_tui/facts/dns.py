"""DNS facts, the DNS pane's rows: for each name that matters, what it should resolve to and what it does."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..config import Config
from ..models import CloudflareRecord, CloudStatus, DnsCheck, RouterIdentity
from ..plans.dns_gateway import DEFAULT_DOMAIN, MARKER, MENU

if TYPE_CHECKING:
    from ..clients.dns import DnsClient
    from ..clients.router import RouterClient


async def gateway_entry(router: RouterClient) -> dict[str, str] | None:
    """The DNS gateway's FWD entry of /ip/dns/static (ours, by its marker); None when the router
    holds none."""
    rows = await router.print(MENU)
    return next(({k: v for k, v in row.items() if not k.startswith(".")} for row in rows
                 if row.get("comment") == str(MARKER)), None)


async def polled_gateway_entry(router: RouterClient | None) -> dict[str, str] | None:
    """`gateway_entry` for the DNS pane: None too when the router cannot be read now (its own
    feed says so)."""
    from ..clients.router import RouterError  # librouteros loads with the router's feed, not here

    try:
        return await gateway_entry(router) if router is not None else None
    except (RouterError, OSError):
        return None


def cluster_name(service: str, entry: Mapping[str, str]) -> str:
    """`namespace/name` as the cluster's DNS names it, in the domain the router forwards."""
    namespace, name = service.split("/", 1)
    return f"{name}.{namespace}.svc.{entry.get('name') or DEFAULT_DOMAIN}"


async def _gateway_check(config: Config, resolver: DnsClient, entry: Mapping[str, str],
                         router: RouterIdentity | None) -> DnsCheck:
    """The gateway's row: `kubernetes.default.svc.<domain>` asked at the resolvers (on the LAN, the
    router), which must answer the kubernetes Service's ClusterIP, always the first address of the
    service CIDR."""
    domain, address = entry.get("name") or DEFAULT_DOMAIN, entry.get("forward-to", "")
    row, expected = f"*.svc.{domain}", f"via {router.identity if router else 'the router'} → {address}"
    if entry.get("disabled") == "true":
        return DnsCheck(row, expected, "the router's entry is disabled", False,
                        "homelab-tui dns-gateway enables it again")
    cluster_ip = str(next(ipaddress.ip_network(config.cluster.service_cidr).hosts()))
    found = await resolver.check(cluster_name("default/kubernetes", entry), cluster_ip)
    said = (f"expected {cluster_ip}, the kubernetes Service's ClusterIP (the service CIDR's first address), "
            "answered by CoreDNS through the router's FWD entry")
    return DnsCheck(row, expected, f"{found.name} → {found.actual}", found.ok,
                    f"{said}; {found.detail}" if found.detail else said)


def _check_in_cloudflare(name: str, ddns_name: str, public_address: str,
                         records: list[CloudflareRecord]) -> DnsCheck:
    """A proxied name resolves to Cloudflare's edge, so the truth is in the zone's records: a
    CNAME to the DDNS name, or an A record of the public address."""
    expected = f"CNAME → {ddns_name}" if ddns_name else "CNAME → DDNS name"
    mine = [r for r in records if r.name == name]
    if not mine:
        return DnsCheck(name, expected, "no record in Cloudflare", False)
    record = mine[0]
    actual = f"{record.type} → {record.content}" + (" (proxied)" if record.proxied else "")
    ok = ((record.type == "CNAME" and bool(ddns_name) and record.content.rstrip(".") == ddns_name)
          or (record.type == "A" and bool(public_address) and record.content == public_address))
    return DnsCheck(name, expected, actual, ok)


async def dns_checks(config: Config, resolver: DnsClient, cloud: CloudStatus | None,
                     cloudflare_records: list[CloudflareRecord] | None,
                     ingress_hosts: Iterable[str] = (), gateway: Mapping[str, str] | None = None,
                     router: RouterIdentity | None = None) -> list[DnsCheck]:
    """Rows: the DDNS name → public address; the domain → the DDNS name; each node hostname →
    its address; each Ingress host → the public address; with the DNS gateway's entry on the
    router, the cluster's names through it. `cloudflare_records` is None when Cloudflare is not
    configured; when it is, names it holds are checked there."""
    assert config.dns is not None
    ddns_name = cloud.dns_name if cloud and cloud.ddns_enabled else ""
    public_address = cloud.public_address if cloud else ""
    in_cloudflare = {r.name for r in cloudflare_records or ()}
    rows: list[DnsCheck] = []
    if config.dns.ddns == "routeros-cloud":
        if ddns_name:
            rows.append(await resolver.check(ddns_name, public_address))
        else:
            rows.append(DnsCheck("(router DDNS)", "ddns-enabled=yes",
                                 "DDNS is off" if cloud else "router not reached", False))
    if cloudflare_records is not None:
        rows.append(_check_in_cloudflare(config.dns.domain, ddns_name, public_address, cloudflare_records))
    else:
        rows.append(await resolver.check(config.dns.domain, ddns_name or "the DDNS name"))
    checks = [resolver.check(node.hostname, node.address) for node in config.nodes if node.hostname]
    shown = {row.name for row in rows} | {node.hostname for node in config.nodes}
    for host in sorted(set(ingress_hosts) - shown):
        if host in in_cloudflare:
            rows.append(_check_in_cloudflare(host, ddns_name, public_address, cloudflare_records))
        else:
            checks.append(resolver.check(host, public_address or "the public address"))
    if gateway is not None:
        checks.append(_gateway_check(config, resolver, gateway, router))
    rows += await asyncio.gather(*checks)
    return rows
