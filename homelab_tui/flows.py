"""The wizards' flows without a screen: answers → facts → plans, and applying them in stages.
The CLI twins (twins.py) and the TUI wizards (ui/wizards.py) both run these. No textual here."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import engine
from .clients.kube import KubeClient, kubeconfig_paths
from .config import Config, NodeConfig
from .connect import kube_client, router_client
from .executors import KubeExecutor, SshExecutor
from .gather import merged_context, node_facts
from .kubeconfig import merge_target
from .models import Node
from .plans import Plan, PlanError, Target
from .plans.bootstrap import BootstrapAnswers, BootstrapFacts, bootstrap_plan, check_answers
from .plans.join import JoinAnswers, JoinFacts, join_plans
from .plans.nodes import NodeSpec
from .state import describe_error

JOIN_CONCURRENCY = 16  # joins at once: more than a homelab has nodes, but a bound on SSH sessions and on the server


@dataclass(frozen=True)
class Staged:
    """Plans to apply: `first` one after another, then `rest` at once (bounded)."""

    first: tuple[Plan, ...]
    rest: tuple[Plan, ...] = ()

    @property
    def plans(self) -> tuple[Plan, ...]:
        return (*self.first, *self.rest)

    @property
    def changes(self) -> int:
        return sum(len(plan.changes) for plan in self.plans)


def config_node(config: Config, name: str, flag: str = "--node") -> NodeConfig:
    try:
        return config.node(name)
    except KeyError as exc:
        raise PlanError(flag, exc.args[0]) from None


def spec(node: NodeConfig) -> NodeSpec:
    return NodeSpec(node.name, node.address, node.fqdn)


def api_host(node: NodeConfig) -> str:
    """Where this machine reaches the API: the node's address, or its SSH host when that is a
    loopback tunnel (or the simulated lab)."""
    try:
        loopback = node.ssh_host is not None and ipaddress.ip_address(node.ssh_host).is_loopback
    except ValueError:
        loopback = False
    return node.ssh_host if loopback else node.address


async def bootstrap_flow(config: Config, ssh: SshExecutor, *, node: str, distribution: str | None = None,
                         pod_cidr: str | None = None, service_cidr: str | None = None,
                         tls_sans: tuple[str, ...] = (), disable: tuple[str, ...] = (), k3s_version: str = "",
                         k3s_channel: str = "", kubernetes_version: str = "", extra_args: tuple[str, ...] = (),
                         note: Callable[[str], None] = lambda text: None) -> Staged:
    """The bootstrap plan for `node`; unset answers come from the config. PlanError names a bad answer."""
    server = config_node(config, node)
    cluster = config.cluster
    answers = BootstrapAnswers(
        node=spec(server), cluster=tuple(spec(n) for n in config.nodes), cluster_name=cluster.name,
        context=cluster.kube_context,
        kubeconfig=str(merge_target(kubeconfig_paths(config.resolve_path(cluster.kubeconfig)), cluster.name)),
        distribution=distribution or cluster.distribution, pod_cidr=pod_cidr or cluster.pod_cidr,
        service_cidr=service_cidr or cluster.service_cidr,
        install_script=_install_script(config, distribution or cluster.distribution),
        tls_sans=tls_sans, disable=disable, k3s_version=k3s_version, k3s_channel=k3s_channel,
        kubernetes_version=kubernetes_version, extra_args=extra_args,
        lan_cidrs=await _router_networks(config, note), api_host=api_host(server))
    check_answers(answers)  # bad answers fail before anything is contacted
    merged_host, entries = merged_context(answers.kubeconfig, cluster.name)
    facts = BootstrapFacts(
        node=await node_facts(await ssh.session(server.name)), kubeconfig_server_host=merged_host,
        kubeconfig_entries=entries,
        node_ready=merged_host == answers.api_host
        and any(n.name == server.fqdn and n.ready for n in await cluster_nodes(config)))
    return Staged((bootstrap_plan(answers, facts),))


async def join_flow(config: Config, ssh: SshExecutor, *, nodes: list[str], server: str | None = None) -> Staged:
    """The plan that reads the join secret, then one plan per node."""
    servers = [n for n in config.nodes if n.role == "server"]
    chosen = config_node(config, server, "--server") if server else (servers[0] if servers else None)
    if chosen is None:
        raise PlanError("server", "no node has role = \"server\" in the config; name one with --server")
    workers = [config_node(config, name) for name in dict.fromkeys(nodes)]
    answers = JoinAnswers(server=spec(chosen), nodes=tuple(spec(n) for n in workers),
                          cluster=tuple(spec(n) for n in config.nodes), distribution=config.cluster.distribution,
                          install_script=_install_script(config, config.cluster.distribution),
                          context=config.cluster.kube_context)
    sessions = await asyncio.gather(*(ssh.session(n.name) for n in workers))
    read = await asyncio.gather(*(node_facts(session) for session in sessions))
    known = await cluster_nodes(config)
    # agents install the server's release (k3s) or minor (kubeadm): one newer than its server is outside the skew policy
    server_version = next((n.kubelet_version for n in known if n.name == chosen.fqdn), "")
    facts = JoinFacts(dict(zip((n.name for n in workers), read)), frozenset(n.name for n in known),
                      server_version=server_version)
    secret_plan, plans = join_plans(answers, facts)
    return Staged((secret_plan,), tuple(plans.values()))


async def apply_staged(staged: Staged, config: Config, ssh: SshExecutor,
                       on_event: Callable[[Plan], Callable[[object], None]]
                       ) -> list[tuple[Plan, engine.ApplyResult]]:
    """Apply the first plans in order (stopping at a failure), then the rest at once; every plan
    shares one context, so the join secret read first reaches the node plans. Returns each plan
    applied with its result (the error of a failed one is masked)."""
    executors = {Target.SSH: ssh, Target.KUBE: KubeExecutor(config)}
    context = engine.ApplyContext()
    audit = engine.AuditLog(engine.default_audit_path())
    limit = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def apply(plan: Plan) -> engine.ApplyResult:
        async with limit:
            return await engine.apply_plan(plan, executors, on_event=on_event(plan), audit=audit, context=context)

    outcomes = []
    for plan in staged.first:
        outcomes.append((plan, await apply(plan)))
        if not outcomes[-1][1].ok:
            return outcomes
    results = await asyncio.gather(*(apply(plan) for plan in staged.rest))
    return [*outcomes, *zip(staged.rest, results)]


def export_staged(staged: Staged, config: Config, path: str | Path, field: str = "export") -> Path:
    """Save the plans' steps that do something as a script for their tool (.sh, .rsc, .yaml); the
    SSH steps reach each node as the config says. PlanError names `field` when that cannot be."""
    steps = tuple(step for plan in staged.plans for step in plan.steps)
    try:
        return engine.export_plan(Plan(staged.plans[0].title, steps), path,
                                  ssh_destinations={n.name: ssh_destination(config, n) for n in config.nodes})
    except ValueError as exc:
        raise PlanError(field, str(exc)) from None
    except OSError as exc:
        raise PlanError(field, f"cannot write {path}: {exc.strerror}") from None


def ssh_destination(config: Config, node: NodeConfig) -> str:
    """The ssh arguments that reach `node`, as a script would pass them: `user@host -p port`."""
    user = f"{config.ssh.user}@" if config.ssh.user else ""
    port = f" -p {node.ssh_port}" if node.ssh_port else ""
    return f"{user}{node.ssh_host or node.address}{port}"


async def _router_networks(config: Config, note: Callable[[str], None]) -> tuple[str, ...]:
    """The router's networks, which pod and service CIDRs must not overlap; () without a router."""
    if config.router is None:
        return ()
    try:
        router = await router_client(config)
        try:
            addresses = await router.addresses()
        finally:
            await router.close()
    except Exception as exc:  # the check is a safety net; say it was skipped rather than stop
        note(f"could not read the router's networks ({describe_error(exc)}); "
             "the CIDRs are checked against the nodes only")
        return ()
    return tuple(a.address for a in addresses if not a.disabled)


def _install_script(config: Config, distribution: str) -> str:
    """The k3s install script: a URL, or a local file (checked now, not when the upload fails)."""
    script = config.cluster.install_script
    if "://" in script or distribution != "k3s":
        return script
    path = config.resolve_path(script)
    if not path.is_file():
        raise PlanError("cluster.install_script", f"expected a URL or a local file, and {path} is not a file")
    return str(path)


async def cluster_nodes(config: Config) -> list[Node]:
    """The nodes the API has; empty when it cannot be reached (no kubeconfig yet, no cluster yet)."""
    client: KubeClient = kube_client(config, request_timeout=5.0)
    try:
        async with client:
            return await client.list_nodes()
    except Exception:
        return []
