"""Undeploy: remove exactly what deploy made for an app, found by our labels (managed-by
homelab-tui, instance NAME), the objects that route to it first. A namespace deploy created stays:
it may hold more than the app, so the plan says how to remove it by hand."""

from __future__ import annotations

from dataclasses import dataclass

from . import Plan, PlanError, Step, Target
from .actions import DeleteObject
from .manifests import INSTANCE, MANAGED_BY

# Deleted first: what sends traffic to the app, then what runs it; every other kind after them.
_ORDER = ("Ingress", "Service", "Deployment", "StatefulSet", "DaemonSet")
# Kinds the cluster derives from ours, copying their labels: they go with what they mirror.
_DERIVED = ("Endpoints", "EndpointSlice")


@dataclass(frozen=True)
class Found:
    kind: str
    api_version: str
    namespace: str  # "" for a cluster-wide kind
    name: str
    uid: str
    owner: str = ""  # "Service web" when another object owns it: deleting that takes this too


@dataclass(frozen=True)
class UndeployAnswers:
    name: str
    namespace: str = "default"


@dataclass(frozen=True)
class UndeployFacts:
    objects: tuple[Found, ...] = ()  # labelled as the app's, in its namespace or cluster-wide


def selector(name: str) -> str:
    """The label selector of an app's objects."""
    return f"{MANAGED_BY[0]}={MANAGED_BY[1]},{INSTANCE}={name}"


def undeploy_plan(answers: UndeployAnswers, facts: UndeployFacts) -> Plan:
    found = sorted(facts.objects, key=lambda o: (_ORDER.index(o.kind) if o.kind in _ORDER else len(_ORDER),
                                                 o.kind, o.namespace, o.name))
    kept = [o for o in found if o.kind == "Namespace"]
    removed = [o for o in found if o.kind != "Namespace" and not o.owner and o.kind not in _DERIVED]
    if not removed:
        raise PlanError("name", f"nothing to undeploy: no object in {answers.namespace} has the labels "
                                f"{selector(answers.name)} (made by deploy {answers.name})")
    steps = []
    for obj in removed:
        where = f" -n {obj.namespace}" if obj.namespace else ""
        shown = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
        steps.append(Step(Target.KUBE, "", f"Delete {obj.kind} {shown}",
                          f"kubectl delete {obj.kind.lower()} {obj.name}{where}",
                          DeleteObject(obj.kind, obj.namespace, obj.name, obj.uid, api_version=obj.api_version)))
    warnings = tuple(f"namespace {ns.name} was made by deploy {answers.name} and stays: it may hold more than the "
                     f"app (kubectl delete namespace {ns.name} removes it and all in it)" for ns in kept)
    return Plan(f"Undeploy {answers.name} from {answers.namespace}", tuple(steps), warnings)
