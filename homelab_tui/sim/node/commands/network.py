"""Network and kernel commands of the simulated node: `curl` (get.k3s.io serves the k3s install
script, pkgs.k8s.io its Release.key; nothing answers without `internet`; an http:// URL at an IP
address on the LAN, 127.0.0.1 the node itself, is answered through the cluster hook: a NodePort
with a Ready endpoint gives 200, since the sim's pods answer 200 on /), `ss` (the listening
ports, 6443 once a control plane runs), `modprobe` and `sysctl` (-n, key=value, --system)."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..parser import parse_flags
from ..proc import Proc, need_root
from ..state import FsError, no_such_sysctl
from .kubernetes import K3S_INSTALL_SCRIPT
from .packages import KUBERNETES_REPOSITORY, PGP_PUBLIC_KEY
from .registry import command

if TYPE_CHECKING:
    from ..shell import NodeShell

KERNEL_MODULES = frozenset({"overlay", "br_netfilter", "ip_tables", "iptable_nat", "nf_conntrack", "vxlan"})


@command("curl")
async def curl(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, values, urls = parse_flags(args, with_value=("-o", "--output", "-H", "-X", "--retry", "-w", "--write-out",
                                                        "-m", "--max-time"))
    if not urls:
        await proc.err.line("curl: no URL specified!")
        return 2
    url = urls[0]
    host = urlparse(url).hostname or url
    quiet = "-s" in flags and "-S" not in flags
    if _is_address(host):
        return await _curl_lan(shell, url, values, quiet, proc)
    if not shell.state.internet:
        if not quiet:
            await proc.err.line(f"curl: (6) Could not resolve host: {host}")
        return 6
    if host == "get.k3s.io":
        body = K3S_INSTALL_SCRIPT
    elif KUBERNETES_REPOSITORY.match(url) and url.endswith("/Release.key"):
        body = PGP_PUBLIC_KEY
    else:
        if not quiet:
            await proc.err.line("curl: (22) The requested URL returned error: 404")
        return 22
    target = values.get("-o") or values.get("--output")
    if target:
        try:
            shell.state.write(target, body, root=proc.root)
        except FsError as exc:
            await proc.err.line(f"curl: (23) Failure writing output to destination: {exc}")
            return 23
    else:
        await proc.out.emit(body)
    return 0


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _curl_lan(shell: NodeShell, url: str, values: dict[str, str], quiet: bool, proc: Proc) -> int:
    """GET `url` from this node through the cluster hook (kube-proxy): 200 when something answers,
    else curl's code 000 and exit 7 (refused) or 28 (timed out, after --max-time)."""
    parts = urlparse(url)
    address = shell.state.address if parts.hostname == "127.0.0.1" else parts.hostname or ""
    port = parts.port or 80
    answer = shell.sim.cluster.connect(shell.state, address, port)
    write_out = values.get("-w", values.get("--write-out", ""))
    code = "200" if answer == "answers" else "000"
    if write_out:
        await proc.out.emit(write_out.replace("%{http_code}", code))
    if answer == "refused":
        if not quiet:
            await proc.err.line(f"curl: (7) Failed to connect to {parts.hostname} port {port} after 0 ms: "
                                "Couldn't connect to server")
        return 7
    if answer != "answers":
        if not quiet:
            seconds = float(values.get("-m", values.get("--max-time", "")) or 300)  # curl's connect timeout
            await proc.err.line(f"curl: (28) Connection timed out after {int(seconds * 1000)} milliseconds")
        return 28
    return 0  # the page's body is no concern of the sim: nothing is written


@command("ss")
async def ss(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, _values, operands = parse_flags(args)
    wanted = re.search(r"sport\s*=\s*:(\d+)", " ".join(operands))
    listening = [("0.0.0.0", 22)]
    if shell.state.port_6443_in_use:
        listening.append(("*", 6443))
    if shell.state.services & {"k3s", "k3s-agent", "kubelet"}:
        listening.append(("*", 10250))
    if not any(a.startswith("-") and "H" in a for a in args):
        await proc.out.line("State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess")
    for addr, port in listening:
        if wanted is None or int(wanted.group(1)) == port:
            local = f"{addr}:{port}"
            peer = "0.0.0.0:*" if addr == "0.0.0.0" else "*:*"
            await proc.out.line(f"LISTEN 0      4096  {local:>18} {peer:>18}")
    return 0


@command("modprobe")
async def modprobe(shell: NodeShell, args: list[str], proc: Proc) -> int:
    _flags, _values, names = parse_flags(args)
    for name in names:
        if name not in KERNEL_MODULES:
            await proc.err.line(f"modprobe: FATAL: Module {name} not found in directory /lib/modules/{shell.state.kernel}")
            return 1
        if not await need_root(proc, f"modprobe: ERROR: could not insert '{name}': Operation not permitted"):
            return 1
        shell.state.modules.add(name)
    return 0


@command("sysctl")
async def sysctl(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, _values, keys = parse_flags(args)
    if "--system" in flags:
        if not await need_root(proc, "sysctl: permission denied on key \"net.ipv4.ip_forward\""):
            return 1
        paths, errors = shell.state.apply_sysctl_files()
        for path in paths:
            await proc.out.line(f"* Applying {path} ...")
        for key, value in sorted(shell.state.sysctls.items()):
            await proc.out.line(f"{key} = {value}")
        for error in errors:
            await proc.err.line(error)
        return 1 if errors else 0
    for key in keys:
        key, assigning, new_value = key.partition("=")
        value = shell.state.sysctl(key)
        if assigning and value is not None:
            if not await need_root(proc, f'sysctl: permission denied on key "{key}"'):
                return 1
            shell.state.sysctls[key] = value = new_value
        if value is None:
            await proc.err.line(no_such_sysctl(key))
            return 255
        await proc.out.line(value if "-n" in flags else f"{key} = {value}")
    return 0
