"""Drain: the pane action on a Node row, as `kubectl drain --ignore-daemonsets` does: cordon the
node, then evict each of its pods through the Eviction API (which honours PodDisruptionBudgets),
one step per pod so that the apply shows its progress. A DaemonSet's pod would only be started
again on the node, and a mirror pod is the kubelet's own (a static pod's shadow): both stay, listed
as no-op steps with that reason."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import Plan, Step, Target
from .actions import EvictPod
from .cordon import cordon_step

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"  # the kubelet marks a static pod's API object so


@dataclass(frozen=True)
class DrainAnswers:
    node: str


@dataclass(frozen=True)
class NodePod:
    namespace: str
    name: str
    controller: str = ""  # "ReplicaSet web-5d9f", "DaemonSet kube-proxy"; "" for a bare pod
    mirror: bool = False


@dataclass(frozen=True)
class DrainFacts:
    exists: bool = True
    unschedulable: bool = False
    pods: tuple[NodePod, ...] = ()  # the pods bound to the node, in the order they are evicted


def _eviction_step(pod: NodePod) -> Step:
    shown_name = f"{pod.namespace}/{pod.name}"
    if pod.mirror:
        noop = "a mirror pod: the kubelet runs it from a static manifest on the node"
    elif pod.controller.startswith("DaemonSet "):
        noop = f"run by {pod.controller}, which would start it again on this node"
    else:
        noop = ""
    if noop:
        description = f"Leave Pod {shown_name} on the node"
    elif pod.controller:
        description = f"Evict Pod {shown_name} (its {pod.controller} starts a replacement elsewhere)"
    else:
        description = f"Evict Pod {shown_name} (no controller: nothing starts it again)"
    body = json.dumps({"apiVersion": "policy/v1", "kind": "Eviction",
                       "metadata": {"name": pod.name, "namespace": pod.namespace}}, separators=(",", ":"))
    return Step(Target.KUBE, "", description,
                f"echo '{body}' | kubectl create --raw /api/v1/namespaces/{pod.namespace}/pods/{pod.name}/eviction -f -",
                EvictPod(pod.namespace, pod.name), noop_reason=noop)


def drain_plan(answers: DrainAnswers, facts: DrainFacts) -> Plan:
    cordon = cordon_step(answers.node, True, exists=facts.exists, unschedulable=facts.unschedulable)
    return Plan(f"Drain {answers.node}", (cordon, *map(_eviction_step, facts.pods if facts.exists else ())))
