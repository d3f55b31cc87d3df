"""Delete: the pane action on any object row (`ctrl+d`, as in k9s), as a one-step plan, so that it
is confirmed, audited and refused under --read-only like every other change."""

from __future__ import annotations

from dataclasses import dataclass

from . import Plan, Step, Target
from .actions import DeleteObject


@dataclass(frozen=True)
class DeleteAnswers:
    kind: str
    namespace: str  # "" for a cluster-wide kind (a Node)
    name: str


@dataclass(frozen=True)
class DeleteFacts:
    exists: bool = True
    owner: str = ""  # "ReplicaSet web-5d9f" when a controller owns the object and will replace it
    uid: str = ""  # the object's, as read: the deletion is of that object only


def delete_plan(answers: DeleteAnswers, facts: DeleteFacts) -> Plan:
    where = f" -n {answers.namespace}" if answers.namespace else ""
    shown_name = f"{answers.namespace}/{answers.name}" if answers.namespace else answers.name
    description = f"Delete {answers.kind} {shown_name}"
    if facts.owner:
        description += f" (its {facts.owner} will start a replacement)"
    return Plan(f"Delete {answers.kind} {shown_name}", (
        Step(Target.KUBE, "", description, f"kubectl delete {answers.kind.lower()} {answers.name}{where}",
             DeleteObject(answers.kind, answers.namespace, answers.name, facts.uid),
             noop_reason="" if facts.exists else f"{answers.kind} {shown_name} no longer exists"),
    ))
