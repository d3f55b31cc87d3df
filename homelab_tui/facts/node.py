"""A node's facts, read over SSH in one round trip: what bootstrap and join plan from, and what
`check` reports. The commands are read-only and need no sudo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import CommandResult
from ..plans.nodes import CMDLINE_PATH, KUBERNETES_SOURCES, NodeFacts

if TYPE_CHECKING:
    from ..clients.ssh import SshSession

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
    "forwarding": "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/bridge/bridge-nf-call-iptables",
    "kubernetes.list": f"cat {KUBERNETES_SOURCES}",
    "containerd": "grep -q 'SystemdCgroup = true' /etc/containerd/config.toml",
}


OK, FAILED = "@@homelab-tui-ok@@", "@@homelab-tui-failed@@"


def facts_script() -> str:
    """Every fact command in one shell line (one SSH channel, not one per fact: it counts when ten
    nodes are read at once), each followed by a marker saying whether it succeeded."""
    return "; ".join(f"{command} && echo {OK} || echo {FAILED}" for command in FACT_COMMANDS.values())


def split_facts_output(host: str, stdout: str) -> dict[str, CommandResult]:
    """The script's output cut back into one result per fact. A marker may follow output that did
    not end in a newline, on the same line."""
    results, lines, names = {}, [], iter(FACT_COMMANDS)
    for line in stdout.splitlines():
        marker = next((m for m in (OK, FAILED) if line.endswith(m)), None)
        if marker is None:
            lines.append(line)
            continue
        if line[:-len(marker)]:
            lines.append(line[:-len(marker)])
        name = next(names)
        text = "".join(f"{kept}\n" for kept in lines)
        results[name] = CommandResult(host, FACT_COMMANDS[name], 0 if marker == OK else 1, text)
        lines = []
    missing = [name for name in FACT_COMMANDS if name not in results]
    if missing:
        raise ValueError(f"{host}: the facts script stopped before {', '.join(missing)}")
    return results


async def node_facts(session: SshSession) -> NodeFacts:
    result = await session.run(facts_script())
    return parse_node_facts(split_facts_output(session.host, result.stdout))


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
        bridged_forwarding=out("forwarding").split() == ["1", "1"],
        kubernetes_sources=out("kubernetes.list"),
        containerd_systemd_cgroup=results["containerd"].ok,
    )
