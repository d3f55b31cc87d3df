"""The join benchmark's lab (`fresh` preset: bare nodes) in its own process, on 127.0.0.1.

    python -m benchmarks.join_lab --workdir DIR --agents N --install-delay S

Reports `BENCH {"event": "ready", "config": {...}}` with the config that points at the lab (as
`Lab.config_dict()` gives it) once every component serves; {"cmd": "quit"} or the end of input
stops it. The simulated nodes' CPU (the server side of every SSH handshake, channel and command,
and the Kubernetes API sim) then runs beside the joining app, as a real node's does, instead of
taking turns with it on one event loop: in one process, ten nodes' server-side work would count
against the ten-node join and barely at all against the single one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
from pathlib import Path

from homelab_tui.sim.lab import Lab, LabNode

from .common import Reports


def lab_nodes(agents: int) -> tuple[LabNode, ...]:
    server = LabNode("master1", "master1.kube.local", "192.168.40.102", "server")
    return (server, *(LabNode(f"node{i}", f"node{i}.kube.local", f"192.168.40.{110 + i}", "agent")
                      for i in range(1, agents + 1)))


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.join_lab", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--install-delay", type=float, required=True)
    args = parser.parse_args()
    reports = Reports()
    async with Lab("fresh", Path(args.workdir), nodes=lab_nodes(args.agents), install_delay=args.install_delay) as lab:
        # The imports and the lab's set-up stay for the whole run: left out of every later
        # collection, they cannot make a random one of them (70 ms and more) land in a join.
        gc.collect()
        gc.freeze()
        reports.send("ready", config=lab.config_dict())
        while (command := await reports.command())["cmd"] != "quit":
            reports.send("error", message=f"unknown command {command!r}")


if __name__ == "__main__":
    asyncio.run(main())
