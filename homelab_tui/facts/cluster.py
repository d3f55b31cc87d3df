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
