"""`homelab-tui check`: probe every component of the configured lab, one line each.

Probes run concurrently, each bounded by a timeout; a failing one never hides another. The exit
code is 0 when every line is OK and 1 otherwise (a bad config is reported by the CLI, exit 2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from ..clients.ssh import SshSession
from ..config import Config, NodeConfig
from ..connect import cloudflare_client, dns_client, kube_client, router_client, ssh_target
from ..facts.node import node_facts
from ..models import DnsOutcome
from ..state import describe_error
from .exits import EXIT_FAILED, EXIT_OK


@dataclass(frozen=True)
class CheckLine:
    component: str
    ok: bool
    detail: str

    def render(self, width: int) -> str:
        return f"{'OK' if self.ok else 'FAIL':<5} {self.component:<{width}}  {self.detail}"


async def probe_node(config: Config, node: NodeConfig) -> str:
    target = ssh_target(config, node)
    async with SshSession(target) as session:
        found = await node_facts(session)
    return f"{found.arch}, {found.os} (host key verified, {target.host}:{target.port})"


async def probe_kube(config: Config) -> str:
    async with kube_client(config) as kube:
        version = await kube.version()
        nodes = await kube.list_nodes()
    ready = sum(node.ready for node in nodes)
    return f"{version}, {len(nodes)} nodes ({ready} Ready), context {kube.context}"


async def probe_router(config: Config) -> str:
    async with await router_client(config) as client:
        identity = await client.identity()
    return f"{identity.identity}, RouterOS {identity.version}, {identity.board}"


async def probe_dns(config: Config) -> str:
    dns = config.dns
    assert dns is not None
    result = await dns_client(config).resolve(dns.domain)
    if result.outcome is not DnsOutcome.ANSWER:
        raise ProbeFailed(f"{dns.domain}: {result.outcome.value}" + (f" ({result.detail})" if result.detail else ""))
    via = f" via {' → '.join(result.cname_chain)}" if result.cname_chain else ""
    return f"{dns.domain} → {', '.join(result.addresses)}{via}"


async def probe_cloudflare(config: Config) -> str:
    assert config.dns is not None and config.dns.cloudflare is not None
    cloudflare = config.dns.cloudflare
    async with await cloudflare_client(config) as client:
        token = await client.verify_token()
        zone = await client.zone_by_name(cloudflare.zone)
    if zone is None:
        raise ProbeFailed(f"token {token.get('status', '?')}, but zone {cloudflare.zone} is not visible to it")
    return f"token {token.get('status', '?')}, zone {zone['name']} ({zone.get('status', '?')})"


class ProbeFailed(Exception):
    """A component answered, but not as it should."""


def probes(config: Config) -> list[tuple[str, Callable[[], Awaitable[str]]]]:
    """(component, probe) for everything the config describes, in display order."""
    found: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        (f"node {node.name}", lambda node=node: probe_node(config, node)) for node in config.nodes
    ]
    found.append(("kubernetes", lambda: probe_kube(config)))
    if config.router is not None:
        found.append(("router", lambda: probe_router(config)))
    if config.dns is not None:
        found.append(("dns", lambda: probe_dns(config)))
        if config.dns.cloudflare is not None:
            found.append(("cloudflare", lambda: probe_cloudflare(config)))
    return found


async def _run_probe(component: str, probe: Callable[[], Awaitable[str]], timeout: float) -> CheckLine:
    try:
        detail = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return CheckLine(component, False, f"no answer within {timeout:g}s")
    except Exception as exc:  # every failure becomes a line; the other probes carry on
        return CheckLine(component, False, describe_error(exc))
    return CheckLine(component, True, detail)


async def run_checks(config: Config, timeout: float = 10.0) -> list[CheckLine]:
    return list(await asyncio.gather(*(_run_probe(name, probe, timeout) for name, probe in probes(config))))


async def run_check(config: Config, timeout: float, out: TextIO) -> int:
    lines = await run_checks(config, timeout)
    width = max(len(line.component) for line in lines)
    for line in lines:
        print(line.render(width), file=out)
    failed = [line.component for line in lines if not line.ok]
    print(f"\n{len(lines) - len(failed)}/{len(lines)} OK" + (f"; failing: {', '.join(failed)}" if failed else ""),
          file=out)
    return EXIT_FAILED if failed else EXIT_OK
