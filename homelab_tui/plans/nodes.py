"""What bootstrap and join share: the facts read from a node, and the fix-ups a node needs before
Kubernetes will run on it (hostname, /etc/hosts, the memory cgroup, swap)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from . import SECRET_REF, PlanError, Step, Target
from .actions import LabelNode, Reboot, Run, Upload

CMDLINE_PATH = "/boot/firmware/cmdline.txt"
CGROUP_PARAMS = "cgroup_enable=cpuset cgroup_memory=1 cgroup_enable=memory"
K3S_INSTALL_URL = "https://get.k3s.io"
FLANNEL_MANIFEST_URL = "https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml"
FLANNEL_POD_CIDR = "10.244.0.0/16"  # what the flannel manifest routes unless it is edited
# Relative: the login user's home. A fixed path in /tmp, run as root, could be planted by any user.
REMOTE_INSTALL_SCRIPT = "k3s-install.sh"
KUBERNETES_MINOR = "v1.30"  # the pkgs.k8s.io repository kubeadm installs from when nothing says otherwise
KUBERNETES_KEYRING = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
KUBERNETES_SOURCES = "/etc/apt/sources.list.d/kubernetes.list"
# Ends every /etc/hosts line bootstrap and join add, so that uninstall removes those and no other.
HOSTS_MARKER = "# homelab-tui"


@dataclass(frozen=True)
class NodeFacts:
    """A node as read over SSH (see facts/node.py for the commands)."""

    arch: str = ""
    os: str = ""
    hostname: str = ""
    hosts_lines: frozenset[str] = frozenset()  # "address name" lines of /etc/hosts, whitespace-normalised
    memory_cgroup: bool = True  # enabled in the running kernel (/proc/cgroups)
    cmdline: str | None = None  # the Raspberry Pi's cmdline.txt, None when there is none
    swap_on: bool = False
    k3s_service: str = ""  # "k3s" or "k3s-agent" when active
    kubelet_active: bool = False
    kubeadm_installed: bool = False  # the kubeadm binary
    kubeadm_role: str = ""  # "server" (admin.conf) or "agent" (kubelet.conf) when kubeadm set it up
    port_6443_busy: bool = False
    bridged_forwarding: bool = False  # net.ipv4.ip_forward and net.bridge.bridge-nf-call-iptables are 1
    kubernetes_sources: str = ""  # /etc/apt/sources.list.d/kubernetes.list
    containerd_systemd_cgroup: bool = False  # /etc/containerd/config.toml sets SystemdCgroup = true

    @property
    def cgroup_in_cmdline(self) -> bool:
        return self.cmdline is not None and "cgroup_memory=1" in self.cmdline.split()


@dataclass(frozen=True)
class NodeSpec:
    """A config node as the builders need it."""

    name: str  # the config name, used as the SSH host of its steps
    address: str
    hostname: str  # the Kubernetes node name
    labels: tuple[tuple[str, str], ...] = ()  # [[nodes]] labels, applied once the node is registered

    @property
    def hosts_line(self) -> str:
        return f"{self.address} {self.hostname}"

    @property
    def marked_hosts_line(self) -> str:
        """The line as we add it: marked as ours."""
        return f"{self.hosts_line} {HOSTS_MARKER}"


_PLAIN_VALUE = re.compile(r"[\w\s.,:/=+@%-]*")


def sh_quote(value: str) -> str:
    """A value for a shell command: double quotes when that is enough (they read better inside
    `sudo sh -c '...'` than nested single quotes), else shlex's single quotes."""
    if value and _PLAIN_VALUE.fullmatch(value):
        return value if not any(c.isspace() for c in value) else f'"{value}"'
    return shlex.quote(value)


def sudo_rendering(command: str) -> str:
    """How a root command reads when run by hand."""
    simple = not any(char in command for char in "|&;<>()$`\"'")
    return f"sudo {command}" if simple else f"sudo sh -c {shlex.quote(command)}"


def kubectl(context: str) -> str:
    """kubectl as a rendering runs it: on `context`, or on the kubeconfig's current context when none."""
    return f"kubectl --context {context}" if context else "kubectl"


