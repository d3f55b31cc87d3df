"""The DNS pane's rows: for each name that matters, what it should resolve to and what it does."""

from __future__ import annotations

import asyncio

from .clients.dns import DnsClient
from .config import Config
from .models import CloudflareRecord, CloudStatus, DnsCheck


def _domain_check_via_cloudflare(domain: str, ddns_name: str, records: list[CloudflareRecord]) -> DnsCheck:
    """A proxied name resolves to Cloudflare's edge, so the truth is in the zone's records."""
    expected = f"CNAME → {ddns_name}" if ddns_name else "CNAME → DDNS name"
    mine = [r for r in records if r.name == domain]
    if not mine:
        return DnsCheck(domain, expected, "no record in Cloudflare", False)
    record = mine[0]
    actual = f"{record.type} → {record.content}" + (" (proxied)" if record.proxied else "")
    ok = record.type == "CNAME" and bool(ddns_name) and record.content.rstrip(".") == ddns_name
    return DnsCheck(domain, expected, actual, ok)


async def dns_checks(config: Config, resolver: DnsClient, cloud: CloudStatus | None,
                     cloudflare_records: list[CloudflareRecord] | None) -> list[DnsCheck]:
    """Rows: the DDNS name → public address; the domain → the DDNS name; each node hostname →
    its address. `cloudflare_records` is None when Cloudflare is not configured."""
    assert config.dns is not None
    ddns_name = cloud.dns_name if cloud and cloud.ddns_enabled else ""
    rows: list[DnsCheck] = []
    if config.dns.ddns == "routeros-cloud":
        if ddns_name:
            rows.append(await resolver.check(ddns_name, cloud.public_address))
        else:
            rows.append(DnsCheck("(router DDNS)", "ddns-enabled=yes",
                                 "DDNS is off" if cloud else "router not reached", False))
    if cloudflare_records is not None:
        rows.append(_domain_check_via_cloudflare(config.dns.domain, ddns_name, cloudflare_records))
    else:
        rows.append(await resolver.check(config.dns.domain, ddns_name or "the DDNS name"))
    nodes = [node for node in config.nodes if node.hostname]
    rows += await asyncio.gather(*(resolver.check(node.hostname, node.address) for node in nodes))
    return rows
