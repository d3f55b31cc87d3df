"""Bootstrap: the first server of a cluster, k3s or kubeadm, from a bare node to a kubeconfig on
this machine. `bootstrap_plan(answers, facts)` is pure; run again on the state it produced, every
step is a no-op with its reason."""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, replace

from . import Plan, PlanError, Step, Target
from .actions import FetchKubeconfig, WaitNodeReady
from .nodes import (FLANNEL_MANIFEST_URL, FLANNEL_POD_CIDR, KUBERNETES_MINOR, NodeFacts, NodeSpec, fix_ups,
                    k3s_install_steps, kubeadm_prerequisites, kubectl, label_steps, run_step)

K3S_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
KUBEADM_ADMIN_CONF = "/etc/kubernetes/admin.conf"
K3S_DISABLE = ("traefik", "servicelb")


@dataclass(frozen=True)
class BootstrapAnswers:
    node: NodeSpec
    cluster: tuple[NodeSpec, ...]  # every config node, for /etc/hosts
    cluster_name: str
    kubeconfig: str  # the local kubeconfig to merge into
    context: str = ""  # the context the app uses (cluster.context), when not the one merged as cluster_name
    distribution: str = "k3s"
    pod_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    install_script: str = "https://get.k3s.io"
    tls_sans: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()  # k3s components to leave out: traefik, servicelb
    extra_args: tuple[str, ...] = ()
    k3s_version: str = ""  # e.g. v1.31.4+k3s1
    k3s_channel: str = ""  # stable, latest, testing, or a minor such as v1.31
    kubernetes_version: str = ""  # kubeadm: the minor version to install, e.g. v1.30
    lan_cidrs: tuple[str, ...] = ()  # the router's networks, when one is configured
    api_host: str = ""  # where this machine reaches the API (defaults to the node's address)


@dataclass(frozen=True)
class BootstrapFacts:
    node: NodeFacts
    kubeconfig_server_host: str = ""  # the server host of our context in the local kubeconfig, if any
    kubeconfig_entries: tuple[str, ...] = ()  # entries of the same name the merge would replace
    node_ready: bool = False  # the node is Ready in the API (read when a kubeconfig already works)
    # What the installed cluster uses, from its API: the server node's pod subnets (inside the pod
    # CIDR) and the `kubernetes` Service's address (the first of the service CIDR)
    installed_pod_subnets: tuple[str, ...] = ()
    installed_service_ip: str = ""
    node_labels: dict[str, str] | None = None  # the node's labels in the API, once it is registered


_K3S_VERSION = re.compile(r"v\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+")
_K3S_CHANNEL = re.compile(r"stable|latest|testing|v\d+\.\d+")
_KUBERNETES_MINOR = re.compile(r"v\d+\.\d+")


def k3s_release(text: str) -> tuple[str, str]:
    """(version, channel) from one answer: a full release such as v1.31.4+k3s1 is a version;
    anything else (stable, latest, v1.31) is a channel; blank is the install script's default."""
    text = text.strip()
    return (text, "") if _K3S_VERSION.fullmatch(text) else ("", text)


_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)


