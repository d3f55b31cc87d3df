"""Pure conversions of homelab_tui.clients.kube: kubectl's STATUS column, apply's comparison."""

from __future__ import annotations

from typing import Any

import pytest

from homelab_tui.clients.kube import kind_info, pod_from_raw, pod_status_summary


def pod(status: dict[str, Any], init: int = 0, containers: int = 1, **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", **metadata},
            "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)],
                     "initContainers": [{"name": f"i{i}"} for i in range(init)]},
            "status": status}


def running(ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return {"ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}


def waiting(reason: str, restarts: int = 0) -> dict[str, Any]:
    return {"ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}


def terminated(reason: str = "", exit_code: int = 0, signal: int = 0) -> dict[str, Any]:
    state = {"exitCode": exit_code, **({"reason": reason} if reason else {}), **({"signal": signal} if signal else {})}
    return {"ready": False, "restartCount": 0, "state": {"terminated": state}}


@pytest.mark.parametrize(("raw", "expected"), [
    (pod({"phase": "Pending"}), ("Pending", 0, 1, 0)),
    (pod({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]}), ("ContainerCreating", 0, 1, 0)),
    (pod({"phase": "Running", "containerStatuses": [running()]}), ("Running", 1, 1, 0)),
    (pod({"phase": "Running", "containerStatuses": [running(), waiting("CrashLoopBackOff", 7)]}, containers=2),
     ("CrashLoopBackOff", 1, 2, 7)),
    (pod({"phase": "Succeeded", "containerStatuses": [terminated("Completed")]}), ("Completed", 0, 1, 0)),
    (pod({"phase": "Failed", "containerStatuses": [terminated(exit_code=2)]}), ("ExitCode:2", 0, 1, 0)),
    (pod({"phase": "Failed", "containerStatuses": [terminated(exit_code=137, signal=9)]}), ("Signal:9", 0, 1, 0)),
    (pod({"phase": "Running", "containerStatuses": [running()]}, deletionTimestamp="2025-01-01T00:00:00Z"),
     ("Terminating", 1, 1, 0)),
    (pod({"phase": "Pending", "initContainerStatuses": [waiting("PodInitializing")]}, init=1), ("Init:0/1", 0, 1, 0)),
    (pod({"phase": "Pending", "initContainerStatuses": [terminated(exit_code=0), waiting("CrashLoopBackOff", 3)]},
         init=2), ("Init:CrashLoopBackOff", 0, 1, 3)),
    (pod({"phase": "Running", "reason": "Evicted"}), ("Evicted", 0, 1, 0)),
    (pod({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
          "containerStatuses": [running(), terminated("Completed")]}, containers=2), ("NotReady", 1, 2, 0)),
])
def test_pod_status_matches_kubectl(raw: dict[str, Any], expected: tuple[str, int, int, int]) -> None:
    assert pod_status_summary(raw) == expected
    converted = pod_from_raw(raw)
    assert (converted.status, converted.ready_containers, converted.total_containers, converted.restarts) == expected


def test_kind_info_paths() -> None:
    assert kind_info("Deployment").path("default", "web") == "/apis/apps/v1/namespaces/default/deployments/web"
    assert kind_info("Node").path("ignored", "n1") == "/api/v1/nodes/n1"
    assert kind_info("IPAddressPool").path() == "/apis/metallb.io/v1beta1/ipaddresspools"
    assert kind_info("NetworkPolicy", "networking.k8s.io/v1").plural == "networkpolicies"
    assert kind_info("IngressClass", "networking.k8s.io/v1").plural == "ingressclasses"
