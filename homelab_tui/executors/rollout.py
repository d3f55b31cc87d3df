"""Waiting for a Deployment to roll out, as `kubectl rollout status` does, but failing fast.

`rollout_status` is kubectl's DeploymentStatusViewer (kubectl `pkg/polymorphichelpers/
rollout_status.go`), with its messages. `stuck_pod` is what kubectl does not do: a pod of the new
revision that cannot pull its image or crash-loops will not get better by waiting, so the wait
ends at once with the pod's reason, message and last events, instead of at the progress deadline.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clients.kube import KubeClient

JsonObject = dict[str, Any]

# Waiting reasons that waiting out will not cure (kubelet's names).
STUCK_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CrashLoopBackOff",
                           "CreateContainerConfigError", "CreateContainerError", "RunContainerError"})


class RolloutFailed(Exception):
    """The rollout cannot finish; the message says why."""


@dataclass(frozen=True)
class RolloutStatus:
    message: str
    done: bool


def rollout_status(deploy: JsonObject) -> RolloutStatus:
    """Where a Deployment's rollout stands, in kubectl's words; RolloutFailed once its progress
    deadline is exceeded."""
    name, spec, status = deploy["metadata"]["name"], deploy.get("spec") or {}, deploy.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    updated, replicas = int(status.get("updatedReplicas", 0)), int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    if deploy["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return RolloutStatus("Waiting for deployment spec update to be observed...", False)
    progressing = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        raise RolloutFailed(f'deployment "{name}" exceeded its progress deadline')
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < wanted:
        return RolloutStatus(f"{waiting}{updated} out of {wanted} new replicas have been updated...", False)
    if replicas > updated:
        return RolloutStatus(f"{waiting}{replicas - updated} old replicas are pending termination...", False)
    if available < updated:
        return RolloutStatus(f"{waiting}{available} of {updated} updated replicas are available...", False)
    return RolloutStatus(f'deployment "{name}" successfully rolled out', True)


_COUNTS = re.compile(r"(\d+) (?:out )?of (\d+) (?:new|updated) replicas")


def rollout_progress(line: str) -> tuple[int, int] | None:
    """(done, total) from one of `rollout_status`'s messages, for a progress bar: the updated
    replicas, then the available ones; (1, 1) once rolled out; None for another line."""
    if line.endswith("successfully rolled out"):
        return 1, 1
    if match := _COUNTS.search(line):
        return int(match[1]), int(match[2])
    return None


def stuck_pod(pods: list[JsonObject]) -> tuple[JsonObject, str] | None:
    """The first pod with a container that waiting will not cure, and its "reason: message"."""
    for pod in pods:
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK_REASONS:
                detail = waiting["reason"] + (f": {waiting['message']}" if waiting.get("message") else "")
                last = ((container.get("lastState") or {}).get("terminated") or {})
                if last.get("exitCode") is not None:
                    detail += f" (last exit code {last['exitCode']}, restarts {container.get('restartCount', 0)})"
                return pod, f"container {container.get('name')}: {detail}"
    return None


async def _new_revision_pods(kube: KubeClient, deploy: JsonObject) -> list[JsonObject]:
    """The pods of the Deployment's newest ReplicaSet (every pod of its selector when it has no
    ReplicaSet yet), not terminating."""
    namespace = deploy["metadata"]["namespace"]
    labels = (deploy["spec"].get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    sets, _ = await kube.list_raw("ReplicaSet", namespace, label_selector=selector)
    owned = [rs for rs in sets if any(ref.get("uid") == deploy["metadata"]["uid"]
                                      for ref in rs["metadata"].get("ownerReferences") or [])]
    newest = max(owned, default=None, key=lambda rs: int(
        (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0")))
    if newest is not None and (template_hash := (newest["metadata"].get("labels") or {}).get("pod-template-hash")):
        selector += f",pod-template-hash={template_hash}"
    pods, _ = await kube.list_raw("Pod", namespace, label_selector=selector)
    return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]


async def wait_rollout(kube: KubeClient, namespace: str, name: str, output: Callable[[str], None],
                       poll: float = 0.5) -> None:
    """Return once the Deployment has rolled out, saying each new status; RolloutFailed as soon
    as it cannot (a stuck pod, with its last events; the progress deadline; the Deployment gone)."""
    last = ""
    while True:
        deploy = await kube.get("Deployment", namespace, name)
        if deploy is None:
            raise RolloutFailed(f'deployment "{name}" is gone')
        status = rollout_status(deploy)
        if status.message != last:
            output(status.message)
            last = status.message
        if status.done:
            return
        if stuck := stuck_pod(await _new_revision_pods(kube, deploy)):
            pod, detail = stuck
            lines = [f"pod {pod['metadata']['name']} {detail}"]
            for event in (await kube.events_for(namespace, "Pod", pod["metadata"]["name"]))[-5:]:
                lines.append(f"  {event.get('type', '')} {event.get('reason', '')}: {event.get('message', '')}")
            raise RolloutFailed("\n".join(lines))
        await asyncio.sleep(poll)
