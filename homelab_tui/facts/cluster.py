"""What the cluster's API reports, for the plans that depend on it.

No kubeconfig (or context) yet, or an API that does not answer, means no cluster yet: the plans
then install one. An API that answers and refuses (a wrong token, no permission) is an error to
show: planning as if there were no cluster would hide what the cluster has."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..clients.kube import KubeClient, KubeConfigError, KubeError, KubeUnreachable, node_from_raw
from ..config import Config
from ..connect import kube_client
from ..models import Node
from ..plans import PlanError

NO_CLUSTER = (KubeConfigError, KubeUnreachable)
T = TypeVar("T")


def _refused(config: Config, error: KubeError) -> PlanError:
    return PlanError("cluster.kubeconfig", f"the API of context {config.cluster.kube_context} refused to answer "
                                           f"({error}); check the kubeconfig's credentials")


async def _read(config: Config, read: Callable[[KubeClient], Awaitable[T]], no_cluster: T) -> T:
    """`read` with a client of the configured cluster; `no_cluster` when there is none yet."""
    try:
        async with kube_client(config, request_timeout=5.0) as client:
            return await read(client)
    except NO_CLUSTER:
        return no_cluster
    except KubeError as error:
        raise _refused(config, error) from None


async def cluster_nodes(config: Config) -> list[Node]:
    """The nodes the API has; empty when there is no cluster yet."""
    return await _read(config, lambda client: client.list_nodes(), [])


@dataclass(frozen=True)
class InstalledServer:
    """A server as the running cluster has it: the node (None until it registers), its pod subnets
    and the `kubernetes` Service's address, which show the pod and service CIDRs it was installed with."""

    node: Node | None = None
    pod_subnets: tuple[str, ...] = ()
    service_ip: str = ""


async def installed_server(config: Config, node: str) -> InstalledServer:
    """`node` and the service address, read in one connection; empty when there is no cluster yet."""
    async def read(client: KubeClient) -> InstalledServer:
        raw_node = await client.get("Node", None, node)
        service = await client.get("Service", "default", "kubernetes") or {}
        spec = (raw_node or {}).get("spec", {})
        return InstalledServer(node_from_raw(raw_node, keep_raw=False) if raw_node else None,
                               tuple(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])),
                               service.get("spec", {}).get("clusterIP") or "")

    return await _read(config, read, InstalledServer())


async def object_owner(config: Config, kind: str, namespace: str, name: str) -> tuple[bool, str, str]:
    """Whether the object exists, its controller ("ReplicaSet web-5d9f") when it has one, and its uid."""
    async with kube_client(config, request_timeout=5.0) as client:
        raw = await client.get(kind, namespace or None, name)
    if raw is None:
        return False, "", ""
    metadata = raw.get("metadata", {})
    controller = next((o for o in metadata.get("ownerReferences") or [] if o.get("controller")), None)
    return True, f"{controller['kind']} {controller['name']}" if controller else "", metadata.get("uid", "")
