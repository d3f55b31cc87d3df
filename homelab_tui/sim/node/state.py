"""The state of one simulated Raspberry Pi node, which the lab may read and change directly:
hostname, kernel cmdline (of the file and of the running boot), swap, services, packages, kernel
modules and sysctls, and a tiny permission-checked file system (`files`, with modes and owners;
the login user writes only under /tmp and its home). Some paths are computed from the state, as
/proc is. Presets: a node fresh from the Ubuntu image, and one the prepare wizard has been over."""

from __future__ import annotations

import posixpath
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

CGROUP_PARAMS = "cgroup_enable=cpuset cgroup_memory=1 cgroup_enable=memory"
CMDLINE_PATH = "/boot/firmware/cmdline.txt"
HOSTS_MARKER = "# homelab-tui"  # how bootstrap and join mark the /etc/hosts lines they add

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
PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
KERNEL_DEFAULTS = {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0"}
SIM_BINARY = "\x7fELF (simulated binary)\n"  # what an installed binary holds


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
        """A node bootstrap or join has prepared: hostname set, the cluster's hosts lines (marked as
        theirs), memory cgroup on, swap off."""
        cmdline = RPI_CMDLINE.rstrip("\n") + " " + CGROUP_PARAMS + "\n"
        lines = "".join(f"{addr} {host} {HOSTS_MARKER}\n" for host, addr in (hosts or {name: address}).items())
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
        for directory in PATH_DIRS:
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


def os_pretty_name(os_release: str) -> str:
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', os_release, re.MULTILINE)
    return match.group(1) if match else "Linux"