def run_step(node: NodeSpec, description: str, command: str, *, sudo: bool = True, noop_reason: str = "") -> Step:
    rendering = sudo_rendering(command) if sudo else command
    return Step(Target.SSH, node.name, description, rendering, Run(command, sudo=sudo), noop_reason=noop_reason)


def fix_ups(node: NodeSpec, facts: NodeFacts, cluster: tuple[NodeSpec, ...], *, swap_off: bool) -> list[Step]:
    """The steps that make `node` ready for Kubernetes; no-ops where it already is."""
    steps = [run_step(node, f"Set the hostname of {node.name} to {node.hostname}",
                      f"hostnamectl set-hostname {node.hostname}",
                      noop_reason=f"the hostname is {node.hostname}" if facts.hostname == node.hostname else "")]
    # One step for every missing line (one SSH round trip, not one per node of the cluster).
    present = {line.partition("#")[0].strip() for line in facts.hosts_lines}  # ours or the user's, either counts
    missing = [other for other in cluster if " ".join(other.hosts_line.split()) not in present]
    if adding := missing or list(cluster):
        steps.append(run_step(
            node, f"Let {node.name} resolve {_listed([other.hostname for other in adding])} by name (/etc/hosts)",
            'printf "%s\\n" ' + " ".join(f'"{other.marked_hosts_line}"' for other in adding) + " >> /etc/hosts",
            noop_reason="" if missing else "/etc/hosts has every node"))
    if facts.memory_cgroup:
        steps.append(run_step(node, f"Enable the memory cgroup on {node.name}", _cgroup_command(),
                              noop_reason="the memory cgroup is enabled"))
    else:
        if facts.cmdline is None:
            raise PlanError("node", f"{node.name} has the memory cgroup disabled and no {CMDLINE_PATH}: enable "
                                    f"it in the boot loader ({CGROUP_PARAMS}), then run this again")
        steps.append(run_step(node, f"Enable the memory cgroup on {node.name} at boot ({CMDLINE_PATH})",
                              _cgroup_command(),
                              noop_reason="cmdline.txt has it; a reboot is pending" if facts.cgroup_in_cmdline else ""))
        steps.append(Step(Target.SSH, node.name, f"Reboot {node.name} so the memory cgroup takes effect, and wait "
                                                 "for SSH", "sudo reboot", Reboot()))
    if swap_off:
        steps.append(run_step(node, f"Turn swap off on {node.name}, now and at boot (kubelet requires it)",
                              r'swapoff -a && sed -i -E "/^[^#].*\sswap\s/ s/^/#/" /etc/fstab',
                              noop_reason="" if facts.swap_on else "swap is off"))
    return steps


