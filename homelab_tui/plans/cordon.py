"""Cordon and uncordon: the pane actions on a Node row (`c` and `u`), as a one-step plan. Like
`kubectl cordon`, a merge patch of `spec.unschedulable` (under our manager); a node already so is
a no-op with its reason. Drain (plans/drain.py) starts with the same step."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import Plan, Step, Target
from .actions import PatchObject

MANAGER = "homelab-tui"


@dataclass(frozen=True)
class CordonAnswers:
    node: str
    cordon: bool = True  # False: uncordon


@dataclass(frozen=True)
class CordonFacts:
    exists: bool = True
    unschedulable: bool = False  # spec.unschedulable as read


def cordon_step(node: str, cordon: bool, *, exists: bool, unschedulable: bool) -> Step:
    """Mark `node` unschedulable (cordon) or schedulable again; a no-op when it already is."""
    verb = "cordon" if cordon else "uncordon"
    if not exists:
        noop = f"Node {node} no longer exists"
    elif unschedulable == cordon:
        noop = f"{node} is already {'cordoned' if cordon else 'schedulable'}"
    else:
        noop = ""
    what = "no new pods are scheduled on it" if cordon else "pods may be scheduled on it again"
    return Step(Target.KUBE, "", f"{verb.capitalize()} {node}: {what}", f"kubectl {verb} {node}",
                PatchObject("Node", "", node, json.dumps({"spec": {"unschedulable": cordon}}, separators=(",", ":")),
                            manager=MANAGER),
                noop_reason=noop)


def cordon_plan(answers: CordonAnswers, facts: CordonFacts) -> Plan:
    verb = "Cordon" if answers.cordon else "Uncordon"
    return Plan(f"{verb} {answers.node}", (
        cordon_step(answers.node, answers.cordon, exists=facts.exists, unschedulable=facts.unschedulable),))
