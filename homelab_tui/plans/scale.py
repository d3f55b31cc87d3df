"""Scale: the pane action on a Deployment row (`s`, as in k9s), as a one-step plan. It writes the
scale subresource under our manager with a merge patch, never a server-side apply: an applied
"just replicas" would drop the rest of a wizard's intent (field notes §5.3/5.4)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import Plan, PlanError, Step, Target
from .actions import PatchObject

MANAGER = "homelab-tui"


@dataclass(frozen=True)
class ScaleAnswers:
    namespace: str
    name: str
    replicas: int
    kind: str = "Deployment"


@dataclass(frozen=True)
class ScaleFacts:
    exists: bool = True
    replicas: int = 0  # spec.replicas as the scale subresource reports it now


def scale_plan(answers: ScaleAnswers, facts: ScaleFacts) -> Plan:
    if answers.replicas < 0:
        raise PlanError("replicas", f"must be a whole number of 0 or more, not {answers.replicas}")
    shown_name = f"{answers.namespace}/{answers.name}"
    patch = json.dumps({"spec": {"replicas": answers.replicas}}, separators=(",", ":"))
    if not facts.exists:
        noop = f"{answers.kind} {shown_name} no longer exists"
    elif facts.replicas == answers.replicas:
        noop = f"{answers.kind} {shown_name} already has {answers.replicas} replicas"
    else:
        noop = ""
    return Plan(f"Scale {answers.kind} {shown_name} to {answers.replicas}", (
        Step(Target.KUBE, "", f"Scale {answers.kind} {shown_name} to {answers.replicas} replicas"
                              + (f" (from {facts.replicas})" if facts.exists else ""),
             f"kubectl patch {answers.kind.lower()} {answers.name} -n {answers.namespace} --subresource=scale "
             f"--type=merge -p '{patch}' --field-manager={MANAGER}",
             PatchObject(answers.kind, answers.namespace, answers.name, patch, manager=MANAGER, subresource="scale"),
             noop_reason=noop),
    ))
