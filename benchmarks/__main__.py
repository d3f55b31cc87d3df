"""`make bench`: list 5,000 and 10,000 pods over 50 nodes from the sim API, our client vs kubectl.

Both read the same server in the same run; the figure is the median of several runs, and the
ratio is ours / kubectl's. Our side is `KubeClient.list_pods()` (HTTP list + conversion to
models); kubectl's is `kubectl get pods -A` (HTTP list + table rendering), run as a process.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from homelab_tui.clients.kube import KubeClient
from homelab_tui.sim.kube_api import KubeApiSim

RUNS = 5


async def _kubectl_seconds(kubeconfig: Path) -> tuple[float, int]:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "get", "pods", "-A", "--no-headers", env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl failed: {err.decode().strip()}")
    elapsed = time.perf_counter() - started
    return elapsed, len(out.splitlines())


async def _client_seconds(kubeconfig: Path) -> tuple[float, int]:
    started = time.perf_counter()
    async with KubeClient(kubeconfig) as kube:
        pods = await kube.list_pods()
    return time.perf_counter() - started, len(pods)


async def bench_list(pod_count: int, workdir: Path) -> None:
    sim = KubeApiSim(token="bench-token")
    sim.seed_pods(pod_count, 50)
    await sim.start()
    try:
        kubeconfig = sim.write_kubeconfig(workdir / f"kubeconfig-{pod_count}")
        ours, theirs = [], []
        for _ in range(RUNS):
            seconds, rows = await _client_seconds(kubeconfig)
            assert rows == pod_count, rows
            ours.append(seconds)
            seconds, rows = await _kubectl_seconds(kubeconfig)
            assert rows == pod_count, rows
            theirs.append(seconds)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"list {pod_count:>6} pods | homelab-tui client {a * 1000:7.0f} ms | kubectl get pods -A "
              f"{b * 1000:7.0f} ms | ratio {a / b:4.2f}x  (median of {RUNS})")
    finally:
        await sim.stop()


async def main() -> int:
    if shutil.which("kubectl") is None:
        print("kubectl is not installed; nothing to compare against", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for count in (5_000, 10_000):
            await bench_list(count, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
