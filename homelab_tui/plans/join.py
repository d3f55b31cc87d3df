"""Join: worker nodes into the cluster the server runs. `join_plans(answers, facts)` is pure: one
plan to read the join secret from the server, then one plan per node, which the caller applies
concurrently. A node already in the cluster yields no-ops with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import SECRET_REF, Plan, PlanError, Step, Target, secret_ref, secret_variable
from .actions import CaptureSecret, Run, WaitNodeReady
from .nodes import (NodeFacts, NodeSpec, fix_ups, k3s_install_steps, kubeadm_prerequisites, kubectl, kubernetes_minor,
                    label_steps, sudo_rendering)

K3S_TOKEN_PATH = "/var/lib/rancher/k3s/server/node-token"
K3S_TOKEN = "k3s-token"
KUBEADM_JOIN = "kubeadm-join"


@dataclass(frozen=True)
class JoinAnswers:
    server: NodeSpec
    nodes: tuple[NodeSpec, ...]  # the workers to join
    cluster: tuple[NodeSpec, ...]  # every config node, for /etc/hosts
    distribution: str = "k3s"
    install_script: str = "https://get.k3s.io"
    k3s_version: str = ""  # default: the server's
    context: str = ""  # the kubeconfig context the Ready waits use


@dataclass(frozen=True)
class JoinFacts:
    nodes: dict[str, NodeFacts]  # by config node name
    in_cluster: frozenset[str] = frozenset()  # Kubernetes node names the API already has (Ready or not)
    server_version: str = ""  # the server's kubelet version in the API (v1.31.4+k3s1, v1.30.4): agents match it
    node_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # by Kubernetes node name, from the API


def join_plans(answers: JoinAnswers, facts: JoinFacts) -> tuple[Plan, dict[str, Plan]]:
    """(the plan that reads the join secret, {node name: its join plan})."""
    if answers.distribution not in ("k3s", "kubeadm"):
        raise PlanError("distribution", f"expected k3s or kubeadm, got {answers.distribution!r}")
    if not answers.nodes:
        raise PlanError("node", "choose at least one node to join")
    if answers.server.name in {node.name for node in answers.nodes}:
        raise PlanError("node", f"{answers.server.name} is the server; it is already in the cluster")
    if answers.server.hostname not in facts.in_cluster:
        raise PlanError("server", f"{answers.server.hostname} is not a node of the cluster the kubeconfig reaches: "
                                  f"bootstrap {answers.server.name} first")
    plans = {node.name: _join_node(answers, node, facts) for node in answers.nodes}
    needed = any(SECRET_REF.search(step.rendering) for plan in plans.values() for step in plan.changes)
    server = answers.server
    if answers.distribution == "k3s":
        secret = Step(Target.SSH, server.name, f"Read the node token from {server.name}",
                      f"{secret_variable(K3S_TOKEN)}=$(ssh {server.name} sudo cat {K3S_TOKEN_PATH})",
                      CaptureSecret(f"cat {K3S_TOKEN_PATH}", K3S_TOKEN),
                      noop_reason="" if needed else "every node is already in the cluster")
    else:
        secret = Step(Target.SSH, server.name, f"Create a join command on {server.name}",
                      f"{secret_variable(KUBEADM_JOIN)}=$(ssh {server.name} "
                      "sudo kubeadm token create --print-join-command)",
                      CaptureSecret("kubeadm token create --print-join-command", KUBEADM_JOIN),
                      noop_reason="" if needed else "every node is already in the cluster")
    return Plan(f"Read the join secret from {server.name}", (secret,)), plans


def _join_node(answers: JoinAnswers, node: NodeSpec, facts: JoinFacts) -> Plan:
    node_facts = facts.nodes.get(node.name)
    if node_facts is None:
        raise PlanError("node", f"no facts were read from {node.name}")
    joined = node.hostname in facts.in_cluster
    k3s = answers.distribution == "k3s"
    if k3s and node_facts.k3s_service == "k3s":
        raise PlanError("node", f"{node.name} runs a k3s server of its own; uninstall it (k3s-uninstall.sh) first")
    if not k3s and node_facts.kubeadm_role == "server":
        raise PlanError("node", f"{node.name} is a kubeadm control plane of its own")
    installed = node_facts.k3s_service == "k3s-agent" if k3s else node_facts.kubeadm_role == "agent"
    reason = f"{node.hostname} is in the cluster" if joined else ("the agent is installed" if installed else "")
    prepare = fix_ups(node, node_facts, answers.cluster, swap_off=not k3s)
    if joined:  # a working node is not re-prepared (no reboot)
        prepare = [step if step.noop_reason else replace(step, noop_reason=reason) for step in prepare]
    if k3s:
        env = [("K3S_URL", f"https://{answers.server.address}:6443"), ("K3S_TOKEN", secret_ref(K3S_TOKEN))]
        version = answers.k3s_version or facts.server_version
        if version:
            env.append(("INSTALL_K3S_VERSION", version))
        install = k3s_install_steps(node, answers.install_script, env, "k3s-agent", installed_reason=reason)
    else:
        install = [
            *kubeadm_prerequisites(node, node_facts, kubernetes_minor(facts.server_version), done_reason=reason),
            Step(Target.SSH, node.name, f"Join {node.name} to the cluster", sudo_rendering(secret_ref(KUBEADM_JOIN)),
                 Run(secret_ref(KUBEADM_JOIN), sudo=True), noop_reason=reason),
        ]
    wait = Step(Target.KUBE, "", f"Wait until node {node.hostname} is Ready",
                f"{kubectl(answers.context)} wait --for=condition=Ready "
                f"node/{node.hostname}", WaitNodeReady(node.hostname),
                noop_reason=f"{node.hostname} is in the cluster" if joined else "")
    labels = label_steps(node, facts.node_labels.get(node.hostname), answers.context)
    return Plan(f"Join {node.name}", (*prepare, *install, wait, *labels))
