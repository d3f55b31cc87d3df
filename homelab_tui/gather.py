"""Facts for the plan builders, read from the lab: a node over SSH, the local kubeconfig, and
which nodes the cluster already has. The commands are read-only and need no sudo."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlparse

import yaml

from .clients.ssh import SshSession
from .models import CommandResult
from .plans.nodes import CMDLINE_PATH, NodeFacts

FACT_COMMANDS = {
    "arch": "uname -m",
    "os": "cat /etc/os-release",
    "hostname": "hostname",
    "hosts": "cat /etc/hosts",
    "cgroups": "cat /proc/cgroups",
    "cmdline": f"cat {CMDLINE_PATH}",
    "swaps": "cat /proc/swaps",
    "k3s": "systemctl is-active k3s",
    "k3s-agent": "systemctl is-active k3s-agent",
    "kubelet": "systemctl is-active kubelet",
    "kubeadm": "test -x /usr/bin/kubeadm",
    "admin.conf": "test -f /etc/kubernetes/admin.conf",
    "kubelet.conf": "test -f /etc/kubernetes/kubelet.conf",
    "port": "ss -Hltn 'sport = :6443'",
}


async def node_facts(session: SshSession) -> NodeFacts:
    names = list(FACT_COMMANDS)
    results = await asyncio.gather(*(session.run(FACT_COMMANDS[name]) for name in names))
    return parse_node_facts(dict(zip(names, results)))


def parse_node_facts(results: dict[str, CommandResult]) -> NodeFacts:
    def out(name: str) -> str:
        return results[name].stdout if results[name].ok else ""

    os_release = dict(line.split("=", 1) for line in out("os").splitlines() if "=" in line)
    memory = [line.split() for line in out("cgroups").splitlines() if line.startswith("memory")]
    swaps = [line for line in out("swaps").splitlines()[1:] if line.strip()]
    k3s_service = next((name for name in ("k3s", "k3s-agent") if out(name).strip() == "active"), "")
    kubeadm_role = "server" if results["admin.conf"].ok else "agent" if results["kubelet.conf"].ok else ""
    return NodeFacts(
        arch=out("arch").strip(),
        os=os_release.get("PRETTY_NAME", "").strip('"'),
        hostname=out("hostname").strip(),
        hosts_lines=frozenset(" ".join(line.split()) for line in out("hosts").splitlines()
                              if line.strip() and not line.lstrip().startswith("#")),
        memory_cgroup=bool(memory) and memory[0][-1] == "1",
        cmdline=out("cmdline") if results["cmdline"].ok else None,
        swap_on=bool(swaps),
        k3s_service=k3s_service,
        kubelet_active=out("kubelet").strip() == "active",
        kubeadm_installed=results["kubeadm"].ok,
        kubeadm_role=kubeadm_role,
        port_6443_busy=bool(out("port").strip()),
    )


def kubeconfig_server_host(kubeconfig: str | Path, context: str) -> str:
    """The server host our context points at in a local kubeconfig; "" when there is none."""
    try:
        config = yaml.safe_load(Path(kubeconfig).expanduser().read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ""
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    cluster = clusters.get(contexts.get(context, {}).get("cluster"), {})
    return urlparse(cluster.get("server", "")).hostname or ""
