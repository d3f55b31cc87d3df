"""Join fan-out: ten bare sim nodes joined at once, against one node joined alone, in the same run.

Each sim node's k3s install takes about `INSTALL_DELAY` seconds (and each needs the memory
cgroup fix and a reboot first, as a fresh Raspberry Pi does). The figure is wall time of the
whole `join` twin, facts to Ready, so SSH set-up, the concurrent plans and the Ready waits count.

The lab runs in its own process (benchmarks.join_lab), as the sim API of the other benchmarks
does: the simulated nodes' side of every SSH session then neither takes turns with the app on
its event loop nor adds its garbage collections to the app's; in one process, ten nodes' share
would count against the ten-node join and hardly at all against the single one. Both joins run
in this process, after a bootstrap of the server (which warms up the same code paths), from a
freshly collected heap, with the audit log in the work directory. There are `ROUNDS` rounds,
each on a fresh lab (a node joins once); the figures are medians.
"""

from __future__ import annotations

import gc
import io
import os
import time
from pathlib import Path
from unittest.mock import patch

import tomli_w

from homelab_tui.cli import build_parser
from homelab_tui.config import load_config
from homelab_tui.cli.wizard import run_wizard

from .common import Child, Summary, Target, median, say

INSTALL_DELAY = 1.0
FANOUT = 10
ROUNDS = 3
FANOUT_TARGET = Target("ratio", 1.3, lambda r: f"{r:.2f}x", "<=")


async def run_twin(config, out: io.StringIO, *argv: str) -> int:
    """`homelab-tui ARGV --yes`, as the CLI runs it."""
    args = build_parser().parse_args([*argv, "--yes"])
    return await run_wizard(args.wizard, config, args, out)


async def join_round(workdir: Path) -> dict[str, float]:
    """On a fresh lab: bootstrap master1, then time `join node1`, then `join node2 .. node11`."""
    workdir.mkdir(parents=True)
    lab = await Child.spawn("join_lab", "--workdir", str(workdir / "lab"), "--agents", str(FANOUT + 1),
                            "--install-delay", str(INSTALL_DELAY), log=workdir / "lab.log")
    try:
        settings = (await lab.expect("ready", timeout=60))["config"]
        settings["cluster"]["kubeconfig"] = str(workdir / "kubeconfig")
        path = workdir / "join.toml"
        path.write_text(tomli_w.dumps(settings))
        config = load_config(path)
        out = io.StringIO()
        if await run_twin(config, out, "bootstrap", "--node", "master1") != 0:
            raise RuntimeError(f"bootstrap failed:\n{out.getvalue()}")
        agents = [node["name"] for node in settings["nodes"] if node["role"] == "agent"]
        timings = {}
        for label, names in (("one", agents[:1]), ("many", agents[1:])):
            gc.collect()  # each join starts from the same, collected heap
            started = time.monotonic()
            code = await run_twin(config, out, "join", *(f"--node={name}" for name in names))
            timings[label] = time.monotonic() - started
            if code != 0:
                raise RuntimeError(f"join {names} failed:\n{out.getvalue()}")
        return timings
    finally:
        await lab.close()


async def bench_join_fanout(summary: Summary, workdir: Path) -> None:
    with patch.dict(os.environ, XDG_STATE_HOME=str(workdir / "join-state")):  # the audit log: not the user's
        rounds = [await join_round(workdir / f"join-{index}") for index in range(ROUNDS)]
    one, many = median([r["one"] for r in rounds]), median([r["many"] for r in rounds])
    each = ", ".join(f"{r['one']:.2f}/{r['many']:.2f}" for r in rounds)
    say(f"join fan-out | 1 node {one:.2f} s | {FANOUT} nodes at once {many:.2f} s (+{many - one:.2f} s) | "
        f"ratio {many / one:.2f}x (install ~{INSTALL_DELAY:g} s per node; medians of {ROUNDS} rounds: {each}) "
        f"{summary.check(f'join {FANOUT} nodes / 1 node', many / one, FANOUT_TARGET)}")
