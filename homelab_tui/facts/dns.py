"""DNS facts, the DNS pane's rows: for each name that matters, what it should resolve to and what it does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..config import Config
from ..models import CloudflareRecord, CloudStatus, DnsCheck

if TYPE_CHECKING:
    from ..clients.dns import DnsClient


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
                     ingress_hosts: Iterable[str] = ()) -> list[DnsCheck]:
    """Rows: the DDNS name → public address; the domain → the DDNS name; each node hostname →
    its address; each Ingress host → the public address. `cloudflare_records` is None when
    Cloudflare is not configured; when it is, names it holds are checked there."""
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
    rows += await asyncio.gather(*checks)
    return rows
