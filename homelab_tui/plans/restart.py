"""Restart: a rollout restart of a workload (`r` on a Deployment row, as in k9s), or of the one that
runs a pod (`r` on a Pod row: k9s#337, instead of jumping to the owner first). As `kubectl rollout
restart` does: the pod template gets the annotation `kubectl.kubernetes.io/restartedAt`, written
under kubectl's manager `kubectl-rollout`, so that its controller rolls every pod over."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import Plan, PlanError, Step, Target
from .actions import PatchObject

RESTARTABLE = ("Deployment", "StatefulSet", "DaemonSet")  # what `kubectl rollout restart` restarts
ANNOTATION = "kubectl.kubernetes.io/restartedAt"
MANAGER = "kubectl-rollout"


@dataclass(frozen=True)
class RestartAnswers:
    kind: str  # the row's: a workload, or a Pod whose workload restarts
    namespace: str
    name: str


@dataclass(frozen=True)
class RestartFacts:
    restarted_at: str  # now, RFC 3339
    exists: bool = True  # the row's object (a workload, or a Pod)
    workload_kind: str = ""  # for a Pod: the workload that runs it ("" when none does)
    workload_name: str = ""
    controller: str = ""  # for a Pod: its own controller ("ReplicaSet web-5d9f"), to say why none restarts


def restart_plan(answers: RestartAnswers, facts: RestartFacts) -> Plan:
    kind, name, via = answers.kind, answers.name, ""
    if kind == "Pod":
        if not facts.exists:
            raise PlanError("pod", f"Pod {answers.namespace}/{answers.name} no longer exists")
        if facts.workload_kind not in RESTARTABLE:
            run_by = f"its controller is {facts.controller}" if facts.controller else "nothing controls it"
            raise PlanError("pod", f"Pod {answers.namespace}/{answers.name} has no Deployment, StatefulSet or "
                                   f"DaemonSet to restart: {run_by}")
        kind, name, via = facts.workload_kind, facts.workload_name, f" (it runs Pod {answers.name})"
    elif kind not in RESTARTABLE:
        raise PlanError("kind", f"a {kind} cannot be restarted; only a {', '.join(RESTARTABLE)}")
    shown_name = f"{answers.namespace}/{name}"
    patch = json.dumps({"spec": {"template": {"metadata": {"annotations": {ANNOTATION: facts.restarted_at}}}}},
                       separators=(",", ":"))
    return Plan(f"Restart {kind} {shown_name}", (
        Step(Target.KUBE, "", f"Restart {kind} {shown_name}{via}: its pods are replaced by a rollout, "
                              "as `kubectl rollout restart` does",
             f"kubectl patch {kind.lower()} {name} -n {answers.namespace} --type=merge -p '{patch}' "
             f"--field-manager={MANAGER}",
             PatchObject(kind, answers.namespace, name, patch, manager=MANAGER),
             noop_reason="" if facts.exists else f"{kind} {shown_name} no longer exists"),
    ))
