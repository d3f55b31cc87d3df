"""The sim API with one Running pod whose container prints numbered lines on demand, in its own
process (127.0.0.1), for the log benchmark (benchmarks/log_follow.py).

    python -m benchmarks.log_sim --kubeconfig PATH

Reports "ready" (the pod's namespace and name); then on `emit` (rate, seconds) makes the container
print `line 00000001 from <pod>/<container>` ... at `rate` lines/s for `seconds`, and reports
"emitted" with how many lines it wrote and when it ended (time.monotonic).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from homelab_tui.sim.kube_api import KubeApiSim

from .common import Reports
from .sim_server import Command, answer_commands


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.log_sim", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for the server")
    args = parser.parse_args()
    reports = Reports()
    sim = KubeApiSim(token="bench-token", controller_delay=0.0)
    sim.seed_pods(1, 1, namespace_count=1, prefix="logs")
    [pod] = sim.list("Pod")
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]

    async def emit(command: Command) -> None:
        started = time.monotonic()
        written = await sim.write_pod_logs(namespace, name, command["rate"], command["seconds"])
        reports.send("emitted", lines=written, started=started, ended=time.monotonic())

    async with sim:  # 127.0.0.1 only
        sim.write_kubeconfig(args.kubeconfig)
        reports.send("ready", namespace=namespace, pod=name)
        await answer_commands(reports, {"emit": emit})


if __name__ == "__main__":
    asyncio.run(main())
