"""Join: worker nodes into the cluster, concurrently. First a plan that reads the join secret on
the server, then one plan per node; the facts are each node (over SSH) and the cluster's API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Config
from ..facts.cluster import cluster_nodes
from ..facts.node import node_facts
from ..plans import PlanError, Staged
from ..plans.join import JoinAnswers, JoinFacts, join_plans
from .common import config_node, install_script, server_options, spec
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


NOTHING_TO_JOIN = "every agent node of the config is in the cluster (add a [[nodes]] entry to join another)"


def _joinable(config: Config, in_cluster: frozenset[str]) -> list[tuple[str, str, bool]]:
    """The agents the cluster does not have yet, each picked to start with."""
    return [(f"{n.name} ({n.address})", n.name, True) for n in config.nodes
            if n.role != "server" and n.fqdn not in in_cluster]


@dataclass(frozen=True)
class JoinRequest:
    nodes: tuple[str, ...] = ask("nodes to join (space toggles)", "a config node to join (repeatable)",
                                 flag="--node", options=_joinable, many=True, required=True,
                                 hint=f"nothing to join: {NOTHING_TO_JOIN}")
    server: str = ask("server", "the server node (default: the config's first server)", options=server_options)


async def plan_join(config: Config, request: JoinRequest, executors: Executors, note: Note) -> Staged:
    """The plan that reads the join secret, then one plan per node."""
    if not request.nodes:
        known = frozenset(n.name for n in await cluster_nodes(config))
        raise PlanError("nodes", f"nothing to join: {NOTHING_TO_JOIN}" if not _joinable(config, known)
                        else "choose at least one node to join")
    servers = [n for n in config.nodes if n.role == "server"]
    chosen = config_node(config, request.server, "--server") if request.server else (servers[0] if servers else None)
    if chosen is None:
        raise PlanError("server", "no node has role = \"server\" in the config; name one with --server")
    workers = [config_node(config, name) for name in dict.fromkeys(request.nodes)]
    answers = JoinAnswers(server=spec(chosen), nodes=tuple(spec(n) for n in workers),
                          cluster=tuple(spec(n) for n in config.nodes), distribution=config.cluster.distribution,
                          install_script=install_script(config, config.cluster.distribution),
                          context=config.cluster.kube_context)
    sessions = await asyncio.gather(*(executors.ssh.session(n.name) for n in workers))
    read = await asyncio.gather(*(node_facts(session) for session in sessions))
    known = await cluster_nodes(config)
    # agents install the server's release (k3s) or minor (kubeadm): one newer than its server is outside the skew policy
    server_version = next((n.kubelet_version for n in known if n.name == chosen.fqdn), "")
    facts = JoinFacts(dict(zip((n.name for n in workers), read)), frozenset(n.name for n in known),
                      server_version=server_version, node_labels={n.name: n.labels for n in known})
    secret_plan, plans = join_plans(answers, facts)
    return Staged((secret_plan,), tuple(plans.values()))


REQUEST, FLOW = JoinRequest, plan_join
