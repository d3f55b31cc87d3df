"""MetalLB: a pool of LAN addresses for LoadBalancer Services. The facts are the cluster's API
(MetalLB, ServiceLB, kube-proxy, the nodes), each k3s server's config over SSH, the router's LAN
and DHCP, when MetalLB is not installed the manifest of `cluster.metallb_manifest`, and then the
live state and dry run of every object the plan applies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..config import Config
from ..facts.metallb import cluster_side, install_manifest, k3s_server, object_facts
from ..facts.router import router_lan
from ..plans import Staged
from ..plans.metallb import (DEFAULT_POOL, NAMESPACE, SERVICELB_CHOICES, MetallbAnswers, MetallbFacts, check_answers,
                             desired_objects, metallb_plan)
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


@dataclass(frozen=True)
class MetallbRequest:
    addresses: str = ask("pool range", "the LAN addresses MetalLB hands out: a range a.b.c.d-a.b.c.e or a CIDR, "
                         "outside the router's DHCP pool", flag="--range", metavar="RANGE", required=True,
                         hint="e.g. 192.168.40.20-192.168.40.30 or 192.168.40.16/28")
    pool: str = ask("pool name", f"the IPAddressPool's name (default: {DEFAULT_POOL})", metavar="NAME",
                    hint=DEFAULT_POOL)
    servicelb: str = ask("k3s ServiceLB", "k3s's own load balancer fights MetalLB: disable it on the servers "
                         "(default), or refuse to go on", choices=SERVICELB_CHOICES,
                         initial=lambda config: SERVICELB_CHOICES[0])


async def plan_metallb(config: Config, request: MetallbRequest, executors: Executors, note: Note) -> Staged:
    """The MetalLB plan; PlanError names a bad answer, the range's syntax before anything is contacted."""
    answers = MetallbAnswers(range=request.addresses, pool=request.pool or DEFAULT_POOL,
                             servicelb=request.servicelb or SERVICELB_CHOICES[0],
                             manifest=config.cluster.metallb_manifest, context=config.cluster.kube_context)
    check_answers(answers)
    side = await cluster_side(config, NAMESPACE)
    nodes = {**{n.fqdn: n.address for n in config.nodes}, **side.nodes}
    servers = [n for n in config.nodes if n.role == "server"] if side.k3s else []
    sessions = await asyncio.gather(*(executors.ssh.session(n.name) for n in servers))
    read_servers = await asyncio.gather(*(k3s_server(session, n.name) for session, n in zip(sessions, servers)))
    router, skipped = await router_lan(config, nodes.values())
    if skipped:
        note(f"the pool is not checked against the router's DHCP pool and leases: {skipped}")
    installed = side.served and bool(side.controller)
    facts = MetallbFacts(
        nodes=nodes, router=router, router_skipped=skipped, served=side.served, controller=side.controller,
        controller_available=side.controller_available,
        manifest=() if installed else await install_manifest(config),
        pools=side.pools, svclb=side.svclb, k3s_servers=tuple(read_servers),
        kube_proxy=side.kube_proxy, now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    facts = replace(facts, objects=await object_facts(config, desired_objects(answers, facts)))
    return Staged((metallb_plan(answers, facts),))


REQUEST, FLOW = MetallbRequest, plan_metallb
