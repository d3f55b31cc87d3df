"""Deleting from a pane is a one-step plan against the live object, applied by the engine: the pod
goes from the API, the audit log records it, and planning it again is a no-op."""

from __future__ import annotations

import json
import re

import pytest

from homelab_tui.config import load_config
from homelab_tui.executors import build_executors
from homelab_tui.flows.staged import apply_staged
from homelab_tui.flows.delete import plan_delete
from homelab_tui.plans import Staged
from homelab_tui.sim.lab import Lab


@pytest.fixture
async def lab(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


async def test_deleting_a_pod_is_an_audited_plan(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = load_config(lab.write_config(tmp_path / "lab.toml"))
    pod = next(p for p in lab.kube.list("Pod", "default") if p["metadata"]["name"].startswith("nginx"))
    name = pod["metadata"]["name"]
    plan = await plan_delete(config, "Pod", "default", name)
    [step] = plan.changes
    assert step.rendering == f"kubectl delete pod {name} -n default"
    # the sim's controller owns pods by their Deployment (a real cluster: a ReplicaSet); either way, the owner is named
    assert re.search(r"\(its (ReplicaSet|Deployment) nginx\S* will start a replacement\)$", step.description)

    executors = build_executors(config)
    try:
        [(_, result)] = await apply_staged(Staged((plan,)), executors, lambda plan: lambda event: None)
    finally:
        await executors.close()
    assert result.ok, result.error
    gone = lab.kube.get("Pod", "default", name)
    assert gone is None or gone["metadata"].get("deletionTimestamp")
    records = [json.loads(line) for line in (tmp_path / "state" / "homelab-tui" / "audit.jsonl").read_text().splitlines()]
    assert [(r["outcome"], r["rendering"]) for r in records] == [("applied", step.rendering)]

    if gone is None:
        again = await plan_delete(config, "Pod", "default", name)
        assert again.is_noop and "no longer exists" in again.steps[0].noop_reason


async def test_an_object_made_again_under_the_same_name_is_not_deleted(lab, tmp_path, monkeypatch):
    """The plan deletes the object it was made for: if another takes its name before the apply
    (a StatefulSet's pod, say), the API refuses, and the new one stays."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = load_config(lab.write_config(tmp_path / "lab.toml"))
    lab.kube.create(pod_manifest("web-0"))
    plan = await plan_delete(config, "Pod", "default", "web-0")
    lab.kube.delete("Pod", "default", "web-0", grace_period=0)
    again = lab.kube.create(pod_manifest("web-0"))
    executors = build_executors(config)
    try:
        [(_, result)] = await apply_staged(Staged((plan,)), executors, lambda plan: lambda event: None)
    finally:
        await executors.close()
    assert not result.ok and "Precondition failed: UID in precondition" in result.error
    assert lab.kube.get("Pod", "default", "web-0")["metadata"]["uid"] == again["metadata"]["uid"]


def pod_manifest(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