def _is_host(text: str) -> bool:
    """A DNS name (RFC 1123 labels) or an IP address: what a certificate's SAN can hold."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        labels = text.rstrip(".").split(".")
        return len(text) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels)


def check_answers(answers: BootstrapAnswers) -> None:
    """What can be checked before any node is contacted: the distribution and its options, and the
    pod and service CIDRs (valid, apart from each other, the nodes and the LAN). Every wrong answer
    is reported at once."""
    errors: list[tuple[str, str]] = []
    if answers.distribution not in ("k3s", "kubeadm"):
        errors.append(("distribution", f"expected k3s or kubeadm, got {answers.distribution!r}"))
    if answers.distribution == "kubeadm":
        for name, value in (("k3s_release", answers.k3s_version or answers.k3s_channel), ("disable", answers.disable)):
            if value:
                errors.append((name, f"is a k3s option; kubeadm has no use for it (got {value!r})"))
        if answers.kubernetes_version and not _KUBERNETES_MINOR.fullmatch(answers.kubernetes_version):
            errors.append(("kubernetes_version", f"expected a minor version such as v1.30, "
                                                 f"got {answers.kubernetes_version!r}"))
        if answers.pod_cidr != FLANNEL_POD_CIDR:
            errors.append(("pod_cidr", f"the flannel manifest routes {FLANNEL_POD_CIDR}; use it with kubeadm "
                                       f"(got {answers.pod_cidr})"))
    elif answers.kubernetes_version:
        errors.append(("kubernetes_version", f"is a kubeadm option; k3s takes k3s_release "
                                             f"(got {answers.kubernetes_version!r})"))
    if (answers.k3s_version and not _K3S_VERSION.fullmatch(answers.k3s_version)
            or answers.k3s_channel and not _K3S_CHANNEL.fullmatch(answers.k3s_channel)):
        errors.append(("k3s_release", "expected a k3s release such as v1.31.4+k3s1, or a channel: stable, latest, "
                                      f"testing or a minor such as v1.31; got {answers.k3s_version or answers.k3s_channel!r}"))
    errors += [("disable", f"expected some of {', '.join(K3S_DISABLE)}, got {component!r}")
               for component in answers.disable if component not in K3S_DISABLE]
    errors += [("tls_sans", f"expected a DNS name or an IP address, got {san!r}")
               for san in answers.tls_sans if not _is_host(san)]
    errors += [("extra_args", f"expected one argument without spaces (such as --node-taint=a=b:NoSchedule), got {arg!r}")
               for arg in answers.extra_args if not arg or any(char.isspace() for char in arg)]
    errors += _network_errors(answers)
    PlanError.check(errors)


def _network_errors(answers: BootstrapAnswers) -> list[tuple[str, str]]:
    """The pod and service CIDRs: IPv4 networks, apart from each other, the nodes and the LAN."""
    errors: list[tuple[str, str]] = []
    networks = {}
    for name in ("pod_cidr", "service_cidr"):
        try:
            network = ipaddress.ip_network(getattr(answers, name), strict=True)
        except ValueError as exc:
            errors.append((name, f"expected a network such as 10.42.0.0/16, got {getattr(answers, name)!r} ({exc})"))
            continue
        if network.version != 4:
            errors.append((name, f"expected an IPv4 network such as 10.42.0.0/16, got {network} "
                                 "(dual-stack clusters are not supported yet)"))
            continue
        networks[name] = network
        clash = next((f"{network} contains the address of node {node.name} ({node.address})"
                      for node in answers.cluster if ipaddress.ip_address(node.address) in network), None)
        clash = clash or next((f"{network} overlaps the LAN {lan} (read from the router)" for lan in answers.lan_cidrs
                               if network.overlaps(ipaddress.ip_network(lan, strict=False))), None)
        if clash:
            errors.append((name, clash))
    if len(networks) == 2 and networks["pod_cidr"].overlaps(networks["service_cidr"]):
        errors.append(("service_cidr", f"{networks['service_cidr']} overlaps the pod CIDR {networks['pod_cidr']}"))
    return errors


def bootstrap_plan(answers: BootstrapAnswers, facts: BootstrapFacts) -> Plan:
    check_answers(answers)
    node, node_facts = answers.node, facts.node
    if answers.distribution == "k3s":
        install = _k3s_server(answers, node_facts)
        remote_kubeconfig, installed = K3S_KUBECONFIG, node_facts.k3s_service == "k3s"
    else:
        install = _kubeadm_init(answers, node_facts)
        remote_kubeconfig, installed = KUBEADM_ADMIN_CONF, node_facts.kubeadm_role == "server"
    if installed:
        _check_installed_networks(answers, facts)
    prepare = fix_ups(node, node_facts, answers.cluster, swap_off=answers.distribution == "kubeadm")
    if installed:  # a running cluster is not re-prepared (no reboot of a working server)
        prepare = [step if step.noop_reason else replace(step, noop_reason="the cluster already runs here")
                   for step in prepare]
    api_host = answers.api_host or node.address
    merged = facts.kubeconfig_server_host == api_host
    replaces = f"; this replaces {', '.join(facts.kubeconfig_entries)}" if facts.kubeconfig_entries and not merged else ""
    steps = [
        *prepare,
        *install,
        Step(Target.SSH, node.name, f"Fetch the kubeconfig from {node.name}, point it at {api_host}, and merge it into "
                               f"{answers.kubeconfig} as context {answers.cluster_name}{replaces}",
             f"ssh {node.name} sudo cat {remote_kubeconfig}  # then: server host {api_host}, cluster, user and "
             f"context named {answers.cluster_name}, merged into {answers.kubeconfig}",
             FetchKubeconfig(remote_kubeconfig, api_host, answers.cluster_name, answers.kubeconfig),
             noop_reason=f"{answers.kubeconfig} has context {answers.cluster_name} for {api_host}" if merged else ""),
        Step(Target.KUBE, "", f"Wait until node {node.hostname} is Ready",
             f"{kubectl(answers.context or answers.cluster_name)} wait --for=condition=Ready "
             f"node/{node.hostname}",
             WaitNodeReady(node.hostname), noop_reason=f"{node.hostname} is Ready" if facts.node_ready else ""),
        *label_steps(node, facts.node_labels, answers.context or answers.cluster_name),
    ]
    return Plan(f"Bootstrap {answers.distribution} on {node.name}", tuple(steps))


def _check_installed_networks(answers: BootstrapAnswers, facts: BootstrapFacts) -> None:
    """An answer the installed cluster does not use is refused rather than dropped: the install
    step is a no-op on a running server, so a new CIDR would silently not happen."""
    reinstall = f"changing it needs a reinstall of {answers.distribution} on {answers.node.name}"
    pods = ipaddress.ip_network(answers.pod_cidr)
    for subnet in facts.installed_pod_subnets:
        if not ipaddress.ip_network(subnet, strict=False).subnet_of(pods):
            raise PlanError("pod_cidr", f"{pods} differs from the installed cluster's (node {answers.node.hostname} "
                                        f"has pods in {subnet}); {reinstall}")
    if facts.installed_service_ip and ipaddress.ip_address(facts.installed_service_ip) not in ipaddress.ip_network(
            answers.service_cidr):
        raise PlanError("service_cidr", f"{answers.service_cidr} differs from the installed cluster's (its kubernetes "
                                        f"Service has {facts.installed_service_ip}); {reinstall}")


def _k3s_server(answers: BootstrapAnswers, facts: NodeFacts) -> list[Step]:
    node = answers.node
    if facts.kubeadm_role:
        raise PlanError("distribution", f"{node.name} already runs kubeadm; k3s would conflict with it")
    installed = "k3s server is active" if facts.k3s_service == "k3s" else ""
    if facts.k3s_service == "k3s-agent":
        raise PlanError("node", f"{node.name} is already a k3s agent; uninstall it (k3s-agent-uninstall.sh) first")
    if not installed and facts.port_6443_busy:
        raise PlanError("node", f"port 6443 on {node.name} is in use by another program")
    exec_args = ["server", f"--cluster-cidr={answers.pod_cidr}", f"--service-cidr={answers.service_cidr}"]
    exec_args += [f"--tls-san={san}" for san in answers.tls_sans]
    exec_args += [f"--disable={component}" for component in answers.disable]
    exec_args += answers.extra_args
    env = [("INSTALL_K3S_EXEC", " ".join(exec_args))]
    if answers.k3s_version:
        env.append(("INSTALL_K3S_VERSION", answers.k3s_version))
    elif answers.k3s_channel:
        env.append(("INSTALL_K3S_CHANNEL", answers.k3s_channel))
    return k3s_install_steps(node, answers.install_script, env, "k3s", installed_reason=installed)


def _kubeadm_init(answers: BootstrapAnswers, facts: NodeFacts) -> list[Step]:
    node = answers.node
    if facts.k3s_service:
        raise PlanError("distribution", f"{node.name} already runs {facts.k3s_service}; kubeadm would conflict")
    initialised = "kubeadm has set up this control plane" if facts.kubeadm_role == "server" else ""
    if facts.kubeadm_role == "agent":
        raise PlanError("node", f"{node.name} already joined a kubeadm cluster as a worker")
    if not initialised and facts.port_6443_busy:
        raise PlanError("node", f"port 6443 on {node.name} is in use by another program")
    init = [f"kubeadm init --pod-network-cidr={answers.pod_cidr}", f"--service-cidr={answers.service_cidr}"]
    init += [f"--apiserver-cert-extra-sans={','.join(answers.tls_sans)}"] if answers.tls_sans else []
    init += [shlex.quote(arg) for arg in answers.extra_args]
    return [
        *kubeadm_prerequisites(node, facts, answers.kubernetes_version or KUBERNETES_MINOR, done_reason=initialised),
        run_step(node, f"Initialise the control plane on {node.name}", " ".join(init), noop_reason=initialised),
        run_step(node, "Install the flannel pod network",
                 f"KUBECONFIG={KUBEADM_ADMIN_CONF} kubectl apply -f {FLANNEL_MANIFEST_URL}", noop_reason=initialised),
        run_step(node, f"Check that kubelet is running on {node.name}", "systemctl is-active kubelet", sudo=False,
                 noop_reason=initialised),
    ]
