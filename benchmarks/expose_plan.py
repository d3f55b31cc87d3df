"""Expose against a slow router: the plan and the apply of `expose` (PCC, no DNS) over 2 and over 8
nodes, with the simulated RouterOS answering each API sentence after 50 ms, as a router across a
busy link might. The figures are wall times, beside the router round trips they took times 50 ms:
what bounds an expose is the round trips, not our CPU.

The lab runs in this process (the router's delay is a sleep, so it costs no CPU here), on the
`running` preset with its hand-made PCC rules removed, grown to the nodes needed.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from homelab_tui.cli import build_parser
from homelab_tui.cli.wizard import run_wizard
from homelab_tui.config import load_config
from homelab_tui.sim.lab import REFERENCE_NODES, Lab, LabNode

from .common import Summary, Target, say

ROUTER_DELAY = 0.05
SIZES = (2, 8)
OUR_SHARE = Target("share of wall time not spent waiting for the router", 0.2, lambda r: f"{r:.0%}")


def lab_nodes(agents: int) -> tuple[LabNode, ...]:
    server = REFERENCE_NODES[0]
    return (server, *(LabNode(f"node{i}", f"node{i}.kube.local", f"192.168.40.{102 + i}", "agent")
                      for i in range(1, agents + 1)))


async def timed_expose(workdir: Path, agents: int) -> dict[str, float]:
    async with Lab("running", workdir, nodes=lab_nodes(agents)) as lab:
        for menu in ("/ip/firewall/nat", "/ip/firewall/mangle"):
            for rule in lab.router.rules(menu):
                if "Load balancer" in rule.get("comment", ""):
                    lab.router._remove(menu, [lab.router._find(menu, rule[".id"])])
        config = load_config(lab.write_config(workdir / "lab.toml"))
        nodes = [arg for i in range(1, agents + 1) for arg in ("--node", f"node{i}")]
        argv = ["expose", "--service", "default/nginx", *nodes, "--dns", "none"]
        lab.router.faults.reply_delay = ROUTER_DELAY
        figures = {}
        for mode in ("--dry-run", "--yes"):
            args = build_parser().parse_args([*argv, mode])
            lab.router.faults.commands_seen, lab.router.faults.drop_after_commands = 0, 10**9  # count only
            started = time.monotonic()
            code = await run_wizard(args.wizard, config, args, io.StringIO())
            figures[mode] = time.monotonic() - started
            figures[mode + " round trips"] = lab.router.faults.commands_seen
            assert code == 0, f"expose {mode} over {agents} nodes failed"
        lab.router.faults.drop_after_commands = None
        return figures


async def bench_expose(summary: Summary, workdir: Path) -> None:
    say(f"\nexpose against a router answering after {ROUTER_DELAY * 1000:.0f} ms per call (PCC, no DNS)")
    for agents in SIZES:
        figures = await timed_expose(workdir / f"expose-{agents}", agents)
        plan, apply = figures["--dry-run"], figures["--yes"] - figures["--dry-run"]
        trips = figures["--yes round trips"]
        ours = 1 - trips * ROUTER_DELAY / figures["--yes"]
        say(f"expose {agents} nodes | plan {plan:.2f} s ({figures['--dry-run round trips']:.0f} round trips) | "
            f"plan and apply {figures['--yes']:.2f} s ({trips:.0f} round trips = {trips * ROUTER_DELAY:.2f} s of "
            f"waiting) | apply alone ~{apply:.2f} s "
            f"{summary.check(f'expose {agents} nodes: time not waiting for the router', ours, OUR_SHARE)}")
