"""Simulated Raspberry Pi nodes reachable over real SSH: one asyncssh server per node on 127.0.0.1.

Each node has its own ed25519 host key, accepts public-key logins for one user (default
`ubuntu`, a sudoer), serves SFTP from its in-memory files, and runs commands through a small
POSIX-shell interpreter that knows the bootstrap commands of the reference lab. Anything else
exits 127 with `sh: 1: <cmd>: not found`.

Shell subset: words are split with `shlex` (quotes, no `$` expansion, no subshells); `;`, `&&`,
`||`, `|`; `NAME=value` prefixes; redirections `>`, `>>`, `<`, `2>&1`, `>/dev/null`. Scripts
(`sh -c`, `sh file`, `sh -` from stdin) run line by line. A script that contains
`INSTALL_K3S_` is treated as the k3s install script, wherever it came from (curl or an upload).
Like dash, a pipeline's status is its last command's: when curl fails, `curl ... | sh -` runs an
empty script and exits 0, so plans must confirm an install with `systemctl is-active`.
`wc -l` counts lines; `head`/`tail` take `-n N`. Files live in `SimNodeState.files`; the login
user may write only under /tmp and its home, everything else needs sudo.

Canonical commands: the plan builders should use exactly these; the sim understands them.

    hostname          sudo hostnamectl set-hostname node1.kube.local
    /etc/hosts lines  sudo sh -c 'printf "%s\\n" "192.168.40.102 master1.kube.local" ... >> /etc/hosts'
                        (or `grep -qxF LINE /etc/hosts || echo LINE | sudo tee -a /etc/hosts`)
    memory cgroup     grep -qw cgroup_memory=1 /boot/firmware/cmdline.txt
                        || sudo sed -i "$ s/$/ cgroup_enable=cpuset cgroup_memory=1 cgroup_enable=memory/"
                           /boot/firmware/cmdline.txt
                      then `sudo reboot`; `/proc/cgroups` follows the cmdline of the running boot.
    swap (kubeadm)    sudo swapoff -a && sudo sed -i -E "/^[^#].*\\sswap\\s/ s/^/#/" /etc/fstab
    port check        ss -Hltn 'sport = :6443'           (prints nothing when the port is free)
    k3s server        curl -sfL https://get.k3s.io | INSTALL_K3S_EXEC="server --cluster-cidr=10.42.0.0/16
                        --service-cidr=10.43.0.0/16" sh -            (run as root: `sudo sh -c '...'`)
    token, kubeconfig sudo cat /var/lib/rancher/k3s/server/node-token; sudo cat /etc/rancher/k3s/k3s.yaml
    k3s agent         curl -sfL https://get.k3s.io | K3S_URL=https://192.168.40.102:6443 K3S_TOKEN=... sh -
    air-gapped        upload the script (SFTP, to /tmp), then `INSTALL_K3S_EXEC=... sh /tmp/k3s-install.sh`;
                      with INSTALL_K3S_SKIP_DOWNLOAD=true the binary must already be at /usr/local/bin/k3s.
    service state     systemctl is-active k3s   (or k3s-agent, kubelet)
    kubeadm prereqs   plans.nodes.kubeadm_prerequisites: modprobe overlay/br_netfilter and `sysctl --system`
                        (kubeadm's preflight wants ip_forward = 1); the pkgs.k8s.io key (`curl | gpg --dearmor`)
                        and source, `apt-get update` (Ubuntu alone has no kubeadm); `apt-get install -y
                        containerd kubelet kubeadm kubectl`; `containerd config default | sed ... > config.toml`
    kubeadm           sudo kubeadm init --pod-network-cidr=10.244.0.0/16
                      sudo kubeadm token create --print-join-command   (on the master)
                      sudo kubeadm join 192.168.40.102:6443 --token ... --discovery-token-ca-cert-hash sha256:...
    flannel           sudo KUBECONFIG=/etc/kubernetes/admin.conf kubectl apply -f <flannel manifest URL>

The cluster side (the Kubernetes sim) is reached through the `SimCluster` hooks.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import logging
import posixpath
import re
import secrets
import shlex
import stat
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import asyncssh
import yaml

from homelab_tui.files import atomic_write
from homelab_tui.sim.kube.resources import K3S_VERSION  # one release for the nodes and the API

log = logging.getLogger(__name__)

K3S_COMMIT = "98262b5d"
KUBE_VERSION = "v1.30.4"
K3S_INSTALL_URL = "https://get.k3s.io"
FLANNEL_MANIFEST_URL = "https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml"
CGROUP_PARAMS = "cgroup_enable=cpuset cgroup_memory=1 cgroup_enable=memory"
CMDLINE_PATH = "/boot/firmware/cmdline.txt"
K3S_TOKEN_PATH = "/var/lib/rancher/k3s/server/node-token"
K3S_KUBECONFIG_PATH = "/etc/rancher/k3s/k3s.yaml"
KUBEADM_ADMIN_CONF = "/etc/kubernetes/admin.conf"

UBUNTU_OS_RELEASE = """\
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""
RPI_CMDLINE = (
    "console=serial0,115200 multipath=off dwc_otg.lpm_enable=0 console=tty1 "
    "root=LABEL=writable rootfstype=ext4 rootwait fixrtc quiet splash\n"
)
UBUNTU_HOSTS = """\
127.0.0.1 localhost

# The following lines are desirable for IPv6 capable hosts
::1 ip6-localhost ip6-loopback
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
ff02::3 ip6-allhosts
"""
FSTAB_WITH_SWAP = """\
LABEL=writable\t/\text4\tdiscard,errors=remount-ro\t0\t1
LABEL=system-boot\t/boot/firmware\tvfat\tdefaults\t0\t1
/swapfile\tnone\tswap\tsw\t0\t0
"""
# What `curl https://get.k3s.io` serves. Any script containing INSTALL_K3S_ counts as the installer.
K3S_INSTALL_SCRIPT = """\
#!/bin/sh
set -e
set -o noglob
# Usage:
#   curl ... | ENV_VAR=... sh -
#       or
#   ENV_VAR=... ./install.sh
# Example:
#   Installing a server without traefik:
#     curl ... | INSTALL_K3S_EXEC="--disable=traefik" sh -
#   Installing an agent to point at a server:
#     curl ... | K3S_TOKEN=xxx K3S_URL=https://server-url:6443 sh -
# (simulated k3s install script served from https://get.k3s.io)
"""
FLANNEL_OBJECTS = (
    "namespace/kube-flannel",
    "serviceaccount/flannel",
    "clusterrole.rbac.authorization.k8s.io/flannel",
    "clusterrolebinding.rbac.authorization.k8s.io/flannel",
    "configmap/kube-flannel-cfg",
    "daemonset.apps/kube-flannel-ds",
)
_INSTALLER_MARKER = "INSTALL_K3S_"
_PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# Tools that exist only once something installed them (a file in one of _PATH_DIRS).
_INSTALLED_TOOLS = frozenset(
    {"k3s", "kubectl", "kubeadm", "kubelet", "crictl", "k3s-uninstall.sh", "k3s-agent-uninstall.sh", "k3s-killall.sh",
     "containerd"}
)
_CONTAINER_RUNTIMES = frozenset({"containerd", "containerd.io", "docker.io", "docker-ce", "cri-o"})
_KUBERNETES_PACKAGES = frozenset({"kubeadm", "kubectl", "kubelet", "kubernetes-cni", "cri-tools"})  # pkgs.k8s.io only
_KUBERNETES_REPOSITORY = re.compile(r"https://pkgs\.k8s\.io/core:/stable:/(v\d+\.\d+)/deb/")
KERNEL_DEFAULTS = {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0"}
KERNEL_MODULES = frozenset({"overlay", "br_netfilter", "ip_tables", "iptable_nat", "nf_conntrack", "vxlan"})
PGP_PUBLIC_KEY = ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGMHoXcBCADukGOEQyleViOgtkMVa7hKifP6POCTh+98xNW4TfHK/nBJN2sm\n"
                  "=7Ncf\n-----END PGP PUBLIC KEY BLOCK-----\n")
CONTAINERD_DEFAULT_CONFIG = """version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.8"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
"""
_ROOT_ONLY = 0o600
_SIM_BINARY = "\x7fELF (simulated binary)\n"


# --- node state ---------------------------------------------------------------------------


class FsError(Exception):
    """A file operation failed; the message is the errno text (`No such file or directory`)."""


def no_such_sysctl(key: str) -> str:
    return f"sysctl: cannot stat /proc/sys/{key.replace('.', '/')}: No such file or directory"


