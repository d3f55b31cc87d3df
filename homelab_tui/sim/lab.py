"""The reference lab (DESIGN.md), assembled from the simulated components, on 127.0.0.1.

`Lab` starts a Kubernetes API, a RouterOS router, one SSH server per node, a DNS server and the
Cloudflare API, wires them together (a node that joins over SSH appears in the Kubernetes API;
DNS answers from the router's DDNS state and the Cloudflare records, and forwards what the router's
FWD entries send to CoreDNS: sim/cluster_dns.py; the router's /tool/fetch and the nodes' curl reach
NodePorts and LoadBalancer addresses through kube-proxy: sim/kube_proxy.py), and writes a config that
points homelab-tui, kubectl and ssh at them.

Presets:
- `fresh`: bare Raspberry Pis (hostname `ubuntu`, memory cgroup off, swap on), an empty router
  apart from its default masquerade rule, DDNS off, no Cloudflare records.
- `running`: the state the seed articles end in, reached by running the same install commands
  over the sims: k3s on master1 with node1 and node2 joined, nginx behind NodePort 31681, the PCC
  load-balancing rules, DDNS on, and a proxied Cloudflare CNAME from the domain to the DDNS name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import tomli_w

from ..files import atomic_write
from .cloudflare import CloudflareSim
from .cluster_dns import ClusterDns
from .dns_server import DnsSim, Record
from .kube.resources import K3S_VERSION, RESOURCE_TYPES
from .kube_api import KubeApiSim
from .kube_proxy import KubeProxy
from .node.commands.kubernetes import K3S_INSTALL_URL
from .node.state import SimNodeState
from .router.menus import MENUS
from .routeros import RouterOsSim
from .ssh_nodes import SshNodeFleet

PRESETS = ("fresh", "running")
DOMAIN = "example.org"
DDNS_NAME = "529c0491d41c.sn.mynetname.net"
PUBLIC_ADDRESS = "198.51.100.19"
# With cgnat=True the router's own WAN address, from the carrier's shared space (100.64.0.0/10).
CGNAT_WAN_ADDRESS = "100.72.13.5"
NODE_PORT = 31681
CLUSTER_NAME = "homelab"
MARKER = "[homelab-tui default/nginx tcp/80]"
INGRESS_HOST = f"nginx.{DOMAIN}"


@dataclass(frozen=True)
class LabNode:
    name: str  # short name, as in the config
    hostname: str  # FQDN; also the Kubernetes node name
    address: str  # LAN address label (never contacted)
    role: str  # "server" or "agent"


REFERENCE_NODES = (
    LabNode("master1", "master1.kube.local", "192.168.40.102", "server"),
    LabNode("node1", "node1.kube.local", "192.168.40.103", "agent"),
    LabNode("node2", "node2.kube.local", "192.168.40.104", "agent"),
)

DEFAULT_NAT_RULES = (
    {"chain": "srcnat", "action": "masquerade", "out-interface": "pppoe-out1", "comment": "defconf: masquerade"},
)


def pcc_rules(backends: list[str], node_port: int = NODE_PORT, public_port: int = 80) -> tuple[list[dict], list[dict]]:
    """The seed article's PCC load balancer over `backends`: (mangle rules, nat rules)."""
    count = len(backends)
    mangle, nat = [], []
    for index, address in enumerate(backends):
        mark = f"kube_node_{index + 1}"
        mangle.append({
            "chain": "prerouting", "action": "mark-connection", "in-interface": "all-ppp", "protocol": "tcp",
            "dst-port": str(public_port), "new-connection-mark": mark, "passthrough": "yes",
            "per-connection-classifier": f"src-address-and-port:{count}/{index}",
            "comment": f"Load balancer. Service nginx. Mark connections to kube node {index + 1} {MARKER}",
        })
        nat.append({
            "chain": "dstnat", "action": "dst-nat", "connection-mark": mark, "protocol": "tcp",
            "to-addresses": address, "to-ports": str(node_port),
            "comment": f"Load balancer. Service nginx. DST NAT to kube node {index + 1} {MARKER}",
        })
    return mangle, nat


