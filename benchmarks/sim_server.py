"""The sim API in its own process, for the benchmarks: seeded, listening on 127.0.0.1, and able to
churn pods at a steady rate on command.

    python -m benchmarks.sim_server --pods 10000 --nodes 50 --kubeconfig PATH \
        [--churn-rate 200 --churn-seconds 30]

Reports `BENCH {"event": "ready", ...}` once serving. Commands, one JSON line each on stdin:
{"cmd": "churn"} changes --churn-rate pods a second for --churn-seconds, then reports
"churn-done" with the resourceVersion, send time (time.monotonic, the same clock in every
process on Linux) and pod of each change; {"cmd": "quit"} or end of input stops the server.

Each churn event restarts one pod's container: RESTARTS goes up by one and the pod flips between
Running (1/1) and CrashLoopBackOff (0/1), so every event changes cells the Pods pane shows.
Pods are picked at random (fixed seed) from all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from homelab_tui.sim.kube_api import KubeApiSim

from .common import Reports

# The sim's controller re-reconciles every object (~30 ms at 10k pods) after each change. Nothing
# here needs it (seeded pods are created Running), and at 200 changes/s it would keep this load
# generator busy and send the events in bunches, so it is parked for the run.
CONTROLLER_DELAY = 24 * 3600.0

Command = dict[str, Any]  # one JSON line from the parent, {"cmd": ..., ...}


def churned_status(container: dict[str, Any]) -> dict[str, Any]:
    """The pod status after one more restart of `container` (odd restarts: crash-looping)."""
    restarts = container.get("restartCount", 0) + 1
    crashing = restarts % 2 == 1
    state = ({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}}
             if crashing else {"running": {"startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}})
    return {"containerStatuses": [{**container, "restartCount": restarts, "ready": not crashing,
                                   "started": not crashing, "state": state}]}


async def churn(sim: KubeApiSim, rate: float, seconds: float) -> dict[str, Any]:
    """Change `rate` pods a second, on a fixed schedule (late ticks catch up at once)."""
    pods = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in sim.list("Pod")]
    pick = random.Random(1)
    total = round(rate * seconds)
    sent: list[tuple[int, float, str]] = []
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index in range(total):
        due = started + index / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        lags.append(loop.time() - due)
        namespace, name = pods[pick.randrange(len(pods))]
        container = sim.get("Pod", namespace, name)["status"]["containerStatuses"][0]
        updated = sim.update_status("Pod", namespace, name, churned_status(container))
        sent.append((int(updated["metadata"]["resourceVersion"]), time.monotonic(), f"{namespace}/{name}"))
    elapsed = loop.time() - started
    await asyncio.sleep(0.5)  # let the watch handlers write the last events out
    return {"sent": sent, "seconds": elapsed, "rate": total / elapsed if elapsed else 0.0,
            "max_lag": max(lags, default=0.0), "pods": len(pods)}


async def answer_commands(reports: Reports, handlers: dict[str, Callable[[Command], Awaitable[None]]]) -> None:
    """Run each command's handler (by its "cmd") until "quit" or end of input; an unknown command
    is reported as an error."""
    while (command := await reports.command())["cmd"] != "quit":
        if handler := handlers.get(command["cmd"]):
            await handler(command)
        else:
            reports.send("error", message=f"unknown command {command!r}")


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_server", description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, required=True)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for the server")
    parser.add_argument("--churn-rate", type=float, default=200.0, help="pod changes per second")
    parser.add_argument("--churn-seconds", type=float, default=30.0)
    args = parser.parse_args()
    reports = Reports()
    sim = KubeApiSim(token="bench-token", controller_delay=CONTROLLER_DELAY)
    sim.seed_pods(args.pods, args.nodes)

    async def churn_and_report(_command: Command) -> None:
        reports.send("churn-done", **await churn(sim, args.churn_rate, args.churn_seconds))

    async with sim:  # 127.0.0.1 only
        sim.write_kubeconfig(args.kubeconfig)
        reports.send("ready", url=sim.url, pods=args.pods, nodes=args.nodes)
        await answer_commands(reports, {"churn": churn_and_report})


if __name__ == "__main__":
    asyncio.run(main())
