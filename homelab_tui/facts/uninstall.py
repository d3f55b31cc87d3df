"""What there is to uninstall on a node, read over SSH in one round trip: the uninstall script the
k3s installer left (present whether or not k3s runs now), what kubeadm set up, and the /etc/hosts
lines bootstrap and join added (marked as ours)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..plans.nodes import HOSTS_MARKER
from ..plans.uninstall import K3S_SCRIPT_DIR, K3S_SCRIPTS, InstalledNode

if TYPE_CHECKING:
    from ..clients.ssh import SshSession

KUBEADM_FILES = {"admin.conf": "server", "kubelet.conf": "agent"}  # admin.conf first: a control plane has both


async def installed_node(session: SshSession) -> InstalledNode:
    checks = [f"test -x {K3S_SCRIPT_DIR}/{script} && echo {script}" for script in K3S_SCRIPTS.values()]
    checks += [f"test -f /etc/kubernetes/{name} && echo {name}" for name in KUBEADM_FILES]
    checks.append(f'grep -F " {HOSTS_MARKER}" /etc/hosts')
    lines = (await session.run("; ".join(checks) + "; true")).stdout.splitlines()
    ours = tuple(line.strip() for line in lines if line.rstrip().endswith(f" {HOSTS_MARKER}"))
    found = {word for line in lines if line.strip() not in ours for word in line.split()}
    return InstalledNode(
        k3s_script=next((script for script in K3S_SCRIPTS.values() if script in found), ""),
        kubeadm_role=next((role for name, role in KUBEADM_FILES.items() if name in found), ""),
        hosts_lines=ours)
