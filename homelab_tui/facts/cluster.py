"""What the cluster's API reports, for the plans that depend on it."""

from __future__ import annotations

from ..config import Config
from ..connect import kube_client
from ..models import Node


async def cluster_nodes(config: Config) -> list[Node]:
    """The nodes the API has; empty when it cannot be reached (no kubeconfig yet, no cluster yet)."""
    try:
        async with kube_client(config, request_timeout=5.0) as client:
            return await client.list_nodes()
    except Exception:
        return []


async def installed_networks(config: Config, node: str) -> tuple[tuple[str, ...], str]:
    """The pod subnets of `node` and the `kubernetes` Service's address: what the running cluster
    uses of its pod and service CIDRs. Empty when the API cannot be reached."""
    try:
        async with kube_client(config, request_timeout=5.0) as client:
            raw_node = await client.get("Node", None, node)
            service = await client.get("Service", "default", "kubernetes")
    except Exception:
        return (), ""
    spec = (raw_node or {}).get("spec", {})
    subnets = tuple(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
    return subnets, ((service or {}).get("spec", {}).get("clusterIP") or "")


async def object_owner(config: Config, kind: str, namespace: str, name: str) -> tuple[bool, str]:
    """Whether the object exists, and its controller ("ReplicaSet web-5d9f") when it has one."""
    async with kube_client(config, request_timeout=5.0) as client:
        raw = await client.get(kind, namespace or None, name)
    if raw is None:
        return False, ""
    owners = raw.get("metadata", {}).get("ownerReferences") or []
    controller = next((o for o in owners if o.get("controller")), None)
    return True, f"{controller['kind']} {controller['name']}" if controller else ""
