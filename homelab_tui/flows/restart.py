"""Restart a workload from its pane (`r`), or the one that runs a pod (`r` on a Pod row): the pod's
controller, and for a ReplicaSet the Deployment that owns it, read from their ownerReferences."""

from __future__ import annotations

from datetime import UTC, datetime

from ..config import Config
from ..connect import kube_client
from ..plans import Plan
from ..plans.restart import RestartAnswers, RestartFacts, restart_plan
from .owners import shown_controller, workload_of


async def plan_restart(config: Config, kind: str, namespace: str, name: str) -> Plan:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, as kubectl writes restartedAt
    async with kube_client(config, request_timeout=5.0) as client:
        raw = await client.get(kind, namespace, name)
        if kind != "Pod" or raw is None:
            facts = RestartFacts(now, exists=raw is not None)
        else:
            workload = await workload_of(client, namespace, raw)
            facts = RestartFacts(now, True, *workload, controller=shown_controller(raw))
    return restart_plan(RestartAnswers(kind, namespace, name), facts)
