"""Kubernetes on the simulated node: the get.k3s.io installer (server or agent, from the
INSTALL_K3S_* and K3S_* variables and its arguments, like the real script; any script holding
INSTALL_K3S_ counts as it, wherever it came from), the k3s uninstall scripts, `k3s --version` and
`k3s kubectl`, kubeadm (init, join, token create, with its preflight checks) and `kubectl apply
-f` / `version`. A control plane coming up (or k3s restarted by systemctl, which rereads its
flags and `/etc/rancher/k3s/config.yaml`, e.g. `disable: [servicelb]`), a node joining and a
manifest applied go to the cluster side through the `SimCluster` hooks."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shlex
from typing import TYPE_CHECKING, Any

import yaml

from ...kube.resources import K3S_VERSION  # one release for the nodes and the API
from ..cluster import kubeadm_credentials, render_kubeconfig
from ..parser import parse_cli_options, parse_flags
from ..proc import Proc, Sink, need_root
from ..state import SIM_BINARY, FsError, SimNodeState
from .packages import CONTAINER_RUNTIMES, KUBE_VERSION
from .registry import command

if TYPE_CHECKING:
    from ..shell import NodeShell

log = logging.getLogger(__name__)

K3S_COMMIT = "98262b5d"
K3S_INSTALL_URL = "https://get.k3s.io"
FLANNEL_MANIFEST_URL = "https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml"
K3S_TOKEN_PATH = "/var/lib/rancher/k3s/server/node-token"
K3S_KUBECONFIG_PATH = "/etc/rancher/k3s/k3s.yaml"
K3S_CONFIG_PATH = "/etc/rancher/k3s/config.yaml"
K3S_UNIT_PATH = "/etc/systemd/system/k3s.service"
KUBEADM_ADMIN_CONF = "/etc/kubernetes/admin.conf"
KUBEADM_KUBELET_CONF = "/etc/kubernetes/kubelet.conf"  # the kubelet's credentials, on every node kubeadm set up
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
INSTALLER_MARKER = "INSTALL_K3S_"
K3S_LINKS = ("kubectl", "crictl", "ctr")  # linked to k3s by the installer, where no such command exists
K3S_SYMLINK = "-> k3s\n"  # what such a link holds in the simulated file system (it has no links)
# What the uninstall scripts remove with `rm -rf`; /etc/rancher and /var/lib/rancher themselves stay.
K3S_DIRECTORIES = ("/etc/rancher/k3s/", "/run/k3s/", "/run/flannel/", "/var/lib/rancher/k3s/", "/var/lib/kubelet/")
ROOT_ONLY = 0o600


@command("k3s")
async def k3s(shell: NodeShell, args: list[str], proc: Proc) -> int:
    if args[:1] in (["--version"], ["-v"], ["version"]):
        await proc.out.line(f"k3s version {shell.state.kubelet_version or K3S_VERSION} ({K3S_COMMIT})")
        await proc.out.line("go version go1.22.5")
        return 0
    if args[:1] == ["kubectl"]:
        env = {"KUBECONFIG": K3S_KUBECONFIG_PATH, **proc.env}
        return await kubectl(shell, args[1:], dataclasses.replace(proc, env=env))
    await proc.err.line(f"the simulated k3s supports --version and kubectl, not {shlex.join(args)!r}")
    return 1


async def k3s_install(shell: NodeShell, args: list[str], proc: Proc) -> int:
    """The get.k3s.io installer: server or agent, from env vars and arguments like the real script."""
    s, env, out = shell.state, proc.env, proc.out
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
        await _install_line(shell, out, f"[INFO]  Finding release for channel {env.get('INSTALL_K3S_CHANNEL', 'stable')}")
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
        await _install_line(shell, out, line)
    if not proc.root and s.sudo_password is not None:
        await proc.err.line("sudo: a terminal is required to read the password; either use the -S option to "
                            "read from standard input or configure an askpass helper")
        await proc.err.line("sudo: a password is required")
        return 1
    uninstall = "k3s-uninstall.sh" if command == "server" else "k3s-agent-uninstall.sh"
    links = [tool for tool in K3S_LINKS if s.which(tool) is None]  # the installer links none that exists
    for line in [
        "[INFO]  Installing k3s to /usr/local/bin/k3s",
        "[INFO]  Skipping installation of SELinux RPM",
        *(_link_line(tool, s.which(tool)) for tool in K3S_LINKS),
        "[INFO]  Creating killall script /usr/local/bin/k3s-killall.sh",
        f"[INFO]  Creating uninstall script /usr/local/bin/{uninstall}",
        f"[INFO]  env: Creating environment file /etc/systemd/system/{unit}.service.env",
        f"[INFO]  systemd: Creating service file /etc/systemd/system/{unit}.service",
        f"[INFO]  systemd: Enabling {unit} unit",
        f"Created symlink /etc/systemd/system/multi-user.target.wants/{unit}.service → /etc/systemd/system/{unit}.service.",
        f"[INFO]  systemd: Starting {unit}",
    ]:
        await _install_line(shell, out, line)
    s.install_file("/usr/local/bin/k3s", SIM_BINARY, 0o755)
    for tool in links:
        s.install_file(f"/usr/local/bin/{tool}", K3S_SYMLINK, 0o777)
    for script in ("k3s-killall.sh", uninstall):
        s.install_file(f"/usr/local/bin/{script}", "#!/bin/sh\n", 0o755)
    s.install_file(f"/etc/systemd/system/{unit}.service", k3s_unit(command, flags))
    s.install_file(f"/etc/systemd/system/{unit}.service.env", "", ROOT_ONLY)
    failure = _k3s_start_failure(shell, command, token)
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
        options = k3s_server_options(s)
        if first_install:
            if token:
                options.setdefault("token", token)
            kubeconfig = shell.sim.cluster.server_installed(s, "k3s", options)
            mode = int(str(options.get("write-kubeconfig-mode", "600")), 8)
            s.install_file(K3S_KUBECONFIG_PATH, kubeconfig, mode)
            s.install_file(K3S_TOKEN_PATH, shell.sim.cluster.join_token() + "\n", ROOT_ONLY)
        else:
            shell.sim.cluster.server_restarted(s, "k3s", options)
    elif first_install:
        shell.sim.cluster.node_joined(s, "agent", server_url)
    return 0


def _link_line(tool: str, existing: str | None) -> str:
    """What the installer says about its link from /usr/local/bin/`tool` to k3s."""
    link = f"/usr/local/bin/{tool}"
    if existing is None:
        return f"[INFO]  Creating {link} symlink to k3s"
    why = "already exists" if existing == link else f"command exists in PATH at {existing}"
    return f"[INFO]  Skipping {link} symlink to k3s, {why}"


def k3s_unit(command: str, flags: list[str]) -> str:
    """The systemd unit the installer writes: ExecStart carries the k3s command and its flags."""
    exec_start = " \\\n    ".join(["/usr/local/bin/k3s", command, *(shlex.quote(f) for f in flags)])
    return (f"[Unit]\nDescription=Lightweight Kubernetes\nDocumentation=https://k3s.io\nWants=network-online.target\n"
            f"After=network-online.target\n\n[Service]\nType={'notify' if command == 'server' else 'exec'}\n"
            f"EnvironmentFile=-/etc/systemd/system/k3s.service.env\nKillMode=process\nDelegate=yes\n"
            f"Restart=always\nRestartSec=5s\nExecStart={exec_start}\n\n[Install]\nWantedBy=multi-user.target\n")


def k3s_server_options(state: SimNodeState) -> dict[str, Any]:
    """The k3s server's options as it starts: the unit's flags over /etc/rancher/k3s/config.yaml
    (k3s merges both; `disable` from either adds up), with the default CIDRs."""
    try:
        unit = state.read(K3S_UNIT_PATH, root=True)
    except FsError:
        unit = ""
    exec_start = unit.partition("ExecStart=")[2].partition("\n\n")[0].replace("\\\n", " ")
    flags = shlex.split(exec_start)[2:]
    options = parse_cli_options(flags)
    try:
        config = yaml.safe_load(state.read(K3S_CONFIG_PATH, root=True)) or {}
    except (FsError, yaml.YAMLError):
        config = {}
    disabled = [*_as_list(config.get("disable") if isinstance(config, dict) else None), *_as_list(options.get("disable"))]
    if isinstance(config, dict):
        for key, value in config.items():
            options.setdefault(key, value)
    disabled = sorted({part.strip() for item in disabled for part in str(item).split(",") if part.strip()})
    if disabled:
        options["disable"] = disabled
    options.setdefault("cluster-cidr", "10.42.0.0/16")
    options.setdefault("service-cidr", "10.43.0.0/16")
    return options


def _as_list(value: Any) -> list[Any]:
    if value is None or value is True:
        return []
    return value if isinstance(value, list) else [value]


async def k3s_service_started(shell: NodeShell, unit: str) -> None:
    """systemctl (re)started `unit`: a k3s server rereads its flags and config file."""
    s = shell.state
    if unit == "k3s" and s.installed == "k3s-server":
        shell.sim.cluster.server_restarted(s, "k3s", k3s_server_options(s))


def _k3s_start_failure(shell: NodeShell, command: str, token: str) -> str:
    s = shell.state
    if not s.memory_cgroup_enabled:
        return 'level=fatal msg="Error: failed to find memory cgroup (v2)"'
    if command == "server" and s.port_6443_in_use and s.installed != "k3s-server":
        return "listen tcp :6443: bind: address already in use"
    if command == "agent" and token.strip() != shell.sim.cluster.join_token():
        return "token CA hash does not match the Cluster CA certificate hash"
    return ""


async def _install_line(shell: NodeShell, out: Sink, line: str) -> None:
    await out.line(line)
    if shell.sim.install_delay:
        await asyncio.sleep(shell.sim.install_delay / 16)


@command("k3s-uninstall.sh")
async def k3s_server_uninstall(shell: NodeShell, args: list[str], proc: Proc) -> int:
    return await _k3s_uninstall(shell, "k3s", proc)


@command("k3s-agent-uninstall.sh")
async def k3s_agent_uninstall(shell: NodeShell, args: list[str], proc: Proc) -> int:
    return await _k3s_uninstall(shell, "k3s-agent", proc)


async def _k3s_uninstall(shell: NodeShell, unit: str, proc: Proc) -> int:
    """What the scripts the installer writes do: stop k3s, remove their own unit and its env file
    and themselves; then, unless another k3s unit is left (a server and an agent on one node),
    the kubectl/crictl/ctr links to k3s (never a real binary of that name), k3s's config, data
    and run directories, /var/lib/kubelet, the k3s binary and the killall script. What nobody
    installed with k3s stays (other files in /usr/local/bin or /etc/rancher, ~/.kube)."""
    if not await need_root(proc, "sh: 1: cannot create /var/lib/rancher: Permission denied"):
        return 1
    s = shell.state
    script = f"{unit}-uninstall.sh"
    await proc.out.line("+ id -u\n+ [ 0 -eq 0 ]\n+ /usr/local/bin/k3s-killall.sh")
    s.services.discard(unit)
    s.enabled_services.discard(unit)
    _remove(s, [f"/etc/systemd/system/{unit}.service", f"/etc/systemd/system/{unit}.service.env",
                f"/usr/local/bin/{script}"])
    was = s.installed
    if any(p.startswith("/etc/systemd/system/k3s") and p.endswith(".service") for p in s.files):
        await proc.out.line("Additional k3s services installed, skipping uninstall of k3s")
        return 0
    links = [f"/usr/local/bin/{tool}" for tool in K3S_LINKS if s.files.get(f"/usr/local/bin/{tool}") == K3S_SYMLINK]
    gone = [p for p in s.files if p.startswith(K3S_DIRECTORIES)]
    _remove(s, [*links, *gone, "/usr/local/bin/k3s", "/usr/local/bin/k3s-killall.sh"])
    await proc.out.line("+ rm -rf /etc/rancher/k3s\n+ rm -rf /run/k3s\n+ rm -rf /run/flannel\n"
                        "+ rm -rf /var/lib/rancher/k3s\n+ rm -rf /var/lib/kubelet\n+ rm -f /usr/local/bin/k3s")
    s.port_6443_in_use = s.port_6443_in_use and was != "k3s-server"
    s.installed = s.role = None
    s.kubelet_version = ""
    if was in ("k3s-server", "k3s-agent"):
        shell.sim.cluster.node_left(s, was_server=was == "k3s-server")
    return 0


def _remove(state: SimNodeState, paths: list[str]) -> None:
    """`rm -f`: the paths that exist go."""
    for path in paths:
        if path in state.files:
            state.remove(path, root=True)


@command("k3s-killall.sh")
async def k3s_killall(shell: NodeShell, args: list[str], proc: Proc) -> int:
    return 0  # nothing of k3s runs as a process in the sim


@command("kubeadm")
async def kubeadm(shell: NodeShell, args: list[str], proc: Proc) -> int:
    words = [a for a in args if not a.startswith("-")]
    options = parse_cli_options(args)
    if words[:1] == ["version"]:
        await proc.out.line(KUBE_VERSION if "short" in args or "-o=short" in args else f'kubeadm version: &version.Info{{GitVersion:"{KUBE_VERSION}"}}')
        return 0
    if not proc.root:
        await proc.err.line("[preflight] Running pre-flight checks")
        return await _kubeadm_fatal(proc, ["[ERROR IsPrivilegedUser]: user is not running as root"])
    if words[:2] == ["token", "create"]:
        if shell.state.installed != "kubeadm" or shell.state.role != "server":
            await proc.err.line(f'failed to load admin kubeconfig: open {KUBEADM_ADMIN_CONF}: no such file or directory')
            return 1
        bootstrap, ca_hash = kubeadm_credentials(shell.sim.cluster.join_token())
        await proc.out.line(
            f"kubeadm join {shell.state.address}:6443 --token {bootstrap} --discovery-token-ca-cert-hash {ca_hash} "
        )
        return 0
    if words[:1] == ["init"]:
        return await _kubeadm_init(shell, options, proc)
    if words[:1] == ["reset"]:
        return await _kubeadm_reset(shell, args, proc)
    if words[:1] == ["join"] and len(words) >= 2:
        return await _kubeadm_join(shell, words[1], options, proc)
    await proc.err.line(f'unknown command "{" ".join(words)}" for "kubeadm"')
    return 1


def _kubeadm_preflight(shell: NodeShell, ignored: set[str], extra: list[str]) -> list[str]:
    s = shell.state
    errors = list(extra)
    if not s.packages & CONTAINER_RUNTIMES:
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


async def _kubeadm_fatal(proc: Proc, errors: list[str]) -> int:
    await proc.err.line("error execution phase preflight: [preflight] Some fatal errors occurred:")
    for error in errors:
        await proc.err.line(f"\t{error}")
    await proc.err.line("[preflight] If you know what you are doing, you can make a check non-fatal with "
                        "`--ignore-preflight-errors=...`")
    await proc.err.line("To see the stack trace of this error execute with --v=5 or higher")
    return 1


def _ignored_checks(options: dict[str, Any]) -> set[str]:
    value = options.get("ignore-preflight-errors", "")
    return {v.strip().lower() for v in str(value).split(",") if v.strip()}


async def _kubeadm_init(shell: NodeShell, options: dict[str, Any], proc: Proc) -> int:
    s, out = shell.state, proc.out
    await out.line(f"[init] Using Kubernetes version: {KUBE_VERSION}")
    await out.line("[preflight] Running pre-flight checks")
    extra = ["[ERROR Port-6443]: Port 6443 is in use"] if s.port_6443_in_use else []
    errors = _kubeadm_preflight(shell, _ignored_checks(options), extra)
    if errors:
        return await _kubeadm_fatal(proc, errors)
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
        await _install_line(shell, out, line)
    s.installed, s.role, s.port_6443_in_use = "kubeadm", "server", True
    s.services.add("kubelet")
    s.enabled_services.add("kubelet")
    options.setdefault("service-cidr", "10.96.0.0/12")
    kubeconfig = shell.sim.cluster.server_installed(s, "kubeadm", options)
    s.install_file(KUBEADM_ADMIN_CONF, kubeconfig, ROOT_ONLY)
    s.install_file(KUBEADM_KUBELET_CONF, kubeconfig, ROOT_ONLY)
    bootstrap, ca_hash = kubeadm_credentials(shell.sim.cluster.join_token())
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


async def _kubeadm_reset(shell: NodeShell, args: list[str], proc: Proc) -> int:
    """`kubeadm reset -f`: what init or join set up goes (the /etc/kubernetes files, kubelet's
    state, the control plane's port); the CNI config, iptables and ~/.kube stay, as it says."""
    s, out = shell.state, proc.out
    if not {"-f", "--force"} & set(args):
        await out.line("[reset] Are you sure you want to proceed? [y/N]: ")
        await proc.err.line("error execution phase preflight: won't proceed; the user didn't answer (Y|y) in order to "
                            "continue")
        return 1
    for line in ("[preflight] Running pre-flight checks",
                 "[reset] Stopping the kubelet service",
                 "[reset] Unmounting mounted directories in \"/var/lib/kubelet\"",
                 "[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]",
                 "[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/kubelet.conf]",
                 "The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d",
                 "The reset process does not reset or clean up iptables rules or IPVS tables.",
                 "The reset process does not clean your kubeconfig files and you must remove them manually."):
        await out.line(line)
    for path in [p for p in s.files if p.startswith(("/etc/kubernetes/", "/var/lib/kubelet/", "/var/lib/etcd/"))]:
        s.remove(path, root=True)
    was = s.installed == "kubeadm" and s.role
    if was:
        s.services.discard("kubelet")
        s.enabled_services.discard("kubelet")
        s.port_6443_in_use = s.port_6443_in_use and was != "server"
        s.installed = s.role = None
        s.applied_manifests.clear()
        shell.sim.cluster.node_left(s, was_server=was == "server")
    return 0


async def _kubeadm_join(shell: NodeShell, endpoint: str, options: dict[str, Any], proc: Proc) -> int:
    s, out = shell.state, proc.out
    await out.line("[preflight] Running pre-flight checks")
    extra = ["[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists"] if s.installed else []
    errors = _kubeadm_preflight(shell, _ignored_checks(options), extra)
    if errors:
        return await _kubeadm_fatal(proc, errors)
    bootstrap, ca_hash = kubeadm_credentials(shell.sim.cluster.join_token())
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
        await _install_line(shell, out, line)
    s.installed, s.role = "kubeadm", "agent"
    s.install_file(KUBEADM_KUBELET_CONF, render_kubeconfig(f"https://{endpoint}", cluster="kubernetes",
                                                           user=f"system:node:{s.hostname}"), ROOT_ONLY)
    s.services.add("kubelet")
    s.enabled_services.add("kubelet")
    shell.sim.cluster.node_joined(s, "agent", f"https://{endpoint}")
    return 0


@command("kubectl")
async def kubectl(shell: NodeShell, args: list[str], proc: Proc) -> int:
    flags, values, words = parse_flags(args, with_value=("-f", "--filename", "--kubeconfig", "-n", "--namespace", "-o"))
    if words[:1] == ["version"]:
        await proc.out.line(f"Client Version: {KUBE_VERSION}\nKustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3")
        return 0
    source = values.get("-f") or values.get("--filename")
    if words[:1] != ["apply"] or not source:
        await proc.err.line("error: the simulated kubectl supports `apply -f` and `version` only")
        return 1
    kubeconfig = values.get("--kubeconfig") or proc.env.get("KUBECONFIG") or f"{shell.state.home}/.kube/config"
    try:
        shell.state.read(kubeconfig, root=proc.root)
    except FsError as exc:
        if "Permission" in str(exc):
            await proc.err.line(f'error: error loading config file "{kubeconfig}": open {kubeconfig}: permission denied')
        else:
            await proc.err.line("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
        return 1
    if source.startswith(("http://", "https://")):
        if not shell.state.internet:
            await proc.err.line(f'error: unable to read URL "{source}", server reported : dial tcp: lookup failed')
            return 1
        if "flannel" not in source:
            await proc.err.line(f'error: unable to read URL "{source}", server reported 404 Not Found, status code=404')
            return 1
        manifest, objects = "", list(FLANNEL_OBJECTS)
    else:
        try:
            manifest = shell.state.read(source, root=proc.root)
            objects = [_object_ref(doc) for doc in yaml.safe_load_all(manifest) if doc]
        except FsError as exc:
            await proc.err.line(f'error: the path "{source}" does not exist' if "No such" in str(exc) else f"error: {exc}")
            return 1
        except yaml.YAMLError as exc:
            await proc.err.line(f"error: error parsing {source}: {exc}")
            return 1
    verb = "unchanged" if source in shell.state.applied_manifests else "created"
    for ref in objects:
        await proc.out.line(f"{ref} {verb}")
    shell.state.applied_manifests.add(source)
    shell.sim.cluster.manifest_applied(shell.state, source, manifest)
    return 0


def _object_ref(doc: dict[str, Any]) -> str:
    """`deployment.apps/nginx` for a manifest document, as kubectl prints it."""
    group = doc.get("apiVersion", "v1").rpartition("/")[0]
    kind = str(doc.get("kind", "object")).lower()
    return f"{kind}{'.' + group if group else ''}/{doc.get('metadata', {}).get('name', '')}"
