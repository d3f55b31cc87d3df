"""Cordon (`c`) or uncordon (`u`) a node from its pane: a one-step plan, read against the node."""

from __future__ import annotations

from ..config import Config
from ..connect import kube_client
from ..plans import Plan
from ..plans.cordon import CordonAnswers, CordonFacts, cordon_plan


async def plan_cordon(config: Config, node: str, cordon: bool = True) -> Plan:
    async with kube_client(config, request_timeout=5.0) as client:
        raw = await client.get("Node", None, node)
    facts = CordonFacts(raw is not None, bool(((raw or {}).get("spec") or {}).get("unschedulable")))
    return cordon_plan(CordonAnswers(node, cordon), facts)
