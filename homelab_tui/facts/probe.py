"""What the reachability probe reads, live: the router (facts/expose.py's reader), our record's
name in the zone, the public name through the configured resolvers, the Service's EndpointSlices
and pods, each target from the router (`/tool/fetch`, one API connection each, at once), each
target node's own NodePort (curl over the node's SSH session), and, when the router
forwards the cluster's domain (the DNS gateway), the Service's cluster name through it."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable

from ..clients.cloudflare import bundled_ip_ranges
from ..clients.kube import KubeClientError
from ..clients.router import RouterError, RouterTrap
from ..clients.ssh import SshError, SshSession
from ..config import Config
from ..connect import dns_client, kube_client, router_client
from ..plans import PlanError
from ..plans.repair import exposure_status
from ..plans.verdicts.probe import (ClusterDnsFacts, NodePortCheck, PodFacts, ProbeAnswers, ProbeFacts, RouterFetch,
                                    targets)
from .dns import cluster_name, gateway_entry
from .expose import expose_zone_records, router_facts
from .exposures import exposure_inputs

SessionOf = Callable[[str], Awaitable[SshSession]]  # a node's SSH session, by the config's name
NODE_PORT_TIMEOUT = 10.0
FETCH_TIMEOUT = 10.0


async def probe_facts(config: Config, answers: ProbeAnswers, session: SessionOf) -> ProbeFacts:
    """PlanError("--service") when the Service does not exist; PlanError naming the router or the
    cluster when either cannot be read."""
    router, zone_host, cluster, cluster_dns = await asyncio.gather(
        router_facts(config), _zone_host(config, answers), _cluster(config, answers.service),
        _cluster_dns(config, answers.service))
    host = answers.host or zone_host
    found = targets(answers, router)
    (outcome, addresses, detail), exposures, fetches, node_ports = await asyncio.gather(
        _resolve(config, host), exposure_inputs(config, answers.service, router),
        asyncio.gather(*(_router_fetch(config, address, port) for address, port in found)),
        asyncio.gather(*(_node_port(config, session, address, port) for address, port in found)))
    ready, total, pods, cluster_ip = cluster
    return ProbeFacts(router, zone_host, outcome, addresses, detail,
                      tuple(config.dns.nameservers) if config.dns else (), bundled_ip_ranges().ipv4_cidrs,
                      ready, total, pods, tuple(check for check in node_ports if check is not None),
                      router_fetches=tuple(fetches), cluster_ip=cluster_ip, cluster_dns=cluster_dns,
                      exposures=tuple(exposure_status(a, f) for a, f in exposures if answers.port in (0, a.port)))


async def _zone_host(config: Config, answers: ProbeAnswers) -> str:
    try:
        zone = await expose_zone_records(config, answers.service)
    except PlanError:
        return ""
    return next((r["name"] for r in zone.records if r.get("type") in ("A", "CNAME")), "")


async def _resolve(config: Config, host: str) -> tuple[str, tuple[str, ...], str]:
    if not host or config.dns is None:
        return "", (), ""
    result = await dns_client(config).resolve(host)
    return result.outcome.value, tuple(sorted(result.addresses)), result.detail  # resolvers shuffle them


async def _cluster_dns(config: Config, service: str) -> ClusterDnsFacts | None:
    """`dig <name>.<namespace>.svc.<domain> @router` when the router holds the DNS gateway's entry
    (asked at the configured resolvers: on the LAN, the router); None when it holds none."""
    if config.router is None:
        return None
    try:
        async with await router_client(config) as router:
            entry = await gateway_entry(router)
    except (RouterError, OSError) as error:
        raise PlanError("router", f"cannot read the router ({error})") from None
    if entry is None:
        return None
    name = cluster_name(service, entry)
    outcome, addresses, detail = await _resolve(config, name)
    return ClusterDnsFacts(name, entry.get("name", ""), entry.get("forward-to", ""), entry.get("disabled") != "true",
                           outcome, addresses, detail)


async def _cluster(config: Config, service: str) -> tuple[int, int, tuple[PodFacts, ...], str]:
    namespace, name = service.split("/", 1)
    try:
        async with kube_client(config, request_timeout=10.0) as kube:
            raw = await kube.get("Service", namespace, name)
            if raw is None:
                raise PlanError("--service", f"no Service {service}")
            slices, _ = await kube.list_raw("EndpointSlice", namespace,
                                            label_selector=f"kubernetes.io/service-name={name}")
            selector = (raw.get("spec") or {}).get("selector") or {}
            pods, _ = await kube.list_raw("Pod", namespace, label_selector=",".join(
                f"{key}={value}" for key, value in sorted(selector.items()))) if selector else ([], "")
    except KubeClientError as error:
        raise PlanError("cluster.kubeconfig", f"cannot read the cluster ({error})") from None
    endpoints = [e for s in slices for e in s.get("endpoints") or []]
    ready = sum(1 for e in endpoints if (e.get("conditions") or {}).get("ready", True))
    cluster_ip = (raw.get("spec") or {}).get("clusterIP") or ""
    return ready, len(endpoints), tuple(_pod(pod) for pod in pods), "" if cluster_ip == "None" else cluster_ip


def _pod(raw: dict) -> PodFacts:
    status = raw.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    return PodFacts((raw.get("metadata") or {}).get("name", ""), conditions.get("Ready") == "True", restarts)


async def _router_fetch(config: Config, address: str, port: int) -> RouterFetch:
    """`/tool/fetch http://<address>:<port>/` on the router, on a connection of its own."""
    try:
        async with await router_client(config) as router:
            result = await router.fetch(f"http://{address}:{port}/", FETCH_TIMEOUT)
    except RouterTrap as trap:
        return RouterFetch(address, port, unchecked=f"the router refused /tool/fetch: {trap.message}")
    except (RouterError, OSError) as error:
        return RouterFetch(address, port, unchecked=f"cannot ask the router ({error})")
    return RouterFetch(address, port, result.ok, result.message)


async def _node_port(config: Config, session: SessionOf, address: str, port: int) -> NodePortCheck | None:
    """The node's own NodePort, asked from the node; None for a target that is no node of the
    config (a LoadBalancer address)."""
    node = next((n.name for n in config.nodes if n.address == address), None)
    if node is None:
        return None
    command = f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {shlex.quote(f'http://127.0.0.1:{port}/')}"
    try:
        result = await (await session(node)).run(command, timeout=NODE_PORT_TIMEOUT)
    except SshError as error:
        return NodePortCheck(node, port, error=f"SSH: {error}")
    return NodePortCheck(node, port, result.exit_status, result.stdout)

