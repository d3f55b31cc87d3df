"""The sim stands apart from the client it tests (pyproject.toml's import contracts keep it from
importing the client), and where both compute the same thing, a pod's STATUS, READY and RESTARTS,
their two independent versions agree: a bug in either shows up here."""

from __future__ import annotations

from typing import Any

import pytest

from homelab_tui.clients.kube import pod_status_summary
from homelab_tui.sim.kube.printing import pod_status, render_table
from homelab_tui.sim.kube.resources import resource_type

CREATED = "2025-01-01T00:00:00Z"


def pod(status: dict[str, Any], *, init: list[dict[str, Any]] | None = None, containers: int = 1,
        **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "creationTimestamp": CREATED, **metadata},
            "spec": {"containers": [{"name": f"c{i}", "image": "nginx:1.27"} for i in range(containers)],
                     "initContainers": init or []},
            "status": status}


def running(ready: bool = True, restarts: int = 0, name: str = "c0") -> dict[str, Any]:
    return {"name": name, "ready": ready, "started": True, "restartCount": restarts,
            "state": {"running": {"startedAt": CREATED}}}


def waiting(reason: str, restarts: int = 0, name: str = "c0") -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}


def terminated(reason: str = "", exit_code: int = 0, name: str = "c0") -> dict[str, Any]:
    state = {"exitCode": exit_code, **({"reason": reason} if reason else {})}
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def printed(raw: dict[str, Any]) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) of the sim's server-side Table row, as kubectl shows them."""
    cells = render_table(resource_type("Pod"), [raw], "1")["rows"][0]["cells"]
    return cells[1], cells[2], cells[3]


INIT = [{"name": "i0", "image": "busybox"}]
SHAPES = [  # (the STATUS both should print, the pod)
    ("Pending", pod({"phase": "Pending"})),
    ("ContainerCreating", pod({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]})),
    ("Running", pod({"phase": "Running", "containerStatuses": [running()]})),
    ("CrashLoopBackOff", pod({"phase": "Running", "containerStatuses": [
        running(name="c0"), waiting("CrashLoopBackOff", 7, name="c1")]}, containers=2)),
    ("Terminating", pod({"phase": "Running", "containerStatuses": [running()]}, deletionTimestamp=CREATED)),
    ("Completed", pod({"phase": "Succeeded", "containerStatuses": [terminated("Completed")]})),
    ("Error", pod({"phase": "Failed", "containerStatuses": [terminated("Error", 1)]})),
    ("ExitCode:2", pod({"phase": "Failed", "containerStatuses": [terminated(exit_code=2)]})),
    ("Init:0/1", pod({"phase": "Pending", "initContainerStatuses": [waiting("PodInitializing", name="i0")],
                      "containerStatuses": [waiting("PodInitializing")]}, init=INIT)),
    ("Init:CrashLoopBackOff", pod({"phase": "Pending", "initContainerStatuses": [
        waiting("CrashLoopBackOff", 3, name="i0")]}, init=INIT)),
    ("NotReady", pod({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                      "containerStatuses": [running(name="c0"), terminated("Completed", name="c1")]}, containers=2)),
]


@pytest.mark.parametrize(("expected", "raw"), SHAPES, ids=[expected for expected, _ in SHAPES])
def test_sim_prints_pods_as_the_client_summarises_them(expected: str, raw: dict[str, Any]) -> None:
    status, ready, total, restarts = pod_status_summary(raw)
    assert status == expected
    assert printed(raw) == (f"{ready}/{total}", status, str(restarts))


@pytest.mark.parametrize(("raw", "expected"), [
    # A sidecar (an init container that keeps running) counts among the pod's containers.
    (pod({"phase": "Running", "initContainerStatuses": [running(name="i0")], "containerStatuses": [running()],
          "conditions": [{"type": "Initialized", "status": "True"}]},
         init=[{"name": "i0", "image": "envoy", "restartPolicy": "Always"}]), ("2/2", "Running", "0")),
    # A pod that has finished keeps its final status while it is being deleted.
    (pod({"phase": "Succeeded", "containerStatuses": [terminated("Completed")]}, deletionTimestamp=CREATED),
     ("0/1", "Completed", "0")),
    (pod({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                               "reason": "SchedulingGated"}]}), ("0/1", "SchedulingGated", "0")),
])
def test_sim_prints_what_the_api_server_prints(raw: dict[str, Any], expected: tuple[str, str, str]) -> None:
    """Shapes where printPod goes further than the client's summary; the sim follows printPod."""
    assert printed(raw) == expected
    assert pod_status(raw)[0] == expected[1]
