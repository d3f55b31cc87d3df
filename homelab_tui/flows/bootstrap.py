"""Bootstrap: the first server of the cluster, k3s or kubeadm. The request's blank answers come
from the config's [cluster]; the facts are the node (over SSH), the local kubeconfig, the
cluster's API and the router's networks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..clients.kubeconfig import kubeconfig_paths, merge_target
from ..config import Config
from ..facts.cluster import InstalledServer, installed_server
from ..facts.kubeconfig import merged_context
from ..facts.node import node_facts
from ..facts.router import router_networks
from ..plans import PlanError, Staged
from ..plans.bootstrap import K3S_DISABLE, BootstrapAnswers, BootstrapFacts, bootstrap_plan, check_answers, k3s_release
from ..plans.nodes import KUBERNETES_MINOR
from .common import api_host, config_node, install_script, server_options, spec
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors


@dataclass(frozen=True)
class BootstrapRequest:
    node: str = ask("node", "the config node to make the server", options=server_options, required=True)
    distribution: str = ask("distribution", "default: cluster.distribution", choices=("k3s", "kubeadm"),
                            initial=lambda config: config.cluster.distribution)
    pod_cidr: str = ask("pod CIDR", "default: cluster.pod_cidr", initial=lambda config: config.cluster.pod_cidr)
    service_cidr: str = ask("service CIDR", "default: cluster.service_cidr",
                            initial=lambda config: config.cluster.service_cidr)
    tls_sans: tuple[str, ...] = ask("tls-san", "extra API certificate name", flag="--tls-san", metavar="NAME",
                                    many=True, hint="extra API certificate names, comma-separated")
    k3s_release: str = ask("k3s release", "a release such as v1.31.4+k3s1, or a channel: stable (the install "
                           "script's default), latest, or a minor such as v1.31", aliases=("--k3s-version", "--k3s-channel"),
                           metavar="RELEASE", hint="stable (default) · latest · v1.31 · v1.31.4+k3s1",
                           only_for=("distribution", "k3s"))
    kubernetes_version: str = ask("kubernetes", f"kubeadm: the pkgs.k8s.io minor version to install, e.g. "
                                  f"{KUBERNETES_MINOR} (the default)", metavar="MINOR",
                                  hint=f"the minor version to install: {KUBERNETES_MINOR} (default)",
                                  only_for=("distribution", "kubeadm"))
    extra_args: tuple[str, ...] = ask("extra args", "passed on to k3s server or kubeadm init, e.g. "
                                      "--extra-arg=--write-kubeconfig-mode=600", flag="--extra-arg", metavar="ARG",
                                      many=True, separator="shell",
                                      hint="for k3s server or kubeadm init, e.g. --node-taint=...")
    disable: tuple[str, ...] = ask("don't install", "k3s component to leave out", choices=K3S_DISABLE, many=True,
                                   only_for=("distribution", "k3s"))


async def plan_bootstrap(config: Config, request: BootstrapRequest, executors: Executors, note: Note) -> Staged:
    """The bootstrap plan; PlanError names a bad answer, before any node is contacted."""
    server = config_node(config, request.node)
    if server.role != "server":
        servers = ", ".join(n.name for n in config.nodes if n.role == "server") or "none yet"
        raise PlanError("--node", f"{server.name} has role = \"{server.role}\" in the config, and bootstrap makes a "
                                  f"server: name a server node (the config's: {servers}), or set its role to "
                                  "\"server\" (join adds agents)")
    cluster = config.cluster
    distribution = request.distribution or cluster.distribution
    version, channel = k3s_release(request.k3s_release)
    answers = BootstrapAnswers(
        node=spec(server), cluster=tuple(spec(n) for n in config.nodes), cluster_name=cluster.name,
        context=cluster.kube_context,
        kubeconfig=str(merge_target(kubeconfig_paths(config.resolve_path(cluster.kubeconfig)), cluster.name)),
        distribution=distribution, pod_cidr=request.pod_cidr or cluster.pod_cidr,
        service_cidr=request.service_cidr or cluster.service_cidr,
        install_script=install_script(config, distribution),
        tls_sans=request.tls_sans, disable=request.disable, k3s_version=version, k3s_channel=channel,
        kubernetes_version=request.kubernetes_version, extra_args=request.extra_args,
        api_host=api_host(server))
    check_answers(answers)  # before anything is contacted; then against the router's networks too
    if lan_cidrs := await router_networks(config, note):
        answers = replace(answers, lan_cidrs=lan_cidrs)
        check_answers(answers)
    merged_host, entries = merged_context(answers.kubeconfig, cluster.name)
    reachable = merged_host == answers.api_host  # our context points at this server: its API can be asked
    installed = await installed_server(config, server.fqdn) if reachable else InstalledServer()
    registered = installed.node
    facts = BootstrapFacts(
        node=await node_facts(await executors.ssh.session(server.name)), kubeconfig_server_host=merged_host,
        kubeconfig_entries=entries,
        node_ready=registered is not None and registered.ready, node_labels=registered.labels if registered else None,
        installed_pod_subnets=installed.pod_subnets, installed_service_ip=installed.service_ip)
    return Staged((bootstrap_plan(answers, facts),))


REQUEST, FLOW = BootstrapRequest, plan_bootstrap
