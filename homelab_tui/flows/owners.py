"""Who runs an object, as the pane actions' flows read it from its ownerReferences."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..clients.kube import KubeClient


def controller_of(raw: dict[str, Any]) -> tuple[str, str]:
    """(kind, name) of the object's controller, as its ownerReferences say; ("", "") for none."""
    owners = (raw.get("metadata") or {}).get("ownerReferences") or []
    controller = next((owner for owner in owners if owner.get("controller")), None)
    return (controller["kind"], controller["name"]) if controller else ("", "")


def shown_controller(raw: dict[str, Any]) -> str:
    """"ReplicaSet web-5d9f", or "" when nothing controls the object."""
    return " ".join(controller_of(raw)).strip()


async def workload_of(client: KubeClient, namespace: str, raw: dict[str, Any]) -> tuple[str, str]:
    """(kind, name) of the workload that runs the object: its controller, or for a ReplicaSet the
    Deployment that owns it; ("", "") for a bare ReplicaSet (a Deployment's pods are its ReplicaSets')
    or no controller."""
    kind, name = controller_of(raw)
    if kind != "ReplicaSet":
        return kind, name
    replica_set = await client.get("ReplicaSet", namespace, name)
    return controller_of(replica_set) if replica_set is not None else ("", "")
