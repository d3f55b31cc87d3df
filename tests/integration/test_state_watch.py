"""A real watch from the sim API into KubeState: changes arrive by key, a 410 re-list adds no duplicates."""

from __future__ import annotations

import asyncio

from homelab_tui.clients.kube import KubeClient
from homelab_tui.sim.lab import Lab
from homelab_tui.state import KubeState


async def _until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_watch_feeds_state_and_survives_a_410(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        state = KubeState()
        relists = 0
        async with KubeClient(lab.kubeconfig_path, retry_base=0.05, retry_cap=0.2) as kube:

            async def pump() -> None:
                nonlocal relists
                async for event in kube.watch("Pod"):
                    relists += event.type.value == "RELISTED"
                    state.apply(event)

            task = asyncio.create_task(pump())
            try:
                await _until(lambda: len(state.of("Pod")) == len(lab.kube.list("Pod")) and relists == 1)
                lab.kube.create({"apiVersion": "v1", "kind": "Pod",
                                 "metadata": {"name": "debug", "namespace": "default"},
                                 "spec": {"containers": [{"name": "sh", "image": "busybox"}]}})
                await _until(lambda: "default/debug" in state.of("Pod"))
                lab.kube.force_compact()
                await _until(lambda: relists == 2)
                lab.kube.delete("Pod", "default", "debug")
                await _until(lambda: "default/debug" not in state.of("Pod"))
                api_keys = sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in lab.kube.list("Pod"))
                await _until(lambda: sorted(state.of("Pod")) == api_keys)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
