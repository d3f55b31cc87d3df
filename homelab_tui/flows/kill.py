"""Kill a pod from its pane (`ctrl+k`): a one-step plan, read against the live pod."""

from __future__ import annotations

from ..config import Config
from ..facts.cluster import object_owner
from ..plans import Plan
from ..plans.delete import DeleteFacts
from ..plans.kill import KillAnswers, kill_plan


async def plan_kill(config: Config, namespace: str, name: str) -> Plan:
    exists, owner, uid = await object_owner(config, "Pod", namespace, name)
    return kill_plan(KillAnswers(namespace, name), DeleteFacts(exists, owner, uid))
