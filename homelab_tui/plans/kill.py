"""Kill: the pane action on a Pod row (`ctrl+k`, as in k9s), as a one-step plan: a deletion with
grace period 0, so the object goes at once, without waiting for its containers to stop
(`kubectl delete --grace-period=0 --force`). The pane asks twice before it applies (k9s kills at
once, which users asked to guard: field notes §2.6)."""

from __future__ import annotations

from dataclasses import dataclass

from . import Plan, Step, Target
from .actions import DeleteObject
from .delete import DeleteFacts


@dataclass(frozen=True)
class KillAnswers:
    namespace: str
    name: str


def kill_plan(answers: KillAnswers, facts: DeleteFacts) -> Plan:
    shown_name = f"{answers.namespace}/{answers.name}"
    description = f"Kill Pod {shown_name} at once: grace period 0, without waiting for its containers to stop"
    if facts.owner:
        description += f" (its {facts.owner} will start a replacement)"
    return Plan(f"Kill Pod {shown_name}", (
        Step(Target.KUBE, "", description,
             f"kubectl delete pod {answers.name} -n {answers.namespace} --grace-period=0 --force",
             DeleteObject("Pod", answers.namespace, answers.name, facts.uid, grace_period=0),
             noop_reason="" if facts.exists else f"Pod {shown_name} no longer exists"),
    ))
