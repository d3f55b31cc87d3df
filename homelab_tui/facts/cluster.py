"""What the cluster's API reports, for the plans that depend on it.

No kubeconfig (or context) yet, or an API that does not answer, means no cluster yet: the plans
then install one. An API that answers and refuses (a wrong token, no permission) is an error to
show: planning as if there were no cluster would hide what the cluster has."""

from __future__ import annotations

from ..clients.kube import KubeConfigError, KubeError, KubeUnreachable
from ..config import Config
from ..connect import kube_client
from ..models import Node
from ..plans import PlanError

NO_CLUSTER = (KubeConfigError, KubeUnreachable)


def _refused(config: Config, error: KubeError) -> PlanError:
    return PlanError("cluster.kubeconfig", f"the API of context {config.cluster.kube_context} refused to answer "
                                           f"({error}); check the kubeconfig's credentials")


async def cluster_nodes(config: Config) -> list[Node]:
    """The nodes the API has; empty when there is no cluster yet."""
    try:
        async with kube_client(config, request_timeout=5.0) as client:
            return await client.list_nodes()
    except NO_CLUSTER:
        return []
    except KubeError as error:
        raise _refused(config, error) from None


async def installed_networks(config: Config, node: str) -> tuple[tuple[str, ...], str]:
    """The pod subnets of `node` and the `kubernetes` Service's address: what the running cluster
    uses of its pod and service CIDRs. Empty when there is no cluster yet."""
    try:
        async with kube_client(config, request_timeout=5.0) as client:
            raw_node = await client.get("Node", None, node)
            service = await client.get("Service", "default", "kubernetes")
    except NO_CLUSTER:
        return (), ""
    except KubeError as error:
        raise _refused(config, error) from None
    spec = (raw_node or {}).get("spec", {})
    subnets = tuple(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
    return subnets, ((service or {}).get("spec", {}).get("clusterIP") or "")


async def object_owner(config: Config, kind: str, namespace: str, name: str) -> tuple[bool, str, str]:
    """Whether the object exists, its controller ("ReplicaSet web-5d9f") when it has one, and its uid."""
    async with kube_client(config, request_timeout=5.0) as client:
        raw = await client.get(kind, namespace or None, name)
    if raw is None:
        return False, "", ""
    metadata = raw.get("metadata", {})
    controller = next((o for o in metadata.get("ownerReferences") or [] if o.get("controller")), None)
    return True, f"{controller['kind']} {controller['name']}" if controller else "", metadata.get("uid", "")
