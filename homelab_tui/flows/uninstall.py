"""Uninstall: Kubernetes off some config nodes. The facts are what each node has (over SSH), the
cluster's nodes and servers, the pods on each node to drain (the API; none when it does not
answer), and the cluster's entries in the local kubeconfig."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..clients.kubeconfig import kubeconfig_paths, merge_target
from ..config import Config
from ..facts.cluster import cluster_nodes
from ..facts.kubeconfig import merged_context
from ..facts.uninstall import installed_node
from ..plans import PlanError, Staged
from ..plans.uninstall import UninstallAnswers, UninstallFacts, uninstall_plans
from .common import config_node, spec
from .drain import drain_facts
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors

SERVER_ROLES = {"control-plane", "master"}


def _uninstallable(config: Config, in_cluster: frozenset[str]) -> list[tuple[str, str, bool]]:
    """Every config node, none picked to start with: uninstalling is chosen node by node."""
    return [(f"{n.name} ({n.address})", n.name, False) for n in config.nodes]


@dataclass(frozen=True)
class UninstallRequest:
    nodes: tuple[str, ...] = ask("nodes to uninstall (space toggles)", "a config node to uninstall Kubernetes from "
                                 "(repeatable)", flag="--node", options=_uninstallable, many=True, required=True)


async def plan_uninstall(config: Config, request: UninstallRequest, executors: Executors, note: Note) -> Staged:
    """One plan per node, applied one after another: agents, then the servers, the last one last."""
    if not request.nodes:
        raise PlanError("nodes", "choose at least one node to uninstall")
    chosen = [config_node(config, name) for name in dict.fromkeys(request.nodes)]  # an unknown name: before any I/O
    cluster = config.cluster
    kubeconfig = merge_target(kubeconfig_paths(config.resolve_path(cluster.kubeconfig)), cluster.kube_context)
    answers = UninstallAnswers(nodes=tuple(spec(n) for n in chosen), kubeconfig=str(kubeconfig),
                               context=cluster.kube_context, distribution=cluster.distribution)
    sessions = await asyncio.gather(*(executors.ssh.session(n.name) for n in chosen))
    installed = await asyncio.gather(*(installed_node(session) for session in sessions))
    known = await cluster_nodes(config)
    in_cluster = frozenset(n.name for n in known)
    drains = {node.hostname: await drain_facts(config, node.hostname)
              for node in answers.nodes if node.hostname in in_cluster}
    facts = UninstallFacts(
        nodes=dict(zip((n.name for n in chosen), installed)), in_cluster=in_cluster,
        servers=frozenset(n.name for n in known if SERVER_ROLES & set(n.roles)), drains=drains,
        kubeconfig_entries=merged_context(kubeconfig, cluster.kube_context)[1])
    return Staged(uninstall_plans(answers, facts))


REQUEST, FLOW = UninstallRequest, plan_uninstall