def _listed(names: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def _cgroup_command() -> str:
    # Double quotes (no `$` here starts an expansion) read better than nested single quotes once
    # the command is wrapped in `sudo sh -c '...'`.
    return (f"grep -qw cgroup_memory=1 {CMDLINE_PATH} || "
            f'sed -i "$ s/$/ {CGROUP_PARAMS}/" {CMDLINE_PATH}')


def k3s_install_steps(node: NodeSpec, install_script: str, env: list[tuple[str, str]], service: str,
                      *, installed_reason: str) -> list[Step]:
    """The k3s install script with `env`, from its URL or uploaded from a local file, then a check
    that the service runs: `curl | sh` exits 0 even when curl failed."""
    # A secret reference stays bare, so that where it is shown as ${K3S_TOKEN} the shell expands it.
    assignments = " ".join(f"{name}={value if SECRET_REF.fullmatch(value) else sh_quote(value)}"
                           for name, value in env)
    steps: list[Step] = []
    if "://" in install_script:
        command = f"curl -sfL {sh_quote(install_script)} | {assignments} sh -"
    else:
        steps.append(Step(Target.SSH, node.name, f"Copy the k3s install script {install_script} to {node.name}",
                          f"scp {install_script} {node.name}:{REMOTE_INSTALL_SCRIPT}",
                          Upload(install_script, REMOTE_INSTALL_SCRIPT), noop_reason=installed_reason))
        command = f"{assignments} sh {REMOTE_INSTALL_SCRIPT}"
    steps.append(run_step(node, f"Install k3s on {node.name} ({service})", command, noop_reason=installed_reason))
    steps.append(run_step(node, f"Check that {service} is running on {node.name}", f"systemctl is-active {service}",
                          sudo=False, noop_reason=installed_reason))
    return steps


def kubernetes_minor(version: str) -> str:
    """v1.30 from v1.30.4 (or v1.30.4+k3s1); the default for anything else."""
    match = re.match(r"(v\d+\.\d+)\.", version)
    return match.group(1) if match else KUBERNETES_MINOR


def kubeadm_prerequisites(node: NodeSpec, facts: NodeFacts, minor: str, *, done_reason: str) -> list[Step]:
    """What a node needs before `kubeadm init` or `join`, as the kubeadm install guide has it: the
    kernel forwarding bridged pod traffic, the pkgs.k8s.io repository of the cluster's minor
    version (Debian and Ubuntu have no kubeadm), the packages held at that version, and containerd
    on the systemd cgroup driver that kubelet uses."""
    repository = f"https://pkgs.k8s.io/core:/stable:/{minor}/deb/"

    def noop(reason: str, done: bool) -> str:
        return done_reason or (reason if done else "")

    return [
        run_step(node, f"Let {node.name} forward bridged pod traffic (overlay, br_netfilter, ip_forward)",
                 'printf "overlay\\nbr_netfilter\\n" > /etc/modules-load.d/k8s.conf && modprobe overlay && '
                 'modprobe br_netfilter && printf "net.bridge.bridge-nf-call-iptables = 1\\n'
                 'net.bridge.bridge-nf-call-ip6tables = 1\\nnet.ipv4.ip_forward = 1\\n" > /etc/sysctl.d/k8s.conf '
                 "&& sysctl --system",
                 noop_reason=noop("the kernel forwards bridged traffic", facts.bridged_forwarding)),
        run_step(node, f"Add the Kubernetes {minor} package repository (pkgs.k8s.io) to {node.name}",
                 f"mkdir -p -m 755 /etc/apt/keyrings && curl -fsSL {repository}Release.key | gpg --dearmor --yes "
                 f'-o {KUBERNETES_KEYRING} && echo "deb [signed-by={KUBERNETES_KEYRING}] {repository} /" > '
                 f"{KUBERNETES_SOURCES} && apt-get update",
                 noop_reason=noop("the repository is there", repository in facts.kubernetes_sources
                                  or facts.kubeadm_installed)),
        run_step(node, f"Install containerd, kubelet, kubeadm and kubectl on {node.name}, and hold their versions",
                 "apt-get install -y containerd kubelet kubeadm kubectl && apt-mark hold kubelet kubeadm kubectl",
                 noop_reason=noop("kubeadm is installed", facts.kubeadm_installed)),
        run_step(node, f"Put containerd on {node.name} on the systemd cgroup driver",
                 'mkdir -p /etc/containerd && containerd config default | sed "s/SystemdCgroup = false/'
                 'SystemdCgroup = true/" > /etc/containerd/config.toml && systemctl restart containerd',
                 noop_reason=noop("containerd uses it", facts.containerd_systemd_cgroup)),
    ]


def label_steps(node: NodeSpec, current: dict[str, str] | None, context: str) -> list[Step]:
    """The config's labels on the registered node (k3s and kubeadm alike: a label given at install
    time would not follow a later change of the config); a no-op when the node has them all."""
    if not node.labels:
        return []
    wanted = " ".join(f"{key}={value}" for key, value in node.labels)
    has_all = current is not None and all(current.get(key) == value for key, value in node.labels)
    return [Step(Target.KUBE, "", f"Label node {node.hostname}: {wanted}",
                 f"{kubectl(context)} label node {node.hostname} {wanted} --overwrite",
                 LabelNode(node.hostname, node.labels),
                 noop_reason=f"{node.hostname} has these labels" if has_all else "")]
