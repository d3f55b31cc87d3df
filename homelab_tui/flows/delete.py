"""Delete one object from a pane (`ctrl+d`): a one-step plan, read against the live object."""

from __future__ import annotations

from ..config import Config
from ..facts.cluster import object_owner
from ..plans import Plan
from ..plans.delete import DeleteAnswers, DeleteFacts, delete_plan


async def plan_delete(config: Config, kind: str, namespace: str, name: str) -> Plan:
    exists, owner, uid = await object_owner(config, kind, namespace, name)
    return delete_plan(DeleteAnswers(kind, namespace, name), DeleteFacts(exists, owner, uid))