class Lab:
    """The whole simulated lab. `await lab.start()`, use it, `await lab.stop()`."""

    def __init__(
        self,
        preset: str = "running",
        workdir: str | Path | None = None,
        *,
        nodes: tuple[LabNode, ...] = REFERENCE_NODES,
        line_delay: float = 0.0,
        install_delay: float = 0.0,
        ready_delay: float = 0.0,
        controller_delay: float = 0.0,
        reboot_delay: float = 0.2,
        ddns_delay: float = 0.0,
        cgnat: bool = False,
    ) -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
        self.preset = preset
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="homelab-lab-"))
        self.nodes = nodes
        self.ready_delay = ready_delay
        # Secrets of the lab: random per run, kept in 0600 files, never printed.
        self.router_password = secrets.token_urlsafe(18)
        self.cloudflare_token = secrets.token_urlsafe(30)
        self._kube_token = secrets.token_urlsafe(24)
        self._join_token = f"K10{secrets.token_hex(32)}::server:{secrets.token_hex(16)}"
        self._tasks: set[asyncio.Task[None]] = set()

        self.kube = KubeApiSim(token=self._kube_token, controller_delay=controller_delay)
        self.router = RouterOsSim(password=self.router_password, ddns_name=DDNS_NAME, public_address=PUBLIC_ADDRESS,
                                  wan_address=CGNAT_WAN_ADDRESS if cgnat else None, ddns_update_seconds=ddns_delay,
                                  nat_rules=DEFAULT_NAT_RULES)
        states = [
            SimNodeState.fresh(node.hostname, node.address) if preset == "fresh"
            else SimNodeState.prepared(node.hostname, node.address, hosts={n.hostname: n.address for n in nodes})
            for node in nodes
        ]
        self.fleet = SshNodeFleet(states, self.workdir, cluster=self, line_delay=line_delay,
                                  install_delay=install_delay, reboot_delay=reboot_delay)
        self.cluster_dns = ClusterDns(self.kube, self.router)  # reached through the router's FWD entries
        self.kube_proxy = KubeProxy(self.kube, lambda: [node.address for node in self.nodes])
        self.router.connect = self.kube_proxy.connect  # /tool/fetch from the router
        self.dns = DnsSim(self.dns_records, zones=("kube.local", DOMAIN), upstream=self.cluster_dns.upstream)
        self.cloudflare = CloudflareSim(self.cloudflare_token, zones=[DOMAIN])

    def __repr__(self) -> str:
        return f"Lab(preset={self.preset!r}, workdir={str(self.workdir)!r})"

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        try:
            await self.kube.start()
            await self.router.start()
            await self.fleet.start()
            await self.dns.start()
            await self.cloudflare.start()
            if self.preset == "running":  # a fresh lab has no cluster yet: bootstrap writes the kubeconfig
                self.kube.write_kubeconfig(self.kubeconfig_path, cluster_name=CLUSTER_NAME, context=CLUSTER_NAME)
                await self._bring_up_running()
        except BaseException:
            await self.stop()  # every component's stop() is a no-op when it never started
            raise

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.cloudflare.stop()
        await self.dns.stop()
        await self.fleet.stop()
        await self.router.stop()
        await self.kube.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)  # client key and secrets included

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    # -- the `running` preset, reached through the same commands the wizards run -----------

    async def _bring_up_running(self) -> None:
        server = next(node for node in self.nodes if node.role == "server")
        install = (f"curl -sfL {K3S_INSTALL_URL} | INSTALL_K3S_EXEC="
                   f"{shlex.quote('server --cluster-cidr=10.42.0.0/16 --service-cidr=10.43.0.0/16')} sh -")
        await self._run_as_root(server, install)
        for node in self.nodes:
            if node.role == "agent":
                join = (f"curl -sfL {K3S_INSTALL_URL} | K3S_URL=https://{server.address}:6443 "
                        f"K3S_TOKEN={self._join_token} sh -")
                await self._run_as_root(node, join)
        await self._settle()
        self._seed_workloads()
        await self._workloads_available()
        agents = [node.address for node in self.nodes if node.role == "agent"]
        mangle, nat = pcc_rules(agents)
        for rule in mangle:
            self.router.add_rule("/ip/firewall/mangle", rule)
        for rule in nat:
            self.router.add_rule("/ip/firewall/nat", rule)
        self.router.set_ddns(True, settled=True)
        self.cloudflare.set_ssl_mode(DOMAIN, "flexible")  # seed 02: HTTPS to Cloudflare, HTTP to us
        for name in (DOMAIN, INGRESS_HOST):
            self.cloudflare.seed_record(DOMAIN, "CNAME", name, DDNS_NAME, proxied=True, comment=f"homelab-tui {MARKER}")

    async def _run_as_root(self, node: LabNode, command: str) -> None:
        outcome = await self.fleet[node.hostname].run_command(command, root=True)
        if outcome.exit_status != 0:
            raise RuntimeError(f"lab preset: {command.split('|')[-1].strip()} failed on {node.name}: "
                               f"{outcome.stderr.strip()}")

    async def _settle(self) -> None:
        """Wait for the delayed Ready transitions of the preset's nodes."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _workloads_available(self, timeout: float = 30.0) -> None:
        """The preset ends as the articles do: every Deployment available (its ReplicaSet and pods
        come up over a few controller passes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and any(
                d.get("status", {}).get("availableReplicas", 0) < d["spec"].get("replicas", 1)
                for d in self.kube.list("Deployment")):
            await asyncio.sleep(0.01)

    def _seed_workloads(self) -> None:
        for name, image in (("coredns", "rancher/mirrored-coredns-coredns:1.11.3"),
                            ("local-path-provisioner", "rancher/local-path-provisioner:v0.0.28"),
                            ("metrics-server", "rancher/mirrored-metrics-server:v0.7.2")):
            app = "kube-dns" if name == "coredns" else name  # k3s labels CoreDNS as kube-dns
            self.kube.create(deployment(name, "kube-system", image, replicas=1, labels={"k8s-app": app}))
        self.kube.create(deployment("nginx", "default", "nginx:1.27", replicas=2, labels={"app": "nginx"}))
        self.kube.create({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "namespace": "default"},
            "spec": {"type": "NodePort", "selector": {"app": "nginx"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP",
                                "nodePort": NODE_PORT}]},
        })
        backend = {"service": {"name": "nginx", "port": {"number": 80}}}
        self.kube.create({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "nginx", "namespace": "default"},
            "spec": {"ingressClassName": "traefik", "rules": [{"host": INGRESS_HOST, "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": backend}]}}]},
        })

    # -- SimCluster: what the SSH nodes tell the Kubernetes API ----------------------------

    def server_installed(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> str:
        roles = ("control-plane", "master") if distribution == "k3s" else ("control-plane",)
        if not self.kube.list("Node"):  # a fresh cluster, on the CIDRs it was installed with
            self.kube.install_networks(options.get("cluster-cidr") or options.get("pod-network-cidr") or "10.42.0.0/16",
                                       options["service-cidr"])
        # kubeadm nodes stay NotReady until a CNI (flannel) is applied.
        self._join(node, roles, ready=distribution == "k3s")
        self.server_restarted(node, distribution, options)
        return self._admin_kubeconfig()

    def server_restarted(self, node: SimNodeState, distribution: str, options: dict[str, Any]) -> None:
        """k3s runs ServiceLB and traefik unless `disable` (flags or config.yaml) names them."""
        disabled = options.get("disable") or []
        self.kube.servicelb = distribution == "k3s" and "servicelb" not in disabled
        self.kube.traefik = distribution == "k3s" and "traefik" not in disabled

    def node_joined(self, node: SimNodeState, role: str, server_url: str) -> None:
        self._join(node, (), ready=not self._cni_pending())

    def _cni_pending(self) -> bool:
        """A kubeadm control plane without flannel yet: joining nodes stay NotReady."""
        servers = [sim.state for sim in self.fleet.nodes.values() if sim.state.role == "server"]
        return any(state.installed == "kubeadm" and not any("flannel" in m for m in state.applied_manifests)
                   for state in servers)

    def node_left(self, node: SimNodeState, was_server: bool) -> None:
        """Its kubelet stopped: the Node goes NotReady (it stays in the API until deleted). The
        last server takes the datastore with it: no Node is left."""
        servers_left = any(sim.state.role == "server" for sim in self.fleet.nodes.values())
        for kube_node in self.kube.list("Node"):
            name = kube_node["metadata"]["name"]
            if was_server and not servers_left:
                self.kube.delete("Node", None, name)
            elif name == node.hostname:
                self.kube.set_node_ready(name, False)

    def join_token(self) -> str:
        return self._join_token

    def manifest_applied(self, node: SimNodeState, source: str, manifest: str) -> None:
        if "flannel" in source:
            for kube_node in self.kube.list("Node"):
                self._later(self.kube.set_node_ready, kube_node["metadata"]["name"], True)

    def connect(self, node: SimNodeState, address: str, port: int) -> str:
        return self.kube_proxy.connect(address, port)  # a node's curl

    def _join(self, node: SimNodeState, roles: tuple[str, ...], *, ready: bool) -> None:
        name = node.hostname
        if self.kube.get("Node", None, name) is None:
            self.kube.add_node(name, node.address, arch=_kube_arch(node.arch), roles=roles, ready=False,
                               kubelet_version=node.kubelet_version or K3S_VERSION)
        if ready:
            self._later(self.kube.set_node_ready, name, True)

    def _later(self, fn, *args: Any) -> None:
        """Run `fn(*args)` after `ready_delay`: a kubelet takes a moment to report Ready."""

        async def run() -> None:
            await asyncio.sleep(self.ready_delay)
            fn(*args)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _admin_kubeconfig(self) -> str:
        """What k3s writes to k3s.yaml (names `default`), pointing at the sim's API server."""
        return self.kube.kubeconfig_text(cluster_name="default", context="default", user="default")

    # -- DNS: answers computed from the lab's live state ----------------------------------

    def dns_records(self) -> list[Record]:
        records: list[Record] = [(node.hostname, "A", node.address) for node in self.nodes]
        cloud = self.router.cloud
        if cloud.ddns_enabled and cloud.dns_name:
            records.append((cloud.dns_name, "A", cloud.public_address))
        # The zone as Cloudflare holds it now; a proxied name answers with Cloudflare's edge.
        return records + self.cloudflare.public_records(DOMAIN)

    # -- the whole lab, for comparing before and after -----------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The lab's state whole, as plain data (dicts, lists, strings) that compares with `==`:
        `{"router": ..., "cloudflare": ..., "nodes": ..., "kubernetes": ...}`. Take one at the
        start and one at the end of a chain of changes; equal means every change was undone.

        Left out, because a real router, zone or node changes them too without anyone undoing
        anything:
        - the router's item `.id`s (RouterOS never reuses one: a rule removed and added again has
          a new id), rule counters (`bytes`, `packets`), and the menus of runtime state
          (`/ip/firewall/connection`, `/system/resource`: uptime, load). Items keep their order,
          which is meaning in a firewall table.
        - a Cloudflare record's `id`, `created_on` and `modified_on` (a record deleted and made
          again gets new ones); records are sorted, the API has no order.
        - a node's `boot_id` (every reboot makes a new one), and its test knobs (sudo password,
          internet access).
        - the Kubernetes API's objects when no node is left: with its last server, the cluster's
          datastore is gone (the simulated API server keeps serving, a real one does not exist).
          While a cluster exists, its objects are listed by kind as `namespace/name`.
        """
        return {"router": self._router_snapshot(), "cloudflare": self._cloudflare_snapshot(),
                "nodes": {name: _node_snapshot(sim.state) for name, sim in sorted(self.fleet.nodes.items())},
                "kubernetes": self._kubernetes_snapshot()}

    def _router_snapshot(self) -> dict[str, Any]:
        runtime = {"/ip/firewall/connection"}
        menus = {path: [{k: v for k, v in item.items() if k not in (".id", "bytes", "packets")}
                        for item in self.router.rules(path)]
                 for path, menu in MENUS.items() if not menu.single and path not in runtime}
        return {**menus, "/ip/cloud": dataclasses.asdict(self.router.cloud),
                "/system/identity": {"name": self.router.identity}}

    def _cloudflare_snapshot(self) -> dict[str, Any]:
        volatile = {"id", "created_on", "modified_on"}
        return {DOMAIN: {"ssl": self.cloudflare.ssl_mode(DOMAIN), "records": sorted(
            ({k: v for k, v in record.items() if k not in volatile} for record in self.cloudflare.records(DOMAIN)),
            key=lambda record: (record["name"], record["type"], record["content"]))}}

    def _kubernetes_snapshot(self) -> dict[str, Any]:
        if not self.kube.list("Node"):
            return {"cluster": False}
        objects = {rt.kind: sorted(f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
                                   for o in self.kube.list(rt.kind)) for rt in RESOURCE_TYPES if rt.kind != "Event"}
        return {"cluster": True, "objects": {kind: names for kind, names in objects.items() if names}}

    # -- the config that points at this lab -------------------------------------------------

    @property
    def _secret_files(self) -> tuple[Path, Path]:
        return self.workdir / "router-password", self.workdir / "cloudflare-token"

    def config_dict(self) -> dict[str, Any]:
        """The config for this lab; secrets are referenced by the files `write_config` writes."""
        router_secret, cloudflare_secret = self._secret_files
        return {
            "cluster": {"name": CLUSTER_NAME, "distribution": "k3s", "kubeconfig": str(self.kubeconfig_path),
                        "context": CLUSTER_NAME, "pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16",
                        "install_script": K3S_INSTALL_URL},
            "ssh": {"user": "ubuntu", "identity_file": str(self.fleet.paths.client_key),
                    "known_hosts": str(self.fleet.paths.known_hosts), "port": 22, "use_agent": False,
                    "config_file": "", "connect_timeout": 5},
            "nodes": [{"name": node.name, "address": node.address, "role": node.role, "hostname": node.hostname,
                       "ssh_host": "127.0.0.1", "ssh_port": self.fleet[node.hostname].port}
                      for node in self.nodes],
            "router": {"host": "127.0.0.1", "port": self.router.port, "tls": False, "user": "admin",
                       "password_command": f"cat {router_secret}", "wan_interface": "all-ppp"},
            "dns": {"domain": DOMAIN, "nameservers": ["127.0.0.1"], "port": self.dns.port, "timeout": 2,
                    "ddns": "routeros-cloud",
                    "cloudflare": {"zone": DOMAIN, "token_command": f"cat {cloudflare_secret}",
                                   "proxied": True, "api_url": self.cloudflare.url}},
            "ui": {"refresh_seconds": 2},
        }

    def write_config(self, path: str | Path) -> Path:
        """Write a config for this lab (0600, atomic). Secrets stay in files beside the keys."""
        router_secret, cloudflare_secret = self._secret_files
        atomic_write(router_secret, self.router_password, backup=False)
        atomic_write(cloudflare_secret, self.cloudflare_token, backup=False)
        return atomic_write(Path(path), tomli_w.dumps(self.config_dict()), backup=True)

    def endpoints(self) -> list[tuple[str, str]]:
        rows = [("kubernetes", f"{self.kube.url}  (KUBECONFIG={self.kubeconfig_path})"),
                ("router", f"127.0.0.1:{self.router.port}  (RouterOS API, user admin)"),
                ("dns", f"127.0.0.1:{self.dns.port}/udp  (zones kube.local, {DOMAIN}; DDNS {DDNS_NAME})"),
                ("cloudflare", self.cloudflare.url)]
        rows += [(f"ssh {node.name}", f"ubuntu@127.0.0.1 -p {self.fleet[node.hostname].port}  ({node.hostname}, "
                  f"{node.address})") for node in self.nodes]
        return rows


def deployment(name: str, namespace: str, image: str, *, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace,
                                                                     "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": name, "image": image}]}}},
    }


def _node_snapshot(state: SimNodeState) -> dict[str, Any]:
    """A node's state as plain data: files with their modes and owners, hostname, boot command
    line, swap, services, packages, kernel modules and settings; sets as sorted lists."""
    left_out = {"boot_id", "sudo_password", "internet", "files", "modes", "owners"}
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if f.name not in left_out}
    files = {path: {"content": text, "mode": oct(state.mode(path)), "owner": state.owner(path)}
             for path, text in sorted(state.files.items())}
    return {**{k: sorted(v) if isinstance(v, set) else v for k, v in fields.items()}, "files": files}


def _kube_arch(uname_machine: str) -> str:
    return {"aarch64": "arm64", "x86_64": "amd64", "armv7l": "arm"}.get(uname_machine, uname_machine)


def _unwritable(config_path: Path, workdir: Path) -> str | None:
    """Why the config (and its private folder beside it) cannot be written there, if it cannot."""
    if config_path.is_dir():
        return "is a directory; expected the path of a file to write"
    if config_path.exists() and not config_path.is_file():
        return "is not a regular file; expected the path of a file to write"
    parent = config_path.parent
    if not parent.is_dir():
        return f"the folder {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the folder {parent} is not writable"
    if workdir.exists() and not workdir.is_dir():
        return f"{workdir} (for the lab's keys and secrets) exists and is not a folder"
    return None


async def run_headless(config_path: Path, *, preset: str, out: TextIO) -> int:
    """`homelab-tui sim`: run the lab until Ctrl-C or SIGTERM, with its config written."""
    config_path = Path(config_path).expanduser().resolve()
    workdir = config_path.with_name(config_path.stem + ".d")
    if problem := _unwritable(config_path, workdir):
        print(f"homelab-tui sim: --write-config {config_path}: {problem}", file=sys.stderr)
        return 2
    lab = Lab(preset, workdir, ready_delay=1.0, controller_delay=1.0, ddns_delay=2.0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await lab.start()
            lab.write_config(config_path)
        except OSError as exc:  # the checks above cannot foresee everything (a full disk, a read-only mount)
            where = exc.filename or config_path
            print(f"homelab-tui sim: --write-config {config_path}: cannot write {where}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
        print(f"homelab-tui sim: lab '{preset}' running; config written to {config_path}", file=out)
        print(f"private files (kubeconfig, known_hosts, client key, secrets): {workdir}", file=out)
        width = max(len(name) for name, _ in lab.endpoints())
        for name, where in lab.endpoints():
            print(f"  {name:<{width}}  {where}", file=out)
        print(f"\ntry: homelab-tui check --config {config_path}\nCtrl-C stops the lab.", file=out, flush=True)
        await stop.wait()
    finally:
        await lab.stop()  # a no-op for the parts that never started
        print("homelab-tui sim: stopped", file=out if not out.closed else sys.stderr)
    return 0
