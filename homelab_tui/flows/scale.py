"""Scale a Deployment from its pane (`s`): a one-step plan, read against its scale subresource."""

from __future__ import annotations

from ..clients.kube import KubeError
from ..config import Config
from ..connect import kube_client
from ..plans import Plan
from ..plans.scale import ScaleAnswers, ScaleFacts, scale_plan


async def plan_scale(config: Config, namespace: str, name: str, replicas: int, kind: str = "Deployment") -> Plan:
    async with kube_client(config, request_timeout=5.0) as client:
        try:
            facts = ScaleFacts(True, await client.replicas(kind, namespace, name))
        except KubeError as error:
            if error.code != 404:
                raise
            facts = ScaleFacts(exists=False)
    return scale_plan(ScaleAnswers(namespace, name, replicas, kind), facts)
