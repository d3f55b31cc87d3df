"""What the MetalLB wizard reads: the cluster's side (is MetalLB served and its controller
available, its pools' addresses, ServiceLB's DaemonSets, kube-proxy's mode, the nodes), a k3s
server's config over SSH, the install manifest (a local file, or a URL fetched with a bounded
wait), and what the cluster says about the objects the plan applies (`facts.objects`)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clients.kube import KubeClient, KubeError, UnknownKind
from ..config import Config
from ..plans import PlanError
from ..plans.manifests import JsonObject, LiveObject, parse_manifest
from ..plans.metallb import API_VERSION, K3S_CONFIG, KUBE_PROXY, K3sServer
from .cluster import _read
from .objects import read_objects

if TYPE_CHECKING:
    from ..clients.ssh import SshSession

FETCH_TIMEOUT = 30.0  # seconds for the manifest's URL to answer
FETCH_LIMIT = 8 << 20  # bytes: the native manifest is about 80 kB
K3S_UNIT = "/etc/systemd/system/k3s.service"
# How the native manifest and the Helm chart label MetalLB's controller Deployment
CONTROLLER_SELECTORS = ("app=metallb,component=controller",
                        "app.kubernetes.io/name=metallb,app.kubernetes.io/component=controller")


@dataclass(frozen=True)
class ClusterSide:
    nodes: dict[str, str] = field(default_factory=dict)  # node name → InternalIP
    k3s: bool = False  # a node's kubelet is k3s's
    served: bool = False
    controller: str = ""  # namespace/name
    controller_available: bool = False
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name → addresses, for the overlap check
    svclb: tuple[str, ...] = ()
    kube_proxy: str | None = None


async def cluster_side(config: Config, namespace: str) -> ClusterSide:
    """The cluster's side, in one connection; PlanError when there is no cluster to reach.
    `namespace` is where a MetalLB to be installed would run (the manifest's)."""
    async def read(client: KubeClient) -> ClusterSide:
        nodes = await client.list_nodes()
        try:
            await client.resource(API_VERSION, "IPAddressPool")
            served = True
        except UnknownKind:
            served = False
        controller = None
        for selector in CONTROLLER_SELECTORS:
            found, _ = await client.list_raw("Deployment", None, label_selector=selector)
            if found:
                controller = found[0]
                break
        where = controller["metadata"]["namespace"] if controller else namespace
        pools = {item["metadata"]["name"]: tuple(str(v) for v in (item.get("spec") or {}).get("addresses") or ())
                 for item in await _items(client, "IPAddressPool", where)} if served else {}
        daemonsets = await _items(client, "DaemonSet", "kube-system")
        proxy = await client.get("ConfigMap", "kube-system", KUBE_PROXY)
        return ClusterSide(
            nodes={n.name: n.internal_ip for n in nodes if n.internal_ip},
            k3s=any("+k3s" in n.kubelet_version for n in nodes), served=served,
            controller=f"{where}/{controller['metadata']['name']}" if controller else "",
            controller_available=bool(controller) and _available(controller),
            pools=pools,
            svclb=tuple(sorted(d["metadata"]["name"] for d in daemonsets
                               if d["metadata"]["name"].startswith("svclb-"))),
            kube_proxy=((proxy or {}).get("data") or {}).get("config.conf") if proxy else None)

    side = await _read(config, read, None)
    if side is None:
        raise PlanError("cluster.kubeconfig", f"no cluster answers at context {config.cluster.kube_context}: "
                                              "bootstrap one first (B), or check the kubeconfig")
    return side


def _available(deployment: dict[str, Any]) -> bool:
    conditions = (deployment.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)


async def _items(client: KubeClient, kind: str, namespace: str) -> list[dict[str, Any]]:
    """The objects of a kind in a namespace; none when the server does not serve the kind."""
    try:
        items, _ = await client.list_raw(kind, namespace)
    except KubeError as error:
        if error.code == 404:
            return []
        raise
    return items


async def object_facts(config: Config, objects: list[JsonObject]) -> dict[str, LiveObject]:
    """Each object the plan applies, as it is and as the server's dry run would make it
    (facts/objects.py), in one connection."""
    return await _read(config, lambda client: read_objects(client, objects), {})


async def k3s_server(session: SshSession, name: str) -> K3sServer:
    """A k3s server's config file and unit, in one round trip (read-only, no sudo: both are
    world-readable)."""
    marker = "@@homelab-tui-unit@@"
    result = await session.run(f"cat {K3S_CONFIG} 2>/dev/null || echo @@homelab-tui-none@@; echo {marker}; "
                               f"cat {K3S_UNIT} 2>/dev/null; true")
    config, _, unit = result.stdout.partition(marker + "\n")
    return K3sServer(name, None if config.strip() == "@@homelab-tui-none@@" else config, unit)


async def install_manifest(config: Config) -> tuple[dict[str, Any], ...]:
    """The documents of `cluster.metallb_manifest`: a local file, or a URL fetched within
    FETCH_TIMEOUT. A PlanError names the key when it cannot be read or parsed."""
    source = config.cluster.metallb_manifest
    key = "cluster.metallb_manifest"
    if "://" in source:
        try:
            text = await asyncio.to_thread(_fetch, source)
        except (OSError, urllib.error.URLError, ValueError) as error:
            raise PlanError(key, f"could not fetch {source}: {getattr(error, 'reason', error)}") from None
    else:
        path = config.resolve_path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PlanError(key, f"could not read {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        return tuple(parse_manifest(text, source))
    except PlanError as error:
        raise PlanError(key, error.message, more=tuple((key, message) for _, message in error.errors[1:])) from None


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 - http(s), checked by config
        body = response.read(FETCH_LIMIT + 1)
    if len(body) > FETCH_LIMIT:
        raise ValueError(f"larger than {FETCH_LIMIT >> 20} MB")
    return body.decode("utf-8")
