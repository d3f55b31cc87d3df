"""One cluster for everything: with `cluster.context` unset and a kubeconfig whose current context
is another cluster, the panes, `check` and the wizards all use the context named after the
configured cluster (the one bootstrap merges), never the current one."""

from __future__ import annotations

import asyncio
import io

import pytest
import yaml

from homelab_tui.cli.check import run_check
from homelab_tui.config import load_config
from homelab_tui.sim.lab import CLUSTER_NAME, Lab


@pytest.fixture
async def lab(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


@pytest.fixture
def config(lab, tmp_path):
    """The lab's config without `cluster.context`, and its kubeconfig's current context set to
    another cluster that nothing answers for."""
    kubeconfig = yaml.safe_load(lab.kubeconfig_path.read_text())
    kubeconfig["clusters"].append({"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:9"}})
    kubeconfig["users"].append({"name": "elsewhere", "user": {"token": "x"}})
    kubeconfig["contexts"].append({"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "elsewhere"}})
    kubeconfig["current-context"] = "elsewhere"
    lab.kubeconfig_path.write_text(yaml.safe_dump(kubeconfig))
    path = lab.write_config(tmp_path / "lab.toml")
    path.write_text(path.read_text().replace(f'context = "{CLUSTER_NAME}"\n', ""))
    config = load_config(path)
    assert config.cluster.context is None
    return config


async def test_check_uses_the_configured_cluster(config):
    out = io.StringIO()
    await run_check(config, timeout=5, out=out)
    kubernetes = next(line for line in out.getvalue().splitlines() if "kubernetes" in line)
    assert kubernetes.startswith("OK") and f"context {CLUSTER_NAME}" in kubernetes, out.getvalue()


async def test_wizards_use_the_configured_cluster(config):
    from homelab_tui.engine import apply_plan
    from homelab_tui.executors import KubeExecutor
    from homelab_tui.facts.cluster import cluster_nodes
    from homelab_tui.plans import Plan, Step, Target
    from homelab_tui.plans.actions import WaitNodeReady

    assert {node.name for node in await cluster_nodes(config)} == {
        "master1.kube.local", "node1.kube.local", "node2.kube.local"}
    wait = Step(Target.KUBE, "", "wait", "kubectl wait", WaitNodeReady("node1.kube.local", timeout=10))
    result = await apply_plan(Plan("wait", (wait,)), {Target.KUBE: KubeExecutor(config)})
    assert result.ok, result.error


async def test_panes_use_the_configured_cluster(config):
    from homelab_tui.ui.app import HomelabApp

    app = HomelabApp(config, clock=lambda: None)
    async with app.run_test(size=(140, 36)) as pilot:
        async with asyncio.timeout(10):
            while app.table("nodes").row_count < 3:
                await pilot.pause(0.05)
        assert app.kube_context == CLUSTER_NAME
