"""Uninstall: Kubernetes off some nodes, as the k3s and kubeadm docs say to. Each node is drained
(the drain plan's cordon and evictions), its Node object deleted from the API, then k3s's own
uninstall script runs on it (`k3s-uninstall.sh` on a server, `k3s-agent-uninstall.sh` on an
agent), or `kubeadm reset` and the cleanup it leaves to us; then the /etc/hosts lines bootstrap
and join added (marked `# homelab-tui`) go. The hostname and the memory cgroup boot flags stay,
and the plan says so. Agents go before servers; the last server takes the cluster with it, so it
is not drained, and the local kubeconfig forgets the cluster. `uninstall_plans(answers, facts)`
is pure; on what it produced, every step is a no-op."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import Plan, PlanError, Step, Target
from .actions import DeleteObject, RemoveKubeconfigEntries
from .drain import DrainAnswers, DrainFacts, drain_plan
from .nodes import CMDLINE_PATH, HOSTS_MARKER, NodeSpec, kubectl, run_step

K3S_SCRIPTS = {"server": "k3s-uninstall.sh", "agent": "k3s-agent-uninstall.sh"}
K3S_SCRIPT_DIR = "/usr/local/bin"
# What `kubeadm reset` leaves, as its docs say: the CNI config, etcd's data and the admin kubeconfig.
KUBEADM_CLEANUP = "rm -rf /etc/cni/net.d /var/lib/etcd"
KUBEADM_USER_KUBECONFIG = 'rm -rf "$HOME/.kube"'
REMOVE_OUR_HOSTS_LINES = f'sed -i "/ {HOSTS_MARKER}$/d" /etc/hosts'
# What bootstrap and join changed that uninstall leaves: undoing it would surprise more than it helps.
KEPT = ("{node} keeps its hostname ({hostname}) and the memory cgroup flags bootstrap or join put in {cmdline}: "
        "changing them back would rename the machine on the LAN and take a reboot, and they do no harm without "
        "Kubernetes")
KUBEADM_KEPT = ("{node} keeps what kubeadm needed: swap stays off (/etc/fstab), containerd, kubelet, kubeadm and "
                "kubectl stay installed (held) with the pkgs.k8s.io repository, and /etc/modules-load.d/k8s.conf "
                "and /etc/sysctl.d/k8s.conf stay; apt-get purge them if nothing else uses them")
KUBEADM_NETFILTER = ("kubeadm reset leaves the iptables and IPVS rules kube-proxy made on {nodes}; flush them by hand "
                     "if nothing else uses them: iptables -F && iptables -t nat -F && iptables -t mangle -F && "
                     "iptables -X, and ipvsadm --clear")


@dataclass(frozen=True)
class InstalledNode:
    """What is on a node to uninstall, read over SSH."""

    k3s_script: str = ""  # the uninstall script the k3s installer left in /usr/local/bin, "" when none
    kubeadm_role: str = ""  # "server" (admin.conf) or "agent" (kubelet.conf) when kubeadm set the node up
    hosts_lines: tuple[str, ...] = ()  # the /etc/hosts lines bootstrap or join added (ending in HOSTS_MARKER)


@dataclass(frozen=True)
class UninstallAnswers:
    nodes: tuple[NodeSpec, ...]  # the config nodes to uninstall
    kubeconfig: str  # the local kubeconfig file that holds the cluster's context
    context: str  # the context (and its cluster and user) bootstrap merged: cluster.kube_context
    distribution: str = "k3s"  # what a node with nothing installed would have had


@dataclass(frozen=True)
class UninstallFacts:
    nodes: dict[str, InstalledNode]  # by config node name
    in_cluster: frozenset[str] = frozenset()  # Kubernetes node names the API has (empty: no API answers)
    servers: frozenset[str] = frozenset()  # those of the control plane
    drains: dict[str, DrainFacts] = field(default_factory=dict)  # by Kubernetes node name, for those in the API
    kubeconfig_entries: tuple[str, ...] = ()  # what the local kubeconfig has named `context`


def uninstall_plans(answers: UninstallAnswers, facts: UninstallFacts) -> tuple[Plan, ...]:
    """One plan per node, agents first, then the servers, the last one last."""
    if not answers.nodes:
        raise PlanError("node", "choose at least one node to uninstall")
    missing = [node.name for node in answers.nodes if node.name not in facts.nodes]
    if missing:
        raise PlanError("node", f"no facts were read from {', '.join(missing)}")
    leaving = {node.hostname for node in answers.nodes}
    servers = [node for node in answers.nodes if _is_server(node, facts)]
    last_server = servers[-1] if servers and not (facts.servers - leaving) else None
    if last_server is not None and (orphans := sorted(facts.in_cluster - leaving)):
        raise PlanError("node", f"{last_server.name} is the cluster's last server, and {', '.join(orphans)} would be "
                                f"left without one: uninstall them first, or in the same run")
    ordered = [node for node in answers.nodes if node not in servers] + [n for n in servers if n is not last_server]
    plans = [_uninstall_node(answers, node, facts, last=False) for node in ordered]
    if last_server is not None:
        plans.append(_uninstall_node(answers, last_server, facts, last=True))
    return tuple(plans)


def _is_server(node: NodeSpec, facts: UninstallFacts) -> bool:
    installed = facts.nodes[node.name]
    return (node.hostname in facts.servers or installed.k3s_script == K3S_SCRIPTS["server"]
            or installed.kubeadm_role == "server")


def _uninstall_node(answers: UninstallAnswers, node: NodeSpec, facts: UninstallFacts, *, last: bool) -> Plan:
    name = node.hostname
    in_api = name in facts.in_cluster
    drain = drain_plan(DrainAnswers(name), facts.drains.get(name, DrainFacts()) if in_api else DrainFacts(exists=False))
    gone_with_cluster = "the cluster goes with its last server" if last else ""
    if gone_with_cluster:
        drain = replace(drain, steps=tuple(step if step.is_noop else replace(step, noop_reason=gone_with_cluster)
                                           for step in drain.steps))
    delete = Step(Target.KUBE, "", f"Remove node {name} from the cluster",
                  f"{kubectl(answers.context)} delete node {name}", DeleteObject("Node", "", name),
                  noop_reason=gone_with_cluster or ("" if in_api else f"the API has no node {name}"))
    installed = facts.nodes[node.name]
    warnings: list[str] = []
    if installed.k3s_script:
        remove = [run_step(node, f"Uninstall k3s from {node.name} ({installed.k3s_script}: stops it, removes its "
                                 "binaries, data and network interfaces)", f"{K3S_SCRIPT_DIR}/{installed.k3s_script}")]
        what = "k3s"
    elif installed.kubeadm_role or answers.distribution == "kubeadm":
        reason = "" if installed.kubeadm_role else f"kubeadm has not set up {node.name}"
        remove = [
            run_step(node, f"Reset what kubeadm set up on {node.name}", "kubeadm reset -f", noop_reason=reason),
            run_step(node, f"Remove the CNI config and etcd data kubeadm reset leaves on {node.name}", KUBEADM_CLEANUP,
                     noop_reason=reason),
            run_step(node, f"Remove the login user's kubeconfig on {node.name} (~/.kube)", KUBEADM_USER_KUBECONFIG,
                     sudo=False, noop_reason=reason),
        ]
        if not reason:
            warnings += [KUBEADM_NETFILTER.format(nodes=node.name), KUBEADM_KEPT.format(node=node.name)]
        what = "Kubernetes (kubeadm)"
    else:
        script = K3S_SCRIPTS["server" if _is_server(node, facts) else "agent"]
        remove = [run_step(node, f"Uninstall k3s from {node.name}", f"{K3S_SCRIPT_DIR}/{script}",
                           noop_reason=f"no k3s on {node.name} (no uninstall script in {K3S_SCRIPT_DIR})")]
        what = "k3s"
    names = ", ".join(line.split()[1] for line in installed.hosts_lines if len(line.split()) > 2)
    unhosts = run_step(node, f"Remove the /etc/hosts lines bootstrap or join added on {node.name}"
                             f"{f' ({names})' if names else ''}: those ending in {HOSTS_MARKER}",
                       REMOVE_OUR_HOSTS_LINES,
                       noop_reason="" if installed.hosts_lines else f"/etc/hosts has no line ending in {HOSTS_MARKER}")
    if any(not step.is_noop for step in remove):
        warnings.insert(0, KEPT.format(node=node.name, hostname=node.hostname, cmdline=CMDLINE_PATH))
    steps = [*drain.steps, delete, *remove, unhosts]
    if last:
        entries = facts.kubeconfig_entries
        steps.append(Step(Target.LOCAL, "", f"Remove context {answers.context} (its cluster and user) from "
                                            f"{answers.kubeconfig}",
                          f"kubectl config --kubeconfig {answers.kubeconfig} delete-context {answers.context}; "
                          f"kubectl config --kubeconfig {answers.kubeconfig} delete-cluster {answers.context}; "
                          f"kubectl config --kubeconfig {answers.kubeconfig} delete-user {answers.context}",
                          RemoveKubeconfigEntries(answers.kubeconfig, answers.context),
                          noop_reason="" if entries else f"{answers.kubeconfig} has no {answers.context}"))
        if any(not step.is_noop for step in remove):
            warnings.insert(0, f"{node.name} is the cluster's last server: the cluster, and everything in it, goes "
                               "with it")
    return Plan(f"Uninstall {what} from {node.name}", tuple(steps), warnings=tuple(warnings))