@dataclass
class SimNodeState:
    """Everything about one simulated node; the lab may read and change it directly."""

    name: str  # inventory name, e.g. master1.kube.local
    address: str  # LAN address label, e.g. 192.168.40.102 (never contacted)
    hostname: str = "ubuntu"
    user: str = "ubuntu"
    arch: str = "aarch64"
    os_release: str = UBUNTU_OS_RELEASE
    kernel: str = "6.8.0-1010-raspi"
    files: dict[str, str] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)  # default 0o644
    owners: dict[str, str] = field(default_factory=dict)  # default "root"
    booted_cmdline: str = ""  # kernel cmdline of the running boot; "" = current cmdline.txt
    swap_on: bool = True
    installed: str | None = None  # None | "k3s-server" | "k3s-agent" | "kubeadm"
    role: str | None = None  # "server" | "agent" once installed or joined
    services: set[str] = field(default_factory=set)  # active units
    enabled_services: set[str] = field(default_factory=set)
    packages: set[str] = field(default_factory=set)
    port_6443_in_use: bool = False
    sudo_password: str | None = field(default=None, repr=False)  # None: passwordless sudo
    internet: bool = True  # False: curl/apt fail, as in an air-gapped lab
    applied_manifests: set[str] = field(default_factory=set)
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    modules: set[str] = field(default_factory=set)  # loaded kernel modules beyond the image's own
    sysctls: dict[str, str] = field(default_factory=dict)  # set since boot (sysctl --system)
    package_lists: set[str] = field(default_factory=set)  # extra apt repositories fetched by `apt-get update`
    kubelet_version: str = ""  # what the node registers with: the k3s release or the kubelet package installed

    def __post_init__(self) -> None:
        self.files.setdefault("/etc/hosts", UBUNTU_HOSTS)
        self.files.setdefault(CMDLINE_PATH, RPI_CMDLINE)
        self.files.setdefault("/etc/os-release", self.os_release)
        self.files.setdefault("/etc/fstab", FSTAB_WITH_SWAP if self.swap_on else FSTAB_WITH_SWAP.replace("/swapfile", "#/swapfile"))
        self.owners.setdefault(self.home, self.user)
        if not self.booted_cmdline:
            self.booted_cmdline = self.files[CMDLINE_PATH]

    # -- presets

    @classmethod
    def fresh(cls, name: str, address: str, **overrides: Any) -> SimNodeState:
        """A node straight from the Raspberry Pi image: hostname `ubuntu`, memory cgroup off, swap on."""
        return cls(name=name, address=address, **overrides)

    @classmethod
    def prepared(cls, name: str, address: str, hosts: dict[str, str] | None = None, **overrides: Any) -> SimNodeState:
        """A node after the prepare wizard: hostname set, hosts lines, memory cgroup on, swap off."""
        cmdline = RPI_CMDLINE.rstrip("\n") + " " + CGROUP_PARAMS + "\n"
        lines = "".join(f"{addr} {host}\n" for host, addr in (hosts or {name: address}).items())
        state = cls(name=name, address=address, hostname=name, swap_on=False, **overrides)
        state.files[CMDLINE_PATH] = state.booted_cmdline = cmdline
        state.files["/etc/hosts"] += lines
        return state

    # -- derived views

    @property
    def home(self) -> str:
        return f"/home/{self.user}"

    @property
    def memory_cgroup_enabled(self) -> bool:
        return "cgroup_enable=memory" in self.booted_cmdline.split()

    @property
    def swap_in_fstab(self) -> bool:
        return any(
            len(fields) >= 3 and fields[2] == "swap" and not fields[0].startswith("#")
            for fields in (line.split() for line in self.files.get("/etc/fstab", "").splitlines())
        )

    def boot(self) -> None:
        """Apply what a reboot applies: the new kernel cmdline, fstab swap, enabled services, the
        modules in /etc/modules-load.d and the settings in /etc/sysctl.d."""
        self.booted_cmdline = self.files.get(CMDLINE_PATH, "")
        self.swap_on = self.swap_in_fstab
        self.services = set(self.enabled_services)
        self.boot_id = str(uuid.uuid4())
        self.modules = {line.strip() for path, text in self.files.items() if path.startswith("/etc/modules-load.d/")
                        for line in text.splitlines() if line.strip() and not line.startswith("#")}
        self.sysctls = {}
        self.apply_sysctl_files()

    def sysctl(self, key: str) -> str | None:
        """A kernel setting, None where the kernel has no such key (the bridge ones need br_netfilter)."""
        if key.startswith("net.bridge."):
            return self.sysctls.get(key, "1") if "br_netfilter" in self.modules else None
        return self.sysctls.get(key, KERNEL_DEFAULTS.get(key))

    def apply_sysctl_files(self) -> tuple[list[str], list[str]]:
        """`sysctl --system`: /etc/sysctl.d/*.conf in order, then /etc/sysctl.conf; (the files
        applied, the errors)."""
        paths = sorted(p for p in self.files if p.startswith("/etc/sysctl.d/") and p.endswith(".conf"))
        paths += ["/etc/sysctl.conf"] if "/etc/sysctl.conf" in self.files else []
        errors = []
        for path in paths:
            for line in self.files[path].splitlines():
                key, equals, value = line.partition("=")
                if not equals or line.lstrip().startswith(("#", ";")):
                    continue
                key = key.strip()
                if self.sysctl(key) is None:
                    errors.append(no_such_sysctl(key))
                else:
                    self.sysctls[key] = value.strip()
        return paths, errors

    def _virtual(self, path: str) -> str | None:
        if path == "/proc/cgroups":
            rows = ["#subsys_name\thierarchy\tnum_cgroups\tenabled"]
            for name in ("cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls",
                         "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"):
                enabled = self.memory_cgroup_enabled if name == "memory" else True
                rows.append(f"{name}\t0\t98\t{int(enabled)}")
            return "\n".join(rows) + "\n"
        if path == "/proc/swaps":
            swap = "/swapfile                               file\t\t1048572\t\t0\t\t-2\n" if self.swap_on else ""
            return "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" + swap
        if path == "/proc/cmdline":
            return self.booted_cmdline
        if path == "/proc/sys/kernel/random/boot_id":
            return self.boot_id + "\n"
        if path.startswith("/proc/sys/net/"):
            value = self.sysctl(path.removeprefix("/proc/sys/").replace("/", "."))
            return None if value is None else value + "\n"
        if path == "/etc/hostname":
            return self.hostname + "\n"
        return None

    # -- a tiny permission-checked file system

    def exists(self, path: str) -> bool:
        return path in self.files or self._virtual(path) is not None

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return path in ("/", "/tmp", self.home) or any(p.startswith(prefix) for p in self.files)

    def mode(self, path: str) -> int:
        return self.modes.get(path, 0o644)

    def owner(self, path: str) -> str:
        return self.owners.get(path, "root")

    def can_read(self, path: str, root: bool) -> bool:
        return root or self.owner(path) == self.user or bool(self.mode(path) & 0o004)

    def can_write(self, path: str, root: bool) -> bool:
        if root:
            return True
        if path in self.files:
            return self.owner(path) == self.user and bool(self.mode(path) & 0o200)
        parent = posixpath.dirname(path)
        return parent == "/tmp" or parent == self.home or parent.startswith(self.home + "/")

    def read(self, path: str, *, root: bool) -> str:
        virtual = self._virtual(path)
        if virtual is not None:
            return virtual
        if path not in self.files:
            raise FsError("Is a directory" if self.is_dir(path) else "No such file or directory")
        if not self.can_read(path, root):
            raise FsError("Permission denied")
        return self.files[path]

    def write(self, path: str, content: str, *, root: bool, append: bool = False, mode: int | None = None) -> None:
        if self._virtual(path) is not None or self.is_dir(path):
            raise FsError("Permission denied" if not root else "Is a directory")
        if not self.can_write(path, root):
            raise FsError("Permission denied")
        if path not in self.files:
            self.owners[path] = "root" if root else self.user
            self.modes[path] = 0o644 if mode is None else mode
        elif mode is not None:
            self.modes[path] = mode
        self.files[path] = (self.files[path] + content) if append and path in self.files else content

    def remove(self, path: str, *, root: bool) -> None:
        if path not in self.files:
            raise FsError("No such file or directory")
        if not (root or self.can_write(posixpath.join(posixpath.dirname(path), ".new"), root)):
            raise FsError("Permission denied")
        del self.files[path]
        self.modes.pop(path, None)
        self.owners.pop(path, None)

    def install_file(self, path: str, content: str, mode: int = 0o644) -> None:
        """Create a root-owned file (what installers do); no permission check."""
        self.files[path] = content
        self.modes[path] = mode
        self.owners[path] = "root"

    def which(self, name: str) -> str | None:
        for directory in _PATH_DIRS:
            candidate = f"{directory}/{name}"
            if candidate in self.files:
                return candidate
        return None


def reference_nodes(preset: str = "fresh") -> list[SimNodeState]:
    """The three nodes of the reference lab (seed 01), `fresh` or `prepared`."""
    inventory = {
        "master1.kube.local": "192.168.40.102",
        "node1.kube.local": "192.168.40.103",
        "node2.kube.local": "192.168.40.104",
    }
    if preset == "fresh":
        return [SimNodeState.fresh(name, address) for name, address in inventory.items()]
    if preset == "prepared":
        return [SimNodeState.prepared(name, address, hosts=inventory) for name, address in inventory.items()]
    raise ValueError(f"unknown node preset {preset!r}; expected 'fresh' or 'prepared'")


# --- the cluster hooks ----------------------------------------------------------------------


class SimCluster(Protocol):
    """What the SSH sim tells the Kubernetes sim. The lab implements this."""

    def server_installed(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> str:
        """A control plane came up on `node`; return the admin kubeconfig YAML to store on it."""

    def node_joined(self, node: SimNodeState, role: str, server_url: str) -> None:
        """`node` joined the cluster at `server_url` (k3s agent or `kubeadm join`)."""

    def join_token(self) -> str:
        """The k3s node token; kubeadm's token and CA hash are derived from it."""

    def manifest_applied(self, node: SimNodeState, source: str, manifest: str) -> None:
        """`kubectl apply -f source` ran on `node` (e.g. the flannel CNI)."""


def render_kubeconfig(server_url: str, *, cluster: str = "default", user: str = "default") -> str:
    """An admin kubeconfig like k3s (`default`) or kubeadm (`kubernetes`/`kubernetes-admin`) writes."""
    context = "default" if cluster == "default" else f"{user}@{cluster}"
    fake_pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nsimulated\n-----END CERTIFICATE-----\n").decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server_url, "certificate-authority-data": fake_pem}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
        "preferences": {},
        "users": [{"name": user, "user": {"client-certificate-data": fake_pem, "client-key-data": fake_pem}}],
    }
    return yaml.safe_dump(config, sort_keys=False)


class InMemoryCluster:
    """A stand-in `SimCluster` that only records what happened (tests of this module, demos)."""

    def __init__(self, token: str | None = None) -> None:
        self._token = token or f"K10{secrets.token_hex(32)}::server:{secrets.token_hex(16)}"
        self.servers: list[tuple[str, str, dict[str, Any]]] = []  # (hostname, distribution, options)
        self.joined: list[tuple[str, str, str]] = []  # (hostname, role, server_url)
        self.manifests: list[tuple[str, str]] = []  # (hostname, source)

    def __repr__(self) -> str:
        return f"InMemoryCluster(servers={len(self.servers)}, joined={len(self.joined)})"

    def server_installed(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> str:
        self.servers.append((node.hostname, distribution, dict(options)))
        if distribution == "k3s":
            return render_kubeconfig("https://127.0.0.1:6443")
        return render_kubeconfig(f"https://{node.address}:6443", cluster="kubernetes", user="kubernetes-admin")

    def node_joined(self, node: SimNodeState, role: str, server_url: str) -> None:
        self.joined.append((node.hostname, role, server_url))

    def join_token(self) -> str:
        return self._token

    def manifest_applied(self, node: SimNodeState, source: str, manifest: str) -> None:
        self.manifests.append((node.hostname, source))


def kubeadm_credentials(join_token: str) -> tuple[str, str]:
    """kubeadm's bootstrap token (`abcdef.0123456789abcdef`) and CA cert hash, derived from the cluster token."""
    digest = hashlib.sha256(join_token.encode()).hexdigest()
    ca_hash = hashlib.sha256(f"ca:{join_token}".encode()).hexdigest()
    return f"{digest[:6]}.{digest[6:22]}", f"sha256:{ca_hash}"


# --- shell plumbing -------------------------------------------------------------------------


class _Input:
    """A command's stdin: text from a pipe or file, or the SSH channel read lazily."""

    def __init__(self, text: str = "", reader: asyncssh.SSHReader | None = None) -> None:
        self._text = text
        self._reader = reader

    async def readline(self) -> str:
        if self._reader is not None:
            return await self._reader.readline()
        line, sep, rest = self._text.partition("\n")
        self._text = rest
        return line + sep

    async def read(self) -> str:
        if self._reader is not None:
            return await self._reader.read()
        text, self._text = self._text, ""
        return text


class _Sink:
    """A command's stdout or stderr: the SSH channel (paced per line) or a buffer."""

    def __init__(self, write: Callable[[str], object] | None = None, delay: float = 0.0) -> None:
        self._write = write
        self._delay = delay
        self._buffer: list[str] = []

    async def emit(self, text: str) -> None:
        if self._write is None:
            self._buffer.append(text)
        elif not self._delay:
            self._write(text)
        else:
            for line in text.splitlines(keepends=True):
                self._write(line)
                await asyncio.sleep(self._delay)

    async def line(self, text: str = "") -> None:
        await self.emit(text + "\n")

    def text(self) -> str:
        return "".join(self._buffer)


def _discard() -> _Sink:
    return _Sink(lambda _text: None)


class _ChannelOutput:
    """A served command's stdout and stderr on its SSH channel, in the order written. What the
    command writes without pausing (one turn of the event loop) goes out together, as sshd
    forwards whatever the command's pipes hold when it reads them, rather than as one SSH packet
    per line (which would cost the client and the sim CPU a real node never asks for). A command
    that pauses between lines (paced output, the install's progress) still streams them."""

    def __init__(self, process: asyncssh.SSHServerProcess) -> None:
        self._process = process
        self._pending: list[tuple[bool, list[str]]] = []  # (stderr?, texts), in the order written
        self._scheduled = False

    def writer(self, stderr: bool = False) -> Callable[[str], None]:
        def write(text: str) -> None:
            if self._pending and self._pending[-1][0] == stderr:
                self._pending[-1][1].append(text)
            else:
                self._pending.append((stderr, [text]))
            if not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush_soon)

        return write

    def flush(self) -> None:
        """Send what is pending now (before the exit status, which must follow it)."""
        self._scheduled = False
        pending, self._pending = self._pending, []
        for stderr, texts in pending:
            (self._process.stderr if stderr else self._process.stdout).write("".join(texts))

    def _flush_soon(self) -> None:
        if not self._scheduled:  # flushed already
            return
        try:
            self.flush()
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            pass  # the channel is gone (a reboot, the client left); the command ends unheard


