"""Drain a node from its pane: cordon it, then evict the pods bound to it, read as they are now."""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..connect import kube_client
from ..plans import Plan
from ..plans.drain import MIRROR_ANNOTATION, DrainAnswers, DrainFacts, NodePod, drain_plan
from .owners import shown_controller


def node_pod(raw: dict[str, Any]) -> NodePod:
    meta = raw["metadata"]
    return NodePod(meta["namespace"], meta["name"], shown_controller(raw),
                   mirror=MIRROR_ANNOTATION in (meta.get("annotations") or {}))


async def plan_drain(config: Config, node: str) -> Plan:
    return drain_plan(DrainAnswers(node), await drain_facts(config, node))


async def drain_facts(config: Config, node: str) -> DrainFacts:
    """The node as the API has it now, and the pods bound to it (uninstall drains with them too)."""
    async with kube_client(config, request_timeout=5.0) as client:
        raw = await client.get("Node", None, node)
        pods: list[dict[str, Any]] = []
        if raw is not None:
            pods, _ = await client.list_raw("Pod", field_selector=f"spec.nodeName={node}")
    unschedulable = bool(((raw or {}).get("spec") or {}).get("unschedulable"))
    on_node = sorted(map(node_pod, pods), key=lambda pod: (pod.namespace, pod.name))
    return DrainFacts(raw is not None, unschedulable, tuple(on_node))
