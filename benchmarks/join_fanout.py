"""Join fan-out: ten bare sim nodes joined at once, against one node joined alone, in the same run.

Each sim node's k3s install takes about `INSTALL_DELAY` seconds (and each needs the memory
cgroup fix and a reboot first, as a fresh Raspberry Pi does). The figure is wall time of the
whole `join` twin, facts to Ready, so SSH set-up, the concurrent plans and the Ready waits count.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import tomli_w

from homelab_tui.cli import build_parser
from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab, LabNode
from homelab_tui.twins import run_bootstrap, run_join

from .common import Summary, Target, say

INSTALL_DELAY = 1.0
FANOUT = 10
FANOUT_TARGET = Target("ratio", 1.3, lambda r: f"{r:.2f}x", "<=")


def lab_nodes(count: int) -> tuple[LabNode, ...]:
    server = LabNode("master1", "master1.kube.local", "192.168.40.102", "server")
    return (server, *(LabNode(f"node{i}", f"node{i}.kube.local", f"192.168.40.{110 + i}", "agent")
                      for i in range(1, count + 1)))


def twin_args(*argv: str) -> argparse.Namespace:
    """The arguments the CLI would hand the twin for `homelab-tui ARGV --yes`."""
    return build_parser().parse_args([*argv, "--yes"])


async def bench_join_fanout(summary: Summary, workdir: Path) -> None:
    nodes = lab_nodes(FANOUT + 1)
    async with Lab("fresh", workdir / "join-lab", nodes=nodes, install_delay=INSTALL_DELAY) as lab:
        settings = lab.config_dict()
        settings["cluster"]["kubeconfig"] = str(workdir / "join-kubeconfig")
        path = workdir / "join.toml"
        path.write_text(tomli_w.dumps(settings))
        config = load_config(path)
        out = io.StringIO()
        if await run_bootstrap(config, twin_args("bootstrap", "--node", "master1"), out) != 0:
            raise RuntimeError(f"bootstrap failed:\n{out.getvalue()}")
        timings = {}
        for label, names in (("1 node", ["node1"]), (f"{FANOUT} nodes", [n.name for n in nodes[2:]])):
            started = time.monotonic()
            code = await run_join(config, twin_args("join", *(f"--node={name}" for name in names)), out)
            timings[label] = time.monotonic() - started
            if code != 0:
                raise RuntimeError(f"join {names} failed:\n{out.getvalue()}")
    one, many = timings["1 node"], timings[f"{FANOUT} nodes"]
    say(f"join fan-out | 1 node {one:.2f} s | {FANOUT} nodes at once {many:.2f} s | ratio {many / one:.2f}x "
        f"(install ~{INSTALL_DELAY:g} s per node) {summary.check(f'join {FANOUT} nodes / 1 node', many / one, FANOUT_TARGET)}")