@dataclass
class _Proc:
    """The context one command runs in: privileges, environment and streams."""

    root: bool
    env: dict[str, str]
    stdin: _Input
    out: _Sink
    err: _Sink


class _ShellSyntaxError(Exception):
    pass


_REDIRECTS = frozenset({">", ">>", "<", ">&", "&>"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def parse_command_line(script: str) -> list[tuple[str, list[list[str]]]]:
    """Split one line into (connector, pipeline) pairs; a pipeline is a list of word lists.

    The connector is how the pipeline hangs on the previous one: `;`, `&&` or `||`.
    """
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:  # "No closing quotation"
        raise _ShellSyntaxError("Unterminated quoted string") from exc
    chain: list[tuple[str, list[list[str]]]] = []
    pipeline: list[list[str]] = []
    words: list[str] = []
    connector = ";"
    for token in tokens:
        if token in ("&&", "||", ";", "|"):
            if not words:
                raise _ShellSyntaxError(f'"{token}" unexpected')
            pipeline.append(words)
            words = []
            if token != "|":
                chain.append((connector, pipeline))
                pipeline, connector = [], token
        elif token in _REDIRECTS or not token or not set(token) <= set("();<>|&"):
            words.append(token)
        else:
            raise _ShellSyntaxError(f'"{token}" unexpected (not supported by the simulated shell)')
    if words:
        pipeline.append(words)
    elif pipeline:
        raise _ShellSyntaxError("end of file unexpected")
    if pipeline:
        chain.append((connector, pipeline))
    elif connector in ("&&", "||"):
        raise _ShellSyntaxError("end of file unexpected")
    return chain


def _bre_to_python(pattern: str) -> str:
    r"""Translate a POSIX basic regular expression (`\(x\)`, `a\+`) to Python syntax."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "(){}+?|" else char + nxt)
            i += 2
            continue
        out.append("\\" + char if char in "(){}+?|" else char)
        i += 1
    return "".join(out)


def _split_unescaped(text: str, delimiter: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2] if text[i + 1] != delimiter else delimiter)
            i += 2
        elif text[i] == delimiter:
            parts.append("".join(current))
            current = []
            i += 1
        else:
            current.append(text[i])
            i += 1
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class _SedSubstitution:
    """One `[address] s/pattern/replacement/flags` sed command."""

    address: str  # "", "$", a line number, or a regex
    pattern: re.Pattern[str]
    replacement: str
    count: int  # 0 = all (g flag)

    @classmethod
    def parse(cls, script: str, extended: bool) -> _SedSubstitution:
        script = script.strip()
        address = ""
        if script.startswith("/"):
            end = script.index("/", 1)
            while script[end - 1] == "\\":
                end = script.index("/", end + 1)
            address, script = script[1:end], script[end + 1 :].lstrip()
            address = "/" + (address if extended else _bre_to_python(address))
        else:
            match = re.match(r"^(\$|\d+)?\s*", script)
            address, script = match.group(1) or "", script[match.end() :]
        if not script.startswith("s") or len(script) < 2:
            raise ValueError("only the s command is supported")
        parts = _split_unescaped(script[2:], script[1])
        if len(parts) != 3:
            raise ValueError("unterminated `s' command")
        pattern, replacement, flags = parts
        if not extended:
            pattern = _bre_to_python(pattern)
        replacement = re.sub(r"\\(\d)", r"\\g<\1>", replacement.replace("\\&", "\0")).replace("&", r"\g<0>")
        return cls(
            address=address,
            pattern=re.compile(pattern, re.IGNORECASE if "I" in flags else 0),
            replacement=replacement.replace("\0", "&"),
            count=0 if "g" in flags else 1,
        )

    def apply(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        for number, line in enumerate(lines, start=1):
            body, newline = (line[:-1], "\n") if line.endswith("\n") else (line, "")
            if self._addressed(body, number, len(lines)):
                lines[number - 1] = self.pattern.sub(self.replacement, body, count=self.count) + newline
        return "".join(lines)

    def _addressed(self, body: str, number: int, last: int) -> bool:
        if not self.address:
            return True
        if self.address == "$":
            return number == last
        if self.address.startswith("/"):
            return re.search(self.address[1:], body) is not None
        return number == int(self.address)


def _parse_flags(args: list[str], with_value: Iterable[str] = ()) -> tuple[set[str], dict[str, str], list[str]]:
    """Short-option parsing (`-qxF`, `-o file`, `--long`): (flags, values, operands)."""
    takes_value = set(with_value)
    flags: set[str] = set()
    values: dict[str, str] = {}
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            operands.extend(args[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name not in takes_value:
                flags.add(name)
                continue
            if not eq and i < len(args):
                value, i = args[i], i + 1
            values[name] = value
        elif arg.startswith("-") and len(arg) > 1:
            for pos, char in enumerate(arg[1:], start=1):
                if f"-{char}" in takes_value:
                    rest = arg[pos + 1 :]
                    if not rest and i < len(args):
                        rest, i = args[i], i + 1
                    values[f"-{char}"] = rest
                    break
                flags.add(f"-{char}")
        else:
            operands.append(arg)
    return flags, values, operands


def _parse_cli_options(words: list[str]) -> dict[str, Any]:
    """`--flag=value`, `--flag value`, bare `--flag`, repeated flags (lists) → dict without dashes."""
    options: dict[str, Any] = {}
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("--"):
            continue
        name, eq, value = word[2:].partition("=")
        if not eq:
            if i < len(words) and not words[i].startswith("-"):
                value, i = words[i], i + 1
            else:
                value = True
        if name in options:
            previous = options[name]
            options[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            options[name] = value
    return options


# --- the interpreter ------------------------------------------------------------------------

CommandFn = Callable[[list[str], _Proc], Awaitable[int]]


class NodeShell:
    """Runs command lines against one node's state, as `sh` on that node would."""

    def __init__(self, sim: SshNodeSim) -> None:
        self._sim = sim
        self._commands: dict[str, CommandFn] = {
            name.removeprefix("_cmd_").replace("_", "-"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_cmd_")
        }
        self._commands.update(
            {
                "bash": self._cmd_sh,
                "[": self._cmd_test,
                "apt": self._cmd_apt_get,
                "k3s-uninstall.sh": self._k3s_uninstall,
                "k3s-agent-uninstall.sh": self._k3s_uninstall,
                "k3s-killall.sh": self._cmd_true,
            }
        )

    @property
    def state(self) -> SimNodeState:
        return self._sim.state

    # -- structure

    async def run_line(self, line: str, proc: _Proc) -> int:
        try:
            chain = parse_command_line(line)
        except _ShellSyntaxError as exc:
            await proc.err.line(f"sh: 1: Syntax error: {exc}")
            return 2
        status = 0
        for connector, pipeline in chain:
            if (connector == "&&" and status != 0) or (connector == "||" and status == 0):
                continue
            status = await self._run_pipeline(pipeline, proc)
            if self._sim.rebooting:
                break
        return status

    async def run_script(self, text: str, proc: _Proc) -> int:
        status = 0
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                status = await self.run_line(line, proc)
                if self._sim.rebooting:
                    break
        return status

    async def _run_pipeline(self, pipeline: list[list[str]], proc: _Proc) -> int:
        stdin, status = proc.stdin, 0
        for index, words in enumerate(pipeline):
            last = index == len(pipeline) - 1
            out = proc.out if last else _Sink()
            status = await self._run_simple(words, dataclasses.replace(proc, stdin=stdin, out=out))
            stdin = _Input(out.text())
        return status

    async def _run_simple(self, words: list[str], proc: _Proc) -> int:
        argv: list[str] = []
        files_out: list[tuple[str, _Sink, bool]] = []
        out, err, stdin = proc.out, proc.err, proc.stdin
        i = 0
        while i < len(words):
            word = words[i]
            if word in _REDIRECTS:
                fd = 2 if argv and argv[-1] == "2" and word != "<" else (0 if word == "<" else 1)
                if fd == 2:
                    argv.pop()
                if i + 1 >= len(words):
                    await proc.err.line("sh: 1: Syntax error: newline unexpected")
                    return 2
                target = words[i + 1]
                i += 2
                if word == ">&":
                    sink = out if target == "1" else err
                elif word == "<":
                    try:
                        stdin = _Input(self.state.read(target, root=proc.root))
                    except FsError as exc:
                        await proc.err.line(f"sh: 1: cannot open {target}: {exc}")
                        return 2
                    continue
                elif target == "/dev/null":
                    sink = _discard()
                elif not self.state.can_write(target, proc.root):
                    await proc.err.line(f"sh: 1: cannot create {target}: Permission denied")
                    return 2
                else:
                    sink = _Sink()
                    files_out.append((target, sink, word == ">>"))
                if word == "&>":
                    out = err = sink
                elif fd == 2:
                    err = sink
                else:
                    out = sink
                continue
            argv.append(word)
            i += 1
        assignments: dict[str, str] = {}
        while argv and _ASSIGNMENT.match(argv[0]):
            name, _, value = argv.pop(0).partition("=")
            assignments[name] = value
        if not argv:
            return 0
        env = {**proc.env, **assignments}
        status = await self.execute(argv, _Proc(proc.root, env, stdin, out, err))
        for path, sink, append in files_out:
            self.state.write(path, sink.text(), root=proc.root, append=append)
        return status

    async def execute(self, argv: list[str], proc: _Proc) -> int:
        """Run one command (already split into words) and return its exit status."""
        name = argv[0]
        if "/" in name:
            directory, base = posixpath.split(name)
            if directory in _PATH_DIRS and base in self._commands and self.state.exists(name):
                return await self._commands[base](argv[1:], proc)
            return await self._run_file(name, argv[1:], proc)
        command = self._commands.get(name)
        if command is None or (name in _INSTALLED_TOOLS and self.state.which(name) is None):
            await proc.err.line(f"sh: 1: {name}: not found")
            return 127
        return await command(argv[1:], proc)

    async def _run_file(self, path: str, args: list[str], proc: _Proc) -> int:
        if not self.state.exists(path):
            await proc.err.line(f"sh: 1: {path}: not found")
            return 127
        if not self.state.mode(path) & 0o111 or not self.state.can_read(path, proc.root):
            await proc.err.line(f"sh: 1: {path}: Permission denied")
            return 126
        return await self._run_script_text(self.state.read(path, root=True), args, proc)

    async def _run_script_text(self, text: str, args: list[str], proc: _Proc) -> int:
        if _INSTALLER_MARKER in text:
            return await self._k3s_install(args, proc)
        return await self.run_script(text, proc)

    async def _need_root(self, proc: _Proc, message: str) -> bool:
        if not proc.root:
            await proc.err.line(message)
        return proc.root

    # -- basic utilities

    async def _cmd_true(self, args: list[str], proc: _Proc) -> int:
        return 0

    async def _cmd_false(self, args: list[str], proc: _Proc) -> int:
        return 1

    async def _cmd_echo(self, args: list[str], proc: _Proc) -> int:
        newline = not (args and args[0] == "-n")
        await proc.out.emit(" ".join(args[0 if newline else 1 :]) + ("\n" if newline else ""))
        return 0

    async def _cmd_printf(self, args: list[str], proc: _Proc) -> int:
        if not args:
            await proc.err.line("printf: usage: printf format [arg ...]")
            return 2
        fmt = args[0].replace("\\n", "\n").replace("\\t", "\t").replace("%%", "\0")
        values = args[1:] or [""]
        slots = max(fmt.count("%s"), 1)
        text = ""
        for start in range(0, len(values), slots):
            chunk = values[start : start + slots]
            chunk += [""] * (fmt.count("%s") - len(chunk))
            text += fmt.replace("%s", "{}").format(*chunk) if "%s" in fmt else fmt
        await proc.out.emit(text.replace("\0", "%"))
        return 0

    async def _cmd_sleep(self, args: list[str], proc: _Proc) -> int:
        await asyncio.sleep(float(args[0]) if args else 0)
        return 0

    async def _cmd_cat(self, args: list[str], proc: _Proc) -> int:
        _flags, _values, paths = _parse_flags(args)
        if not paths:
            await proc.out.emit(await proc.stdin.read())
            return 0
        status = 0
        for path in paths:
            try:
                await proc.out.emit(self.state.read(path, root=proc.root))
            except FsError as exc:
                await proc.err.line(f"cat: {path}: {exc}")
                status = 1
        return status

    async def _lines_of(self, tool: str, paths: list[str], proc: _Proc) -> list[str] | None:
        if not paths:
            return (await proc.stdin.read()).splitlines(keepends=True)
        try:
            return [line for path in paths for line in self.state.read(path, root=proc.root).splitlines(keepends=True)]
        except FsError as exc:
            await proc.err.line(f"{tool}: cannot open '{paths[0]}' for reading: {exc}")
            return None

    async def _cmd_head(self, args: list[str], proc: _Proc) -> int:
        return await self._head_or_tail("head", args, proc)

    async def _cmd_tail(self, args: list[str], proc: _Proc) -> int:
        return await self._head_or_tail("tail", args, proc)

    async def _head_or_tail(self, tool: str, args: list[str], proc: _Proc) -> int:
        args = [f"-n{a[1:]}" if re.fullmatch(r"-\d+", a) else a for a in args]
        _flags, values, paths = _parse_flags(args, with_value=("-n",))
        count = int(values.get("-n", "10"))
        lines = await self._lines_of(tool, paths, proc)
        if lines is None:
            return 1
        await proc.out.emit("".join(lines[:count] if tool == "head" else lines[-count:] if count else []))
        return 0

    async def _cmd_wc(self, args: list[str], proc: _Proc) -> int:
        _flags, _values, paths = _parse_flags(args)
        lines = await self._lines_of("wc", paths, proc)
        if lines is None:
            return 1
        await proc.out.line(str(sum(1 for line in lines if line.endswith("\n"))))
        return 0

    async def _cmd_tee(self, args: list[str], proc: _Proc) -> int:
        flags, _values, paths = _parse_flags(args)
        text = await proc.stdin.read()
        status = 0
        for path in paths:
            try:
                self.state.write(path, text, root=proc.root, append="-a" in flags or "--append" in flags)
            except FsError as exc:
                await proc.err.line(f"tee: {path}: {exc}")
                status = 1
        await proc.out.emit(text)
        return status

    async def _cmd_grep(self, args: list[str], proc: _Proc) -> int:
        flags, values, operands = _parse_flags(args, with_value=("-e",))
        if "-e" in values:
            operands.insert(0, values["-e"])
        if not operands:
            await proc.err.line("Usage: grep [OPTION]... PATTERNS [FILE]...")
            return 2
        pattern, paths = operands[0], operands[1:]
        if "-F" in flags:
            regex = re.escape(pattern)
        else:
            regex = pattern if "-E" in flags else _bre_to_python(pattern)
        if "-w" in flags:
            regex = rf"(?<![\w])(?:{regex})(?![\w])"
        if "-x" in flags:
            regex = rf"(?:{regex})\Z"
        compiled = re.compile(regex, re.IGNORECASE if "-i" in flags else 0)
        search = compiled.match if "-x" in flags else compiled.search
        sources: list[tuple[str, str]] = []
        status_error = False
        if not paths:
            sources.append(("(standard input)", await proc.stdin.read()))
        for path in paths:
            try:
                sources.append((path, self.state.read(path, root=proc.root)))
            except FsError as exc:
                if "-s" not in flags:
                    await proc.err.line(f"grep: {path}: {exc}")
                status_error = True
        selected = [
            line
            for _name, text in sources
            for line in text.splitlines()
            if (search(line) is not None) != ("-v" in flags)
        ]
        if "-q" in flags:
            return 0 if selected else (2 if status_error else 1)
        if "-c" in flags:
            await proc.out.line(str(len(selected)))
        else:
            for line in selected:
                await proc.out.line(line)
        return 2 if status_error else (0 if selected else 1)

    async def _cmd_sed(self, args: list[str], proc: _Proc) -> int:
        flags, values, operands = _parse_flags(args, with_value=("-e",))
        script = values.get("-e") or (operands.pop(0) if operands else "")
        try:
            substitution = _SedSubstitution.parse(script, extended="-E" in flags or "-r" in flags)
        except (ValueError, re.error) as exc:
            await proc.err.line(f"sed: -e expression #1, char 1: {exc}")
            return 1
        in_place = "-i" in flags or "--in-place" in flags
        if not operands:
            await proc.out.emit(substitution.apply(await proc.stdin.read()))
            return 0
        for path in operands:
            try:
                text = self.state.read(path, root=proc.root)
            except FsError as exc:
                await proc.err.line(f"sed: can't read {path}: {exc}")
                return 2
            if not in_place:
                await proc.out.emit(substitution.apply(text))
            elif not self.state.can_write(path, proc.root):
                await proc.err.line(f"sed: couldn't open temporary file {posixpath.dirname(path)}/sedAbC123: Permission denied")
                return 4
            else:
                self.state.write(path, substitution.apply(text), root=proc.root)
        return 0

    async def _cmd_test(self, args: list[str], proc: _Proc) -> int:
        if args and args[-1] == "]":
            args = args[:-1]
        negate = bool(args) and args[0] == "!"
        args = args[1:] if negate else args
        if len(args) == 2 and args[0] in ("-e", "-f", "-x", "-s", "-d", "-r"):
            op, path = args
            checks = {
                "-e": lambda: self.state.exists(path) or self.state.is_dir(path),
                "-f": lambda: self.state.exists(path),
                "-d": lambda: self.state.is_dir(path),
                "-x": lambda: path in self.state.files and bool(self.state.mode(path) & 0o111),
                "-s": lambda: bool(self.state.files.get(path)),
                "-r": lambda: self.state.exists(path) and self.state.can_read(path, proc.root),
            }
            result = checks[op]()
        elif len(args) == 3 and args[1] in ("=", "!="):
            result = (args[0] == args[2]) == (args[1] == "=")
        elif len(args) == 2 and args[0] in ("-n", "-z"):
            result = bool(args[1]) == (args[0] == "-n")
        else:
            result = bool(args and args[0])
        return 0 if result != negate else 1

    async def _cmd_mkdir(self, args: list[str], proc: _Proc) -> int:
        _flags, _values, paths = _parse_flags(args, with_value=("-m",))
        for path in paths:
            if not self.state.can_write(posixpath.join(path, ".probe"), proc.root):
                await proc.err.line(f"mkdir: cannot create directory '{path}': Permission denied")
                return 1
        return 0

    async def _cmd_rm(self, args: list[str], proc: _Proc) -> int:
        flags, _values, paths = _parse_flags(args)
        status = 0
        for path in paths:
            try:
                self.state.remove(path, root=proc.root)
            except FsError as exc:
                if "-f" not in flags or "No such" not in str(exc):
                    await proc.err.line(f"rm: cannot remove '{path}': {exc}")
                    status = 1
        return status

    async def _copy(self, tool: str, source: str, target: str, proc: _Proc, mode: int | None) -> int:
        try:
            content = self.state.read(source, root=proc.root)
            keep_mode = self.state.mode(source) if mode is None else mode
            self.state.write(target, content, root=proc.root, mode=keep_mode)
        except FsError as exc:
            await proc.err.line(f"{tool}: cannot copy '{source}' to '{target}': {exc}")
            return 1
        return 0

    async def _cmd_cp(self, args: list[str], proc: _Proc) -> int:
        _flags, _values, operands = _parse_flags(args)
        if len(operands) != 2:
            await proc.err.line("cp: missing destination file operand")
            return 1
        return await self._copy("cp", operands[0], operands[1], proc, None)

    async def _cmd_install(self, args: list[str], proc: _Proc) -> int:
        _flags, values, operands = _parse_flags(args, with_value=("-m", "-o", "-g"))
        if len(operands) != 2:
            await proc.err.line("install: missing destination file operand")
            return 1
        return await self._copy("install", operands[0], operands[1], proc, int(values.get("-m", "755"), 8))

    async def _cmd_mv(self, args: list[str], proc: _Proc) -> int:
        _flags, _values, operands = _parse_flags(args)
        status = await self._copy("mv", operands[0], operands[1], proc, None) if len(operands) == 2 else 1
        if status == 0:
            self.state.remove(operands[0], root=True)
        return status

    async def _cmd_chmod(self, args: list[str], proc: _Proc) -> int:
        if len(args) < 2:
            await proc.err.line("chmod: missing operand")
            return 1
        spec, paths = args[0], args[1:]
        for path in paths:
            if path not in self.state.files:
                await proc.err.line(f"chmod: cannot access '{path}': No such file or directory")
                return 1
            if not (proc.root or self.state.owner(path) == self.state.user):
                await proc.err.line(f"chmod: changing permissions of '{path}': Operation not permitted")
                return 1
            current = self.state.mode(path)
            if spec.isdigit():
                self.state.modes[path] = int(spec, 8)
            elif spec.endswith("+x"):
                self.state.modes[path] = current | 0o111
            elif spec.endswith("-x"):
                self.state.modes[path] = current & ~0o111
            else:
                await proc.err.line(f"chmod: invalid mode: '{spec}'")
                return 1
        return 0

    # -- identity and system facts

    async def _cmd_hostname(self, args: list[str], proc: _Proc) -> int:
        await proc.out.line(self.state.address if args[:1] == ["-I"] else self.state.hostname)
        return 0

    async def _cmd_hostnamectl(self, args: list[str], proc: _Proc) -> int:
        words = [a for a in args if not a.startswith("-")]
        if "--static" in args or words == ["hostname"]:
            await proc.out.line(self.state.hostname)
            return 0
        if words[:1] in (["set-hostname"], ["hostname"]) and len(words) == 2:
            if not await self._need_root(proc, "Could not set static hostname: Access denied"):
                return 1
            self.state.hostname = words[1]
            return 0
        if words and words != ["status"]:
            await proc.err.line(f'Unknown command verb "{words[0]}".')
            return 1
        pretty = _os_pretty_name(self.state.os_release)
        machine_id = hashlib.md5(self.state.name.encode()).hexdigest()
        for label, value in (
            ("Static hostname", self.state.hostname),
            ("Icon name", "computer"),
            ("Machine ID", machine_id),
            ("Boot ID", self.state.boot_id.replace("-", "")),
            ("Operating System", pretty),
            ("Kernel", f"Linux {self.state.kernel}"),
            ("Architecture", _deb_arch(self.state.arch)),
        ):
            await proc.out.line(f"{label:>16}: {value}")
        return 0

    async def _cmd_uname(self, args: list[str], proc: _Proc) -> int:
        s = self.state
        parts = {
            "-s": "Linux",
            "-n": s.hostname,
            "-r": s.kernel,
            "-v": "#13-Ubuntu SMP PREEMPT_DYNAMIC Mon Aug 12 20:53:05 UTC 2024",
            "-m": s.arch,
        }
        if "-a" in args:
            await proc.out.line(" ".join([*parts.values(), s.arch, s.arch, "GNU/Linux"]))
            return 0
        flags = [f"-{c}" for a in args for c in a.lstrip("-")] or ["-s"]
        await proc.out.line(" ".join(parts[f] for f in parts if f in flags))
        return 0

    async def _cmd_id(self, args: list[str], proc: _Proc) -> int:
        uid, user = (0, "root") if proc.root else (1000, self.state.user)
        if "-u" in args or "-un" in args or "-nu" in args:
            await proc.out.line(user if "n" in "".join(args) else str(uid))
        else:
            await proc.out.line(f"uid={uid}({user}) gid={uid}({user}) groups={uid}({user}),4(adm),27(sudo)")
        return 0

    async def _cmd_whoami(self, args: list[str], proc: _Proc) -> int:
        await proc.out.line("root" if proc.root else self.state.user)
        return 0

    async def _cmd_swapoff(self, args: list[str], proc: _Proc) -> int:
        if not await self._need_root(proc, "swapoff: Not superuser."):
            return 1
        self.state.swap_on = False
        return 0

    async def _cmd_swapon(self, args: list[str], proc: _Proc) -> int:
        if "--show" in args and self.state.swap_on:
            await proc.out.line("NAME      TYPE SIZE USED PRIO")
            await proc.out.line("/swapfile file   1G   0B   -2")
        elif "-a" in args:
            if not await self._need_root(proc, "swapon: Not superuser."):
                return 1
            self.state.swap_on = self.state.swap_in_fstab
        return 0

    async def _cmd_ss(self, args: list[str], proc: _Proc) -> int:
        _flags, _values, operands = _parse_flags(args)
        wanted = re.search(r"sport\s*=\s*:(\d+)", " ".join(operands))
        listening = [("0.0.0.0", 22)]
        if self.state.port_6443_in_use:
            listening.append(("*", 6443))
        if self.state.services & {"k3s", "k3s-agent", "kubelet"}:
            listening.append(("*", 10250))
        if not any(a.startswith("-") and "H" in a for a in args):
            await proc.out.line("State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess")
        for addr, port in listening:
            if wanted is None or int(wanted.group(1)) == port:
                local = f"{addr}:{port}"
                peer = "0.0.0.0:*" if addr == "0.0.0.0" else "*:*"
                await proc.out.line(f"LISTEN 0      4096  {local:>18} {peer:>18}")
        return 0

    # -- privileges and scripts

    async def _cmd_sudo(self, args: list[str], proc: _Proc) -> int:
        non_interactive = read_stdin = preserve_env = False
        prompt = f"[sudo] password for {self.state.user}: "
        i = 0
        while i < len(args) and args[i].startswith("-"):
            arg = args[i]
            i += 1
            if arg == "--":
                break
            if arg in ("-p", "--prompt"):
                prompt, i = (args[i] if i < len(args) else ""), i + 1
                continue
            for char in arg[1:]:
                if char not in "nSEHk":  # -k: ignore cached credentials (always ask)
                    await proc.err.line(f"sudo: invalid option -- '{char}'")
                    return 1
                non_interactive |= char == "n"
                read_stdin |= char == "S"
                preserve_env |= char == "E"
        assignments = {}
        while i < len(args) and _ASSIGNMENT.match(args[i]):
            name, _, value = args[i].partition("=")
            assignments[name] = value
            i += 1
        if i >= len(args):
            await proc.err.line("usage: sudo -h | -K | -k | -V")
            return 1
        if not proc.root and self.state.sudo_password is not None:
            if not await self._sudo_authenticate(proc, non_interactive, read_stdin, prompt):
                return 1
        base_env = dict(proc.env) if preserve_env else {"HOME": "/root", "USER": "root", "LOGNAME": "root"}
        env = {**base_env, "PATH": ":".join(_PATH_DIRS), **assignments}
        return await self.execute(args[i:], dataclasses.replace(proc, root=True, env=env))

    async def _sudo_authenticate(self, proc: _Proc, non_interactive: bool, read_stdin: bool, prompt: str) -> bool:
        if non_interactive:
            await proc.err.line("sudo: a password is required")
            return False
        if not read_stdin:
            await proc.err.line(
                "sudo: a terminal is required to read the password; either use the -S option to read "
                "from standard input or configure an askpass helper"
            )
            await proc.err.line("sudo: a password is required")
            return False
        for attempt in range(3):
            if prompt:
                await proc.err.emit(prompt)
            line = await proc.stdin.readline()
            if not line:
                await proc.err.line(
                    "sudo: no password was provided" if attempt == 0 else f"sudo: {attempt} incorrect password attempt"
                )
                return False
            if secrets.compare_digest(line.rstrip("\n").encode(), self.state.sudo_password.encode()):
                return True
            await proc.err.line("Sorry, try again.")
        await proc.err.line("sudo: 3 incorrect password attempts")
        return False

    async def _cmd_sh(self, args: list[str], proc: _Proc) -> int:
        if args[:1] == ["-c"]:
            if len(args) < 2:
                await proc.err.line("sh: 0: -c requires an argument")
                return 2
            return await self.run_script(args[1], proc)
        if not args or args[0] in ("-", "-s"):
            positional = args[1:]
            if args[:1] == ["-s"] and positional[:1] in (["-"], ["--"]):
                positional = positional[1:]
            return await self._run_script_text(await proc.stdin.read(), positional, proc)
        path = posixpath.join(self.state.home, args[0])  # relative to the login directory, as after ssh
        try:
            text = self.state.read(path, root=proc.root)
        except FsError:
            await proc.err.line(f"sh: 0: cannot open {path}: No such file")
            return 2
        return await self._run_script_text(text, args[1:], proc)

    # -- network

    async def _cmd_curl(self, args: list[str], proc: _Proc) -> int:
        flags, values, urls = _parse_flags(args, with_value=("-o", "--output", "-H", "-X", "--retry"))
        if not urls:
            await proc.err.line("curl: no URL specified!")
            return 2
        url = urls[0]
        host = urlparse(url).hostname or url
        quiet = "-s" in flags and "-S" not in flags
        if not self.state.internet:
            if not quiet:
                await proc.err.line(f"curl: (6) Could not resolve host: {host}")
            return 6
        if host == "get.k3s.io":
            body = K3S_INSTALL_SCRIPT
        elif _KUBERNETES_REPOSITORY.match(url) and url.endswith("/Release.key"):
            body = PGP_PUBLIC_KEY
        else:
            if not quiet:
                await proc.err.line("curl: (22) The requested URL returned error: 404")
            return 22
        target = values.get("-o") or values.get("--output")
        if target:
            try:
                self.state.write(target, body, root=proc.root)
            except FsError as exc:
                await proc.err.line(f"curl: (23) Failure writing output to destination: {exc}")
                return 23
        else:
            await proc.out.emit(body)
        return 0

    async def _cmd_gpg(self, args: list[str], proc: _Proc) -> int:
        flags, values, _operands = _parse_flags(args, with_value=("-o", "--output"))
        target = values.get("-o") or values.get("--output")
        if "--dearmor" not in flags or not target:
            await proc.err.line("the simulated gpg only does `gpg --dearmor -o FILE` (stdin to FILE)")
            return 2
        if "BEGIN PGP PUBLIC KEY BLOCK" not in await proc.stdin.read():
            await proc.err.line("gpg: no valid OpenPGP data found.")
            return 2
        if self.state.exists(target) and "--yes" not in flags:
            await proc.err.line(f"gpg: cannot open '/dev/tty': No such device or address (File '{target}' exists.)")
            return 2
        try:
            self.state.write(target, "\x99\x01\r (simulated OpenPGP keyring)\n", root=proc.root)
        except FsError as exc:
            await proc.err.line(f"gpg: can't create '{target}': {exc}")
            return 2
        return 0

    # -- kernel

    async def _cmd_modprobe(self, args: list[str], proc: _Proc) -> int:
        _flags, _values, names = _parse_flags(args)
        for name in names:
            if name not in KERNEL_MODULES:
                await proc.err.line(f"modprobe: FATAL: Module {name} not found in directory /lib/modules/{self.state.kernel}")
                return 1
            if not await self._need_root(proc, f"modprobe: ERROR: could not insert '{name}': Operation not permitted"):
                return 1
            self.state.modules.add(name)
        return 0

    async def _cmd_sysctl(self, args: list[str], proc: _Proc) -> int:
        flags, _values, keys = _parse_flags(args)
        if "--system" in flags:
            if not await self._need_root(proc, "sysctl: permission denied on key \"net.ipv4.ip_forward\""):
                return 1
            paths, errors = self.state.apply_sysctl_files()
            for path in paths:
                await proc.out.line(f"* Applying {path} ...")
            for key, value in sorted(self.state.sysctls.items()):
                await proc.out.line(f"{key} = {value}")
            for error in errors:
                await proc.err.line(error)
            return 1 if errors else 0
        for key in keys:
            key, assigning, new_value = key.partition("=")
            value = self.state.sysctl(key)
            if assigning and value is not None:
                if not await self._need_root(proc, f'sysctl: permission denied on key "{key}"'):
                    return 1
                self.state.sysctls[key] = value = new_value
            if value is None:
                await proc.err.line(no_such_sysctl(key))
                return 255
            await proc.out.line(value if "-n" in flags else f"{key} = {value}")
        return 0

    # -- services and power

    def _unit_exists(self, unit: str) -> bool:
        s = self.state
        return unit in ("ssh", "cron", "systemd-timesyncd") or {
            "k3s": s.installed == "k3s-server",
            "k3s-agent": s.installed == "k3s-agent",
            "kubelet": "kubelet" in s.packages,
            "containerd": bool(s.packages & _CONTAINER_RUNTIMES),
        }.get(unit, False)

    async def _cmd_systemctl(self, args: list[str], proc: _Proc) -> int:
        words = [a for a in args if not a.startswith("-")]
        verb = words[0] if words else "list-units"
        units = [w.removesuffix(".service") for w in words[1:]]
        active = self.state.services | {"ssh", "cron", "systemd-timesyncd"}
        enabled = self.state.enabled_services | {"ssh", "cron", "systemd-timesyncd"}
        if verb == "is-active":
            for unit in units:
                await proc.out.line("active" if unit in active else "inactive")
            return 0 if all(u in active for u in units) else 3
        if verb == "is-enabled":
            for unit in units:
                await proc.out.line("enabled" if unit in enabled else "disabled")
            return 0 if all(u in enabled for u in units) else 1
        if verb == "reboot":
            return await self._cmd_reboot([], proc)
        if verb == "daemon-reload":
            return 0 if await self._need_root(proc, "Failed to reload daemon: Interactive authentication required.") else 1
        if verb not in ("start", "stop", "restart", "enable", "disable", "status"):
            await proc.err.line(f'Unknown command verb "{verb}".')
            return 1
        for unit in units:
            if not self._unit_exists(unit):
                await proc.err.line(f"Unit {unit}.service could not be found." if verb == "status" else f"Failed to {verb} {unit}.service: Unit {unit}.service not found.")
                return 4 if verb == "status" else 5
            if verb == "status":
                state = "active (running)" if unit in active else "inactive (dead)"
                await proc.out.line(f"● {unit}.service\n     Loaded: loaded (/etc/systemd/system/{unit}.service; "
                                    f"{'enabled' if unit in enabled else 'disabled'})\n     Active: {state}")
                continue
            if not await self._need_root(proc, f"Failed to {verb} {unit}.service: Interactive authentication required."):
                return 1
            if verb in ("start", "restart") or (verb == "enable" and "--now" in args):
                self.state.services.add(unit)
            if verb == "stop" or (verb == "disable" and "--now" in args):
                self.state.services.discard(unit)
            if verb == "enable":
                self.state.enabled_services.add(unit)
            if verb == "disable":
                self.state.enabled_services.discard(unit)
        return 0 if verb != "status" or all(u in active for u in units) else 3

    async def _cmd_reboot(self, args: list[str], proc: _Proc) -> int:
        if not await self._need_root(proc, "Call to Reboot failed: Interactive authentication required."):
            return 1
        self._sim.begin_reboot()
        return 0

    async def _cmd_shutdown(self, args: list[str], proc: _Proc) -> int:
        if "-r" not in args:
            await proc.err.line("the simulated node only supports `shutdown -r now`")
            return 1
        return await self._cmd_reboot(args, proc)

    # -- packages

    async def _cmd_apt_get(self, args: list[str], proc: _Proc) -> int:
        flags, _values, words = _parse_flags(args, with_value=("-o",))
        verb, packages = (words[0], words[1:]) if words else ("", [])
        if verb not in ("update", "install", "upgrade"):
            await proc.err.line(f"E: Invalid operation {verb}")
            return 100
        if not proc.root:
            await proc.err.line("E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)")
            await proc.err.line("E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?")
            return 100
        if not self.state.internet:
            await proc.err.line("E: Failed to fetch http://ports.ubuntu.com/ubuntu-ports/dists/noble/InRelease  "
                                "Temporary failure resolving 'ports.ubuntu.com'")
            return 100
        if verb == "update":
            return await self._apt_update(proc)
        await proc.out.line("Reading package lists...\nBuilding dependency tree...\nReading state information...")
        kubernetes = min(self.state.package_lists, default=None)  # a minor, v1.30
        for package in packages:
            if package in _KUBERNETES_PACKAGES and kubernetes is None and package not in self.state.packages:
                await proc.err.line(f"E: Unable to locate package {package}")
                return 100
        new = sorted(set(packages) - self.state.packages)
        if new:
            await proc.out.line("The following NEW packages will be installed:\n  " + " ".join(new))
        await proc.out.line(f"0 upgraded, {len(new)} newly installed, 0 to remove and 0 not upgraded.")
        if new and not ({"-y", "--yes", "--assume-yes", "-qq"} & flags):
            await proc.out.line("Do you want to continue? [Y/n] Abort.")
            return 1
        release = f"{kubernetes}.{KUBE_VERSION.rsplit('.', 1)[1]}" if kubernetes else KUBE_VERSION  # v1.30.4
        for package in new:
            version = f"{release[1:]}-1.1" if package in _KUBERNETES_PACKAGES else "1.7.12-0ubuntu4"
            await proc.out.line(f"Setting up {package} ({version}) ...")
            self.state.packages.add(package)
            if package in ("kubeadm", "kubectl", "kubelet"):
                self.state.install_file(f"/usr/bin/{package}", _SIM_BINARY, 0o755)
            if package == "kubelet":
                self.state.kubelet_version = release
                self.state.enabled_services.add("kubelet")
            if package in _CONTAINER_RUNTIMES:
                self.state.install_file("/usr/bin/containerd", _SIM_BINARY, 0o755)
                self.state.services.add("containerd")
                self.state.enabled_services.add("containerd")
        return 0

    async def _apt_update(self, proc: _Proc) -> int:
        """Ubuntu's suites, and pkgs.k8s.io when a source names it and its keyring is there."""
        for number, suite in enumerate(("noble", "noble-updates", "noble-backports", "noble-security"), 1):
            await proc.out.line(f"Hit:{number} http://ports.ubuntu.com/ubuntu-ports {suite} InRelease")
        for path, text in sorted(self.state.files.items()):
            if not path.startswith("/etc/apt/sources.list.d/"):
                continue
            for line in text.splitlines():
                found = _KUBERNETES_REPOSITORY.search(line)
                if not found:
                    continue
                keyring = re.search(r"signed-by=([^\]\s]+)", line)
                if keyring is None or not self.state.exists(keyring.group(1)):
                    await proc.err.line(f"W: GPG error: {found.group(0)}  InRelease: The following signatures couldn't "
                                        "be verified because the public key is not available: NO_PUBKEY 234654DA9A296436")
                    await proc.err.line(f"E: The repository '{found.group(0)}  InRelease' is not signed.")
                    return 100
                await proc.out.line(f"Get:5 {found.group(0)}  InRelease [1,186 B]")
                self.state.package_lists.add(found.group(1))
        await proc.out.line("Reading package lists...")
        return 0

    async def _cmd_containerd(self, args: list[str], proc: _Proc) -> int:
        if args[:2] != ["config", "default"]:
            await proc.err.line("the simulated containerd only prints `containerd config default`")
            return 1
        await proc.out.emit(CONTAINERD_DEFAULT_CONFIG)
        return 0

    async def _cmd_apt_mark(self, args: list[str], proc: _Proc) -> int:
        if not await self._need_root(proc, "E: Could not open lock file /var/lib/dpkg/lock - open (13: Permission denied)"):
            return 100
        for package in args[1:]:
            await proc.out.line(f"{package} set on hold.")
        return 0

    # -- k3s

    async def _cmd_k3s(self, args: list[str], proc: _Proc) -> int:
        if args[:1] in (["--version"], ["-v"], ["version"]):
            await proc.out.line(f"k3s version {self.state.kubelet_version or K3S_VERSION} ({K3S_COMMIT})")
            await proc.out.line("go version go1.22.5")
            return 0
        if args[:1] == ["kubectl"]:
            env = {"KUBECONFIG": K3S_KUBECONFIG_PATH, **proc.env}
            return await self._cmd_kubectl(args[1:], dataclasses.replace(proc, env=env))
        await proc.err.line(f"the simulated k3s supports --version and kubectl, not {shlex.join(args)!r}")
        return 1

    async def _k3s_install(self, args: list[str], proc: _Proc) -> int:
        """The get.k3s.io installer: server or agent, from env vars and arguments like the real script."""
        s, env, out = self.state, proc.env, proc.out
        exec_words = shlex.split(env.get("INSTALL_K3S_EXEC", "")) + list(args)
        server_url, token = env.get("K3S_URL", ""), env.get("K3S_TOKEN", "")
        if exec_words[:1] in (["server"], ["agent"]):
            command, flags = exec_words[0], exec_words[1:]
        else:
            command, flags = ("agent" if server_url else "server"), exec_words
        if command == "agent" and not token:
            await proc.err.line(
                "[ERROR]  Defaulted k3s exec command to 'agent' because K3S_URL is defined, but K3S_TOKEN, "
                "K3S_TOKEN_FILE or K3S_CLUSTER_SECRET is not defined."
            )
            return 1
        unit = "k3s" if command == "server" else "k3s-agent"
        version = env.get("INSTALL_K3S_VERSION", K3S_VERSION)
        suffix = {"aarch64": "-arm64", "armv7l": "-armhf"}.get(s.arch, "")
        lines: list[str] = []
        if env.get("INSTALL_K3S_SKIP_DOWNLOAD") == "true":
            if s.which("k3s") != "/usr/local/bin/k3s":
                await proc.err.line("[ERROR]  Executable k3s binary not found at /usr/local/bin/k3s")
                return 1
            lines.append("[INFO]  Skipping k3s download and verify")
        else:
            await self._install_line(out, f"[INFO]  Finding release for channel {env.get('INSTALL_K3S_CHANNEL', 'stable')}")
            if not s.internet:
                await proc.err.line("[ERROR]  Download failed")
                return 1
            base = f"https://github.com/k3s-io/k3s/releases/download/{version}"
            lines += [
                f"[INFO]  Using {version} as release",
                f"[INFO]  Downloading hash {base}/sha256sum{suffix or '-amd64'}.txt",
                f"[INFO]  Downloading binary {base}/k3s{suffix}",
                "[INFO]  Verifying binary download",
            ]
        for line in lines:
            await self._install_line(out, line)
        if not proc.root and s.sudo_password is not None:
            await proc.err.line("sudo: a terminal is required to read the password; either use the -S option to "
                                "read from standard input or configure an askpass helper")
            await proc.err.line("sudo: a password is required")
            return 1
        uninstall = "k3s-uninstall.sh" if command == "server" else "k3s-agent-uninstall.sh"
        for line in [
            "[INFO]  Installing k3s to /usr/local/bin/k3s",
            "[INFO]  Skipping installation of SELinux RPM",
            "[INFO]  Creating /usr/local/bin/kubectl symlink to k3s",
            "[INFO]  Creating /usr/local/bin/crictl symlink to k3s",
            "[INFO]  Creating /usr/local/bin/ctr symlink to k3s",
            "[INFO]  Creating killall script /usr/local/bin/k3s-killall.sh",
            f"[INFO]  Creating uninstall script /usr/local/bin/{uninstall}",
            f"[INFO]  env: Creating environment file /etc/systemd/system/{unit}.service.env",
            f"[INFO]  systemd: Creating service file /etc/systemd/system/{unit}.service",
            f"[INFO]  systemd: Enabling {unit} unit",
            f"Created symlink /etc/systemd/system/multi-user.target.wants/{unit}.service → /etc/systemd/system/{unit}.service.",
            f"[INFO]  systemd: Starting {unit}",
        ]:
            await self._install_line(out, line)
        for tool in ("k3s", "kubectl", "crictl", "ctr", "k3s-killall.sh", uninstall):
            s.install_file(f"/usr/local/bin/{tool}", _SIM_BINARY if "." not in tool else "#!/bin/sh\n", 0o755)
        failure = self._k3s_start_failure(command, token)
        if failure:
            await proc.err.line(f"Job for {unit}.service failed because the control process exited with error code.")
            await proc.err.line(f'See "systemctl status {unit}.service" and "journalctl -xeu {unit}.service" for details.')
            log.info("%s: %s failed to start: %s", s.name, unit, failure)
            return 1
        s.services.add(unit)
        s.enabled_services.add(unit)
        s.kubelet_version = version
        first_install = s.installed != f"k3s-{command}"
        s.installed, s.role = f"k3s-{command}", "server" if command == "server" else "agent"
        if command == "server":
            s.port_6443_in_use = True
            if first_install:
                options = _parse_cli_options(flags)
                options.setdefault("cluster-cidr", "10.42.0.0/16")
                options.setdefault("service-cidr", "10.43.0.0/16")
                if token:
                    options.setdefault("token", token)
                kubeconfig = self._sim.cluster.server_installed(s, "k3s", options)
                mode = int(str(options.get("write-kubeconfig-mode", "600")), 8)
                s.install_file(K3S_KUBECONFIG_PATH, kubeconfig, mode)
                s.install_file(K3S_TOKEN_PATH, self._sim.cluster.join_token() + "\n", _ROOT_ONLY)
        elif first_install:
            self._sim.cluster.node_joined(s, "agent", server_url)
        return 0

    def _k3s_start_failure(self, command: str, token: str) -> str:
        s = self.state
        if not s.memory_cgroup_enabled:
            return 'level=fatal msg="Error: failed to find memory cgroup (v2)"'
        if command == "server" and s.port_6443_in_use and s.installed != "k3s-server":
            return "listen tcp :6443: bind: address already in use"
        if command == "agent" and token.strip() != self._sim.cluster.join_token():
            return "token CA hash does not match the Cluster CA certificate hash"
        return ""

    async def _install_line(self, out: _Sink, line: str) -> None:
        await out.line(line)
        if self._sim.install_delay:
            await asyncio.sleep(self._sim.install_delay / 16)

    async def _k3s_uninstall(self, args: list[str], proc: _Proc) -> int:
        if not await self._need_root(proc, "sh: 1: cannot create /var/lib/rancher: Permission denied"):
            return 1
        s = self.state
        for path in [p for p in s.files if p.startswith(("/usr/local/bin/", "/etc/rancher/", "/var/lib/rancher/"))]:
            s.remove(path, root=True)
        s.services -= {"k3s", "k3s-agent"}
        s.enabled_services -= {"k3s", "k3s-agent"}
        if s.installed == "k3s-server":
            s.port_6443_in_use = False
        s.installed = s.role = None
        await proc.out.line("+ id -u\n+ [ 0 -eq 0 ]\n+ /usr/local/bin/k3s-killall.sh\n+ rm -rf /etc/rancher/k3s")
        return 0

    # -- kubeadm and kubectl

    async def _cmd_kubeadm(self, args: list[str], proc: _Proc) -> int:
        words = [a for a in args if not a.startswith("-")]
        options = _parse_cli_options(args)
        if words[:1] == ["version"]:
            await proc.out.line(KUBE_VERSION if "short" in args or "-o=short" in args else f'kubeadm version: &version.Info{{GitVersion:"{KUBE_VERSION}"}}')
            return 0
        if not proc.root:
            await proc.err.line("[preflight] Running pre-flight checks")
            return await self._kubeadm_fatal(proc, ["[ERROR IsPrivilegedUser]: user is not running as root"])
        if words[:2] == ["token", "create"]:
            if self.state.installed != "kubeadm" or self.state.role != "server":
                await proc.err.line(f'failed to load admin kubeconfig: open {KUBEADM_ADMIN_CONF}: no such file or directory')
                return 1
            bootstrap, ca_hash = kubeadm_credentials(self._sim.cluster.join_token())
            await proc.out.line(
                f"kubeadm join {self.state.address}:6443 --token {bootstrap} --discovery-token-ca-cert-hash {ca_hash} "
            )
            return 0
        if words[:1] == ["init"]:
            return await self._kubeadm_init(options, proc)
        if words[:1] == ["join"] and len(words) >= 2:
            return await self._kubeadm_join(words[1], options, proc)
        await proc.err.line(f'unknown command "{" ".join(words)}" for "kubeadm"')
        return 1

    def _kubeadm_preflight(self, ignored: set[str], extra: list[str]) -> list[str]:
        s = self.state
        errors = list(extra)
        if not s.packages & _CONTAINER_RUNTIMES:
            errors.append("[ERROR CRI]: container runtime is not running: output: time=\"2024-08-20T10:00:00Z\" "
                          "level=fatal msg=\"validate service connection: validate CRI v1 runtime API for endpoint "
                          "\\\"unix:///var/run/containerd/containerd.sock\\\"\", error: exit status 1")
        if s.swap_on:
            errors.append("[ERROR Swap]: running with swap on is not supported. Please disable swap")
        if not s.memory_cgroup_enabled:
            errors.append("[ERROR SystemVerification]: missing required cgroups: memory")
        if s.sysctl("net.ipv4.ip_forward") != "1":
            errors.append("[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents "
                          "are not set to 1")
        if "all" in ignored:
            return []
        return [e for e in errors if e.split("]")[0].removeprefix("[ERROR ").split("-")[0].lower() not in ignored]

    async def _kubeadm_fatal(self, proc: _Proc, errors: list[str]) -> int:
        await proc.err.line("error execution phase preflight: [preflight] Some fatal errors occurred:")
        for error in errors:
            await proc.err.line(f"\t{error}")
        await proc.err.line("[preflight] If you know what you are doing, you can make a check non-fatal with "
                            "`--ignore-preflight-errors=...`")
        await proc.err.line("To see the stack trace of this error execute with --v=5 or higher")
        return 1

    def _ignored_checks(self, options: dict[str, Any]) -> set[str]:
        value = options.get("ignore-preflight-errors", "")
        return {v.strip().lower() for v in str(value).split(",") if v.strip()}

    async def _kubeadm_init(self, options: dict[str, Any], proc: _Proc) -> int:
        s, out = self.state, proc.out
        await out.line(f"[init] Using Kubernetes version: {KUBE_VERSION}")
        await out.line("[preflight] Running pre-flight checks")
        extra = ["[ERROR Port-6443]: Port 6443 is in use"] if s.port_6443_in_use else []
        errors = self._kubeadm_preflight(self._ignored_checks(options), extra)
        if errors:
            return await self._kubeadm_fatal(proc, errors)
        for line in (
            "[preflight] Pulling images required for setting up a Kubernetes cluster",
            "[certs] Using certificateDir folder \"/etc/kubernetes/pki\"",
            "[certs] Generating \"ca\" certificate and key",
            f"[certs] apiserver serving cert is signed for DNS names [kubernetes kubernetes.default {s.hostname}] "
            f"and IPs [10.96.0.1 {s.address}]",
            "[kubeconfig] Writing \"admin.conf\" kubeconfig file",
            "[control-plane] Creating static Pod manifest for \"kube-apiserver\"",
            "[etcd] Creating static Pod manifest for local etcd in \"/etc/kubernetes/manifests\"",
            "[kubelet-start] Starting the kubelet",
            "[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods",
            "[apiclient] All control plane components are healthy after 12.502 seconds",
            "[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles",
            "[addons] Applied essential addon: CoreDNS",
            "[addons] Applied essential addon: kube-proxy",
        ):
            await self._install_line(out, line)
        s.installed, s.role, s.port_6443_in_use = "kubeadm", "server", True
        s.services.add("kubelet")
        s.enabled_services.add("kubelet")
        options.setdefault("service-cidr", "10.96.0.0/12")
        kubeconfig = self._sim.cluster.server_installed(s, "kubeadm", options)
        s.install_file(KUBEADM_ADMIN_CONF, kubeconfig, _ROOT_ONLY)
        bootstrap, ca_hash = kubeadm_credentials(self._sim.cluster.join_token())
        await out.emit(
            "\nYour Kubernetes control-plane has initialized successfully!\n\n"
            "To start using your cluster, you need to run the following as a regular user:\n\n"
            "  mkdir -p $HOME/.kube\n"
            f"  sudo cp -i {KUBEADM_ADMIN_CONF} $HOME/.kube/config\n"
            "  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n\n"
            "You should now deploy a pod network to the cluster.\n"
            "Then you can join any number of worker nodes by running the following on each as root:\n\n"
            f"kubeadm join {s.address}:6443 --token {bootstrap} \\\n"
            f"\t--discovery-token-ca-cert-hash {ca_hash} \n"
        )
        return 0

    async def _kubeadm_join(self, endpoint: str, options: dict[str, Any], proc: _Proc) -> int:
        s, out = self.state, proc.out
        await out.line("[preflight] Running pre-flight checks")
        extra = ["[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists"] if s.installed else []
        errors = self._kubeadm_preflight(self._ignored_checks(options), extra)
        if errors:
            return await self._kubeadm_fatal(proc, errors)
        bootstrap, ca_hash = kubeadm_credentials(self._sim.cluster.join_token())
        if options.get("token") != bootstrap:
            token_id = str(options.get("token", "")).split(".")[0]
            await proc.err.line("error execution phase preflight: couldn't validate the identity of the API Server: "
                                f'could not find a JWS signature in the cluster-info ConfigMap for token ID "{token_id}"')
            return 1
        if options.get("discovery-token-ca-cert-hash") != ca_hash:
            await proc.err.line("error execution phase preflight: couldn't validate the identity of the API Server: "
                                "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "
                                f"\"{ca_hash}\" are pinned")
            return 1
        for line in (
            "[preflight] Reading configuration from the cluster...",
            "[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"",
            "[kubelet-start] Starting the kubelet",
            "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap...",
            "",
            "This node has joined the cluster:",
            "* Certificate signing request was sent to apiserver and a response was received.",
            "* The Kubelet was informed of the new secure connection details.",
            "",
            "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.",
        ):
            await self._install_line(out, line)
        s.installed, s.role = "kubeadm", "agent"
        s.services.add("kubelet")
        s.enabled_services.add("kubelet")
        self._sim.cluster.node_joined(s, "agent", f"https://{endpoint}")
        return 0

    async def _cmd_kubectl(self, args: list[str], proc: _Proc) -> int:
        flags, values, words = _parse_flags(args, with_value=("-f", "--filename", "--kubeconfig", "-n", "--namespace", "-o"))
        if words[:1] == ["version"]:
            await proc.out.line(f"Client Version: {KUBE_VERSION}\nKustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3")
            return 0
        source = values.get("-f") or values.get("--filename")
        if words[:1] != ["apply"] or not source:
            await proc.err.line("error: the simulated kubectl supports `apply -f` and `version` only")
            return 1
        kubeconfig = values.get("--kubeconfig") or proc.env.get("KUBECONFIG") or f"{self.state.home}/.kube/config"
        try:
            self.state.read(kubeconfig, root=proc.root)
        except FsError as exc:
            if "Permission" in str(exc):
                await proc.err.line(f'error: error loading config file "{kubeconfig}": open {kubeconfig}: permission denied')
            else:
                await proc.err.line("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
            return 1
        if source.startswith(("http://", "https://")):
            if not self.state.internet:
                await proc.err.line(f'error: unable to read URL "{source}", server reported : dial tcp: lookup failed')
                return 1
            if "flannel" not in source:
                await proc.err.line(f'error: unable to read URL "{source}", server reported 404 Not Found, status code=404')
                return 1
            manifest, objects = "", list(FLANNEL_OBJECTS)
        else:
            try:
                manifest = self.state.read(source, root=proc.root)
                objects = [_object_ref(doc) for doc in yaml.safe_load_all(manifest) if doc]
            except FsError as exc:
                await proc.err.line(f'error: the path "{source}" does not exist' if "No such" in str(exc) else f"error: {exc}")
                return 1
            except yaml.YAMLError as exc:
                await proc.err.line(f"error: error parsing {source}: {exc}")
                return 1
        verb = "unchanged" if source in self.state.applied_manifests else "created"
        for ref in objects:
            await proc.out.line(f"{ref} {verb}")
        self.state.applied_manifests.add(source)
        self._sim.cluster.manifest_applied(self.state, source, manifest)
        return 0


def _object_ref(doc: dict[str, Any]) -> str:
    """`deployment.apps/nginx` for a manifest document, as kubectl prints it."""
    group = doc.get("apiVersion", "v1").rpartition("/")[0]
    kind = str(doc.get("kind", "object")).lower()
    return f"{kind}{'.' + group if group else ''}/{doc.get('metadata', {}).get('name', '')}"


def _os_pretty_name(os_release: str) -> str:
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', os_release, re.MULTILINE)
    return match.group(1) if match else "Linux"


def _deb_arch(arch: str) -> str:
    return {"aarch64": "arm64", "x86_64": "x86-64", "armv7l": "arm"}.get(arch, arch)


# --- SFTP over the in-memory files ----------------------------------------------------------


@dataclass
class _OpenFile:
    path: str
    data: bytearray
    writable: bool
    append: bool
    dirty: bool = False


class _NodeSftp(asyncssh.SFTPServer):
    """SFTP backed by the node's `files`, with the login user's permissions (never root)."""

    def __init__(self, chan: asyncssh.SSHServerChannel, state: SimNodeState) -> None:
        super().__init__(chan)
        self._state = state

    def _path(self, path: bytes) -> str:
        text = path.decode("utf-8", "surrogateescape") or "."
        return posixpath.normpath(posixpath.join(self._state.home, text))

    def _attrs(self, path: str) -> asyncssh.SFTPAttrs:
        s = self._state
        if path in s.files:
            size = len(s.files[path].encode("utf-8", "surrogateescape"))
            owner = s.owner(path)
            uid = 0 if owner == "root" else 1000
            return asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_REGULAR, size=size, uid=uid, gid=uid,
                                      permissions=stat.S_IFREG | s.mode(path), mtime=int(time.time()))
        if s.is_dir(path):
            return asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_DIRECTORY, size=4096, uid=0, gid=0,
                                      permissions=stat.S_IFDIR | 0o755, mtime=int(time.time()))
        raise asyncssh.SFTPNoSuchFile("No such file")

    def realpath(self, path: bytes) -> bytes:
        return self._path(path).encode("utf-8", "surrogateescape")

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return self._attrs(self._path(path))

    lstat = stat

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> _OpenFile:
        s, target = self._state, self._path(path)
        exists = target in s.files
        writable = bool(pflags & asyncssh.FXF_WRITE)
        if not exists and not pflags & asyncssh.FXF_CREAT:
            raise asyncssh.SFTPNoSuchFile("No such file")
        if exists and pflags & asyncssh.FXF_EXCL:
            raise asyncssh.SFTPFileAlreadyExists("File already exists")
        if (writable and not s.can_write(target, False)) or (exists and not writable and not s.can_read(target, False)):
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        if not exists:
            s.write(target, "", root=False, mode=(attrs.permissions or 0o644) & 0o7777)
        keep = exists and not pflags & asyncssh.FXF_TRUNC
        data = bytearray(s.files[target].encode("utf-8", "surrogateescape")) if keep else bytearray()
        return _OpenFile(target, data, writable, bool(pflags & asyncssh.FXF_APPEND), dirty=not keep and writable)

    def read(self, file_obj: _OpenFile, offset: int, size: int) -> bytes:
        return bytes(file_obj.data[offset : offset + size])

    def write(self, file_obj: _OpenFile, offset: int, data: bytes) -> int:
        if not file_obj.writable:
            raise asyncssh.SFTPPermissionDenied("File not open for writing")
        if file_obj.append:
            offset = len(file_obj.data)
        if offset > len(file_obj.data):
            file_obj.data.extend(b"\0" * (offset - len(file_obj.data)))
        file_obj.data[offset : offset + len(data)] = data
        file_obj.dirty = True
        return len(data)

    def close(self, file_obj: _OpenFile) -> None:
        if file_obj.dirty:
            self._state.write(file_obj.path, file_obj.data.decode("utf-8", "surrogateescape"), root=False)

    def fstat(self, file_obj: _OpenFile) -> asyncssh.SFTPAttrs:
        attrs = self._attrs(file_obj.path)
        attrs.size = len(file_obj.data)
        return attrs

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._chmod(self._path(path), attrs)

    def fsetstat(self, file_obj: _OpenFile, attrs: asyncssh.SFTPAttrs) -> None:
        self._chmod(file_obj.path, attrs)

    def _chmod(self, path: str, attrs: asyncssh.SFTPAttrs) -> None:
        if path not in self._state.files:
            raise asyncssh.SFTPNoSuchFile("No such file")
        if self._state.owner(path) != self._state.user:
            raise asyncssh.SFTPPermissionDenied("Operation not permitted")
        if attrs.permissions is not None:
            self._state.modes[path] = attrs.permissions & 0o7777

    def remove(self, path: bytes) -> None:
        try:
            self._state.remove(self._path(path), root=False)
        except FsError as exc:
            error = asyncssh.SFTPNoSuchFile if "No such" in str(exc) else asyncssh.SFTPPermissionDenied
            raise error(str(exc)) from None

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = self._path(oldpath), self._path(newpath)
        if old not in self._state.files:
            raise asyncssh.SFTPNoSuchFile("No such file")
        if not self._state.can_write(new, False):
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        self._state.write(new, self._state.files[old], root=False, mode=self._state.mode(old))
        self._state.remove(old, root=False)

    posix_rename = rename

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        if not self._state.can_write(posixpath.join(self._path(path), ".probe"), False):
            raise asyncssh.SFTPPermissionDenied("Permission denied")

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        directory = self._path(path).rstrip("/") + "/"
        children = sorted({p[len(directory) :].split("/")[0] for p in self._state.files if p.startswith(directory)})
        for name in children:
            yield asyncssh.SFTPName(name.encode(), attrs=self._attrs(directory + name))


# --- the SSH server per node ----------------------------------------------------------------


class _NodeServer(asyncssh.SSHServer):
    def __init__(self, sim: SshNodeSim) -> None:
        self._sim = sim
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._sim._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._sim._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        if username == self._sim.state.user and self._sim._authorized_keys and self._conn is not None:
            self._conn.set_authorized_keys(self._sim._authorized_keys)
        return True

    def password_auth_supported(self) -> bool:
        return False


@dataclass(frozen=True)
class CommandOutcome:
    exit_status: int
    stdout: str
    stderr: str


class SshNodeSim:
    """One simulated node: an SSH server on 127.0.0.1 with its own host key and the node shell.

    `line_delay` paces every output line sent over SSH; `install_delay` is roughly how long a
    k3s install or kubeadm init/join takes in total; `reboot_delay` is how long the node
    refuses connections after `reboot`. `port=0` lets the OS pick; a reboot keeps the port.
    """

    def __init__(
        self,
        state: SimNodeState,
        *,
        cluster: SimCluster | None = None,
        client_keys: Iterable[asyncssh.SSHKey] = (),
        host_key: asyncssh.SSHKey | None = None,
        line_delay: float = 0.0,
        install_delay: float = 0.0,
        reboot_delay: float = 0.5,
        port: int = 0,
    ) -> None:
        self.state = state
        self.cluster: SimCluster = cluster if cluster is not None else InMemoryCluster()
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        self.line_delay = line_delay
        self.install_delay = install_delay
        self.reboot_delay = reboot_delay
        self.rebooting = False
        self.shell = NodeShell(self)
        self._port = port
        self._client_keys: list[asyncssh.SSHKey] = []
        self._authorized_keys: asyncssh.SSHAuthorizedKeys | None = None
        self._listener: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._reboot_task: asyncio.Task[None] | None = None
        for key in client_keys:
            self.authorize(key)

    def __repr__(self) -> str:
        return f"SshNodeSim({self.state.name!r}, port={self._port}, up={self.is_up})"

    @property
    def port(self) -> int:
        return self._port

    @property
    def host_public_key(self) -> asyncssh.SSHKey:
        return self.host_key.convert_to_public()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def authorize(self, public_key: asyncssh.SSHKey) -> None:
        """Allow `public_key` to log in as the node's user."""
        self._client_keys.append(public_key.convert_to_public())
        lines = "".join(k.export_public_key("openssh").decode() for k in self._client_keys)
        self._authorized_keys = asyncssh.import_authorized_keys(lines)

    async def start(self) -> None:
        self._listener = await asyncssh.listen(
            "127.0.0.1",
            self._port,
            server_factory=lambda: _NodeServer(self),
            server_host_keys=[self.host_key],
            process_factory=self._serve_process,
            sftp_factory=lambda chan: _NodeSftp(chan, self.state),
            reuse_address=True,
            keepalive_interval=0,
        )
        self._port = self._listener.get_port()

    async def stop(self) -> None:
        if self._reboot_task is not None:
            self._reboot_task.cancel()
            await asyncio.gather(self._reboot_task, return_exceptions=True)
            self._reboot_task = None
        await self._go_down()
        self.rebooting = False

    async def run_command(self, command: str, *, root: bool = False, stdin: str = "") -> CommandOutcome:
        """Run a command line on the node without SSH (for the lab's presets and quick checks)."""
        out, err = _Sink(), _Sink()
        status = await self.shell.run_line(command, _Proc(root, self._login_env(root), _Input(stdin), out, err))
        return CommandOutcome(status, out.text(), err.text())

    def _login_env(self, root: bool) -> dict[str, str]:
        user = "root" if root else self.state.user
        home = "/root" if root else self.state.home
        return {"HOME": home, "USER": user, "LOGNAME": user, "PATH": ":".join(_PATH_DIRS), "SHELL": "/bin/bash"}

    async def _serve_process(self, process: asyncssh.SSHServerProcess) -> None:
        output = _ChannelOutput(process)
        out = _Sink(output.writer(), self.line_delay)
        err = _Sink(output.writer(stderr=True), self.line_delay)
        proc = _Proc(False, self._login_env(False), _Input(reader=process.stdin), out, err)
        try:
            if process.command is None:
                status = await self._interactive(output, process, proc)
            else:
                status = await self.shell.run_line(process.command, proc)
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            return
        except Exception:  # a bug in the interpreter must not kill the server: report it like a crash
            log.exception("%s: the simulated shell crashed on `%s ...`", self.state.name, " ".join(process.command.split()[:1]))
            output.writer(stderr=True)("sh: internal error in the simulated shell\n")
            status = 70
        if self.rebooting:
            return
        try:
            output.flush()  # what the command wrote, then its exit status
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            return
        process.exit(status)

    async def _interactive(self, output: _ChannelOutput, process: asyncssh.SSHServerProcess,
                           proc: _Proc) -> int:
        """A minimal login shell: one command per line, `exit` to leave."""
        status = 0
        write = output.writer()
        write(f"Welcome to {_os_pretty_name(self.state.os_release)} (GNU/Linux {self.state.kernel} {self.state.arch})\n\n")
        while not self.rebooting:
            write(f"{self.state.user}@{self.state.hostname}:~$ ")
            line = await process.stdin.readline()
            if not line or line.strip() in ("exit", "logout"):
                break
            status = await self.shell.run_line(line.strip(), dataclasses.replace(proc, stdin=_Input()))
        return status

    def begin_reboot(self) -> None:
        """Go down now (listener and sessions closed), come back after `reboot_delay` seconds."""
        if self.rebooting:
            return
        self.rebooting = True
        log.info("%s: rebooting for %.1fs", self.state.name, self.reboot_delay)
        self._reboot_task = asyncio.get_running_loop().create_task(self._reboot_cycle())

    async def _reboot_cycle(self) -> None:
        await self._go_down()
        await asyncio.sleep(self.reboot_delay)
        self.state.boot()
        await self.start()
        self.rebooting = False
        self._reboot_task = None

    async def _go_down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for conn in list(self._connections):
            conn.close()
        if listener is not None:
            await listener.wait_closed()
        for conn in list(self._connections):
            await conn.wait_closed()


def _public_key_line(key: asyncssh.SSHKey) -> str:
    """`ssh-ed25519 AAAA...` without the comment, as known_hosts wants it."""
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


# --- a fleet of nodes plus the files an SSH client needs ------------------------------------


@dataclass(frozen=True)
class FleetPaths:
    client_key: Path
    known_hosts: Path
    ssh_config: Path


class SshNodeFleet:
    """Several `SshNodeSim`s sharing one client key, plus known_hosts and ssh_config files.

    known_hosts keys each node as `[127.0.0.1]:port` (how OpenSSH and asyncssh look up
    non-22 ports); ssh_config maps each node name to its port, so
    `ssh -F <ssh_config> master1.kube.local` works.
    """

    def __init__(
        self,
        states: Iterable[SimNodeState],
        directory: str | Path,
        *,
        cluster: SimCluster | None = None,
        line_delay: float = 0.0,
        install_delay: float = 0.0,
        reboot_delay: float = 0.5,
    ) -> None:
        self.directory = Path(directory)
        self.cluster: SimCluster = cluster if cluster is not None else InMemoryCluster()
        self.client_key = asyncssh.generate_private_key("ssh-ed25519", comment="homelab-tui-sim")
        self.nodes: dict[str, SshNodeSim] = {
            state.name: SshNodeSim(
                state,
                cluster=self.cluster,
                client_keys=[self.client_key],
                line_delay=line_delay,
                install_delay=install_delay,
                reboot_delay=reboot_delay,
            )
            for state in states
        }
        self.paths = FleetPaths(
            client_key=self.directory / "id_ed25519",
            known_hosts=self.directory / "known_hosts",
            ssh_config=self.directory / "ssh_config",
        )

    def __getitem__(self, name: str) -> SshNodeSim:
        return self.nodes[name]

    async def start(self) -> FleetPaths:
        self.directory.mkdir(parents=True, exist_ok=True)
        await asyncio.gather(*(node.start() for node in self.nodes.values()))
        self.write_files()
        return self.paths

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes.values()))

    def write_files(self) -> None:
        """(Re)write the client key (0600), its .pub, known_hosts and ssh_config."""
        atomic_write(self.paths.client_key, self.client_key.export_private_key("openssh"), backup=False)
        atomic_write(
            self.paths.client_key.with_suffix(".pub"), self.client_key.export_public_key("openssh"), mode=0o644, backup=False
        )
        atomic_write(self.paths.known_hosts, self.known_hosts_text(), backup=False)
        atomic_write(self.paths.ssh_config, self.ssh_config_text(), backup=False)

    def known_hosts_text(self) -> str:
        return "".join(
            f"[127.0.0.1]:{node.port} {_public_key_line(node.host_public_key)}\n" for node in self.nodes.values()
        )

    def ssh_config_text(self) -> str:
        blocks = []
        for name, node in self.nodes.items():
            blocks.append(
                f"Host {name}\n"
                f"    HostName 127.0.0.1\n"
                f"    Port {node.port}\n"
                f"    User {node.state.user}\n"
                f"    IdentityFile {self.paths.client_key}\n"
                f"    IdentitiesOnly yes\n"
                f"    UserKnownHostsFile {self.paths.known_hosts}\n"
                f"    StrictHostKeyChecking yes\n"
            )
        return "\n".join(blocks)
