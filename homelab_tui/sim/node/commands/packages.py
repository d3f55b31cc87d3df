"""Package commands of the simulated node: `apt-get`/`apt` update and install (Ubuntu's suites
have no kubeadm: pkgs.k8s.io must be a source with its keyring, and `apt-get update` must have
fetched it), `apt-mark hold`, `gpg --dearmor` for the repository key, and `containerd config
default`. Installing a package installs its binaries and, for a runtime or the kubelet, its
service."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..parser import parse_flags
from ..proc import Proc, need_root
from ..state import SIM_BINARY, FsError
from .registry import command

if TYPE_CHECKING:
    from ..shell import NodeShell

KUBE_VERSION = "v1.30.4"  # what the Kubernetes packages install
CONTAINER_RUNTIMES = frozenset({"containerd", "containerd.io", "docker.io", "docker-ce", "cri-o"})
KUBERNETES_PACKAGES = frozenset({"kubeadm", "kubectl", "kubelet", "kubernetes-cni", "cri-tools"})  # pkgs.k8s.io only
KUBERNETES_REPOSITORY = re.compile(r"https://pkgs\.k8s\.io/core:/stable:/(v\d+\.\d+)/deb/")
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


@command("apt-get", "apt")
async def apt_get(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, _values, words = parse_flags(args, with_value=("-o",))
    verb, packages = (words[0], words[1:]) if words else ("", [])
    if verb not in ("update", "install", "upgrade"):
        await proc.err.line(f"E: Invalid operation {verb}")
        return 100
    if not proc.root:
        await proc.err.line("E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)")
        await proc.err.line("E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?")
        return 100
    if not shell.state.internet:
        await proc.err.line("E: Failed to fetch http://ports.ubuntu.com/ubuntu-ports/dists/noble/InRelease  "
                            "Temporary failure resolving 'ports.ubuntu.com'")
        return 100
    if verb == "update":
        return await _apt_update(shell, proc)
    await proc.out.line("Reading package lists...\nBuilding dependency tree...\nReading state information...")
    kubernetes = min(shell.state.package_lists, default=None)  # a minor, v1.30
    for package in packages:
        if package in KUBERNETES_PACKAGES and kubernetes is None and package not in shell.state.packages:
            await proc.err.line(f"E: Unable to locate package {package}")
            return 100
    new = sorted(set(packages) - shell.state.packages)
    if new:
        await proc.out.line("The following NEW packages will be installed:\n  " + " ".join(new))
    await proc.out.line(f"0 upgraded, {len(new)} newly installed, 0 to remove and 0 not upgraded.")
    if new and not ({"-y", "--yes", "--assume-yes", "-qq"} & flags):
        await proc.out.line("Do you want to continue? [Y/n] Abort.")
        return 1
    release = f"{kubernetes}.{KUBE_VERSION.rsplit('.', 1)[1]}" if kubernetes else KUBE_VERSION  # v1.30.4
    for package in new:
        version = f"{release[1:]}-1.1" if package in KUBERNETES_PACKAGES else "1.7.12-0ubuntu4"
        await proc.out.line(f"Setting up {package} ({version}) ...")
        shell.state.packages.add(package)
        if package in ("kubeadm", "kubectl", "kubelet"):
            shell.state.install_file(f"/usr/bin/{package}", SIM_BINARY, 0o755)
        if package == "kubelet":
            shell.state.kubelet_version = release
            shell.state.enabled_services.add("kubelet")
        if package in CONTAINER_RUNTIMES:
            shell.state.install_file("/usr/bin/containerd", SIM_BINARY, 0o755)
            shell.state.services.add("containerd")
            shell.state.enabled_services.add("containerd")
    return 0


async def _apt_update(shell: NodeShell, proc: Proc) -> int:
    """Ubuntu's suites, and pkgs.k8s.io when a source names it and its keyring is there."""
    for number, suite in enumerate(("noble", "noble-updates", "noble-backports", "noble-security"), 1):
        await proc.out.line(f"Hit:{number} http://ports.ubuntu.com/ubuntu-ports {suite} InRelease")
    for path, text in sorted(shell.state.files.items()):
        if not path.startswith("/etc/apt/sources.list.d/"):
            continue
        for line in text.splitlines():
            found = KUBERNETES_REPOSITORY.search(line)
            if not found:
                continue
            keyring = re.search(r"signed-by=([^\]\s]+)", line)
            if keyring is None or not shell.state.exists(keyring.group(1)):
                await proc.err.line(f"W: GPG error: {found.group(0)}  InRelease: The following signatures couldn't "
                                    "be verified because the public key is not available: NO_PUBKEY 234654DA9A296436")
                await proc.err.line(f"E: The repository '{found.group(0)}  InRelease' is not signed.")
                return 100
            await proc.out.line(f"Get:5 {found.group(0)}  InRelease [1,186 B]")
            shell.state.package_lists.add(found.group(1))
    await proc.out.line("Reading package lists...")
    return 0


@command("apt-mark")
async def apt_mark(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if not await need_root(proc, "E: Could not open lock file /var/lib/dpkg/lock - open (13: Permission denied)"):
        return 100
    for package in args[1:]:
        await proc.out.line(f"{package} set on hold.")
    return 0


@command("gpg")
async def gpg(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, values, _operands = parse_flags(args, with_value=("-o", "--output"))
    target = values.get("-o") or values.get("--output")
    if "--dearmor" not in flags or not target:
        await proc.err.line("the simulated gpg only does `gpg --dearmor -o FILE` (stdin to FILE)")
        return 2
    if "BEGIN PGP PUBLIC KEY BLOCK" not in await proc.stdin.read():
        await proc.err.line("gpg: no valid OpenPGP data found.")
        return 2
    if shell.state.exists(target) and "--yes" not in flags:
        await proc.err.line(f"gpg: cannot open '/dev/tty': No such device or address (File '{target}' exists.)")
        return 2
    try:
        shell.state.write(target, "\x99\x01\r (simulated OpenPGP keyring)\n", root=proc.root)
    except FsError as exc:
        await proc.err.line(f"gpg: can't create '{target}': {exc}")
        return 2
    return 0


@command("containerd")
async def containerd(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if args[:2] != ["config", "default"]:
        await proc.err.line("the simulated containerd only prints `containerd config default`")
        return 1
    await proc.out.emit(CONTAINERD_DEFAULT_CONFIG)
    return 0
