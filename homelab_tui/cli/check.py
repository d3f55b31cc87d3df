"""`homelab-tui check`: probe every component of the configured lab, one line each.

Probes run concurrently, each bounded by a timeout; a failing one never hides another. The exit
code is 0 when every line is OK and 1 otherwise (a bad config is reported by the CLI, exit 2).
A node whose host key is not in known_hosts fails with the key's SHA256 fingerprint, every such
node at once; `--accept-new-host-keys` trusts those new keys after printing them (a changed key
is always refused).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from ..clients.ssh import HostKeyUnknown, SshSession, TrustHook
from ..config import Config, NodeConfig
from ..connect import cloudflare_client, dns_client, kube_client, router_client, ssh_target
from ..facts.node import node_facts
from ..models import DnsOutcome
from ..state import describe_error
from .exits import EXIT_FAILED, EXIT_OK
from .trust import new_host_keys


@dataclass(frozen=True)
class CheckLine:
    component: str
    ok: bool
    detail: str
    unknown_key: bool = False  # a node whose host key is not in known_hosts yet

    def render(self, width: int) -> str:
        return f"{'OK' if self.ok else 'FAIL':<5} {self.component:<{width}}  {self.detail}"


@dataclass(frozen=True)
class CheckOptions:
    timeout: float = 10.0  # seconds per component
    trust_new_key: TrustHook | None = None  # --accept-new-host-keys: trust a first-seen host key


async def probe_node(config: Config, node: NodeConfig, options: CheckOptions = CheckOptions()) -> str:
    target = ssh_target(config, node, timeout=options.timeout)
    session = SshSession(target)
    trusted = await session.connect_trusting(options.trust_new_key)
    try:
        found = await node_facts(session)
    finally:
        await session.close()
    return (f"{found.arch}, {found.os} (host key verified{', newly trusted' if trusted else ''}, "
            f"{target.host}:{target.port})")


async def probe_kube(config: Config, options: CheckOptions = CheckOptions()) -> str:
    async with kube_client(config) as kube:
        version = await kube.version()
        nodes = await kube.list_nodes()
    ready = sum(node.ready for node in nodes)
    return f"{version}, {len(nodes)} nodes ({ready} Ready), context {kube.context}"


async def probe_router(config: Config, options: CheckOptions = CheckOptions()) -> str:
    async with await router_client(config, timeout=options.timeout) as client:
        identity = await client.identity()
    return f"{identity.identity}, RouterOS {identity.version}, {identity.board}"


async def probe_dns(config: Config, options: CheckOptions = CheckOptions()) -> str:
    dns = config.dns
    assert dns is not None
    result = await dns_client(config).resolve(dns.domain)
    if result.outcome is not DnsOutcome.ANSWER:
        raise ProbeFailed(f"{dns.domain}: {result.outcome.value}" + (f" ({result.detail})" if result.detail else ""))
    via = f" via {' → '.join(result.cname_chain)}" if result.cname_chain else ""
    return f"{dns.domain} → {', '.join(result.addresses)}{via}"


async def probe_cloudflare(config: Config, options: CheckOptions = CheckOptions()) -> str:
    assert config.dns is not None and config.dns.cloudflare is not None
    cloudflare = config.dns.cloudflare
    async with await cloudflare_client(config, timeout=options.timeout) as client:
        token = await client.verify_token()
        zone = await client.zone_by_name(cloudflare.zone)
    if zone is None:
        raise ProbeFailed(f"token {token.get('status', '?')}, but zone {cloudflare.zone} is not visible to it")
    return f"token {token.get('status', '?')}, zone {zone['name']} ({zone.get('status', '?')})"


class ProbeFailed(Exception):
    """A component answered, but not as it should."""


Probe = Callable[[Config, CheckOptions], Awaitable[str]]


def probes(config: Config) -> list[tuple[str, Probe]]:
    """(component, probe) for everything the config describes, in display order."""
    found: list[tuple[str, Probe]] = [
        (f"node {node.name}", lambda config, options, node=node: probe_node(config, node, options))
        for node in config.nodes
    ]
    found.append(("kubernetes", probe_kube))
    if config.router is not None:
        found.append(("router", probe_router))
    if config.dns is not None:
        found.append(("dns", probe_dns))
        if config.dns.cloudflare is not None:
            found.append(("cloudflare", probe_cloudflare))
    return found


# The clients get the timeout themselves, so their own message (refused, TLS, a killed
# password_command) wins; this margin only catches a probe that outlives its client's timeout.
_MARGIN = 1.0


async def _run_probe(component: str, probe: Awaitable[str], timeout: float) -> CheckLine:
    try:
        detail = await asyncio.wait_for(probe, timeout + _MARGIN)
    except TimeoutError:
        return CheckLine(component, False, f"no answer within {timeout:g}s")
    except Exception as exc:  # every failure becomes a line; the other probes carry on
        return CheckLine(component, False, describe_error(exc), unknown_key=isinstance(exc, HostKeyUnknown))
    return CheckLine(component, True, detail)


async def run_checks(config: Config, options: CheckOptions = CheckOptions()) -> list[CheckLine]:
    return list(await asyncio.gather(*(_run_probe(name, probe(config, options), options.timeout)
                                       for name, probe in probes(config))))


async def run_check(config: Config, timeout: float, out: TextIO, *, accept_new_host_keys: bool = False) -> int:
    options = CheckOptions(timeout, new_host_keys(accept_new_host_keys, out, "node "))
    lines = await run_checks(config, options)
    width = max(len(line.component) for line in lines)
    for line in lines:
        print(line.render(width), file=out)
    failed = [line.component for line in lines if not line.ok]
    print(f"\n{len(lines) - len(failed)}/{len(lines)} OK" + (f"; failing: {', '.join(failed)}" if failed else ""),
          file=out)
    if unknown := [line.component for line in lines if line.unknown_key]:
        print(f"new host keys ({', '.join(unknown)}): compare each fingerprint above with the node's own "
              "(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it), then trust them with "
              "`homelab-tui check --accept-new-host-keys`", file=out)
    return EXIT_FAILED if failed else EXIT_OK
