"""The header: which cluster, context, namespace, filter and router the panes show, and one health
mark per component (the Kubernetes API, the router, DNS, each node), with the reason of any that
is not connected."""

from __future__ import annotations

import re

from textual.widgets import Static

from ..config import Config
from ..state import Health, LabState
from . import rows

MARKS = {Health.CONNECTED: "[green]●[/]", Health.CONNECTING: "[yellow]○[/]", Health.RETRYING: "[yellow]●[/]",
         Health.ERROR: "[red]●[/]"}


class StatusHeader(Static):
    def show(self, config: Config, state: LabState, namespace: str, pattern: re.Pattern[str] | None) -> None:
        about = [f"cluster [b]{config.cluster.name}[/]"]
        if state.kube_context:
            about.append(f"context [b]{state.kube_context}[/]")
        about.append(f"namespace [b]{namespace or 'all'}[/]")
        if pattern is not None:
            about.append(f"filter [b]/{pattern.pattern}/[/]")
        if (router := state.router_identity) is not None:  # last: a narrow screen cuts it short
            about.append(f"router [b]{router.identity}[/] (RouterOS {router.version})")
        health = []
        names = ["kubernetes"] + (["router"] if config.router else []) + (["dns"] if config.dns else [])
        for name in names:
            status = state.components.get(name)
            text = f"{MARKS[status.health]} {name}"
            if status.health is not Health.CONNECTED:
                text += f" {status.health.value}" + (f": {status.reason}" if status.reason else "")
            health.append(text)
        for node in sorted(state.kube.of("Node").values(), key=lambda n: rows.natural_key(n.name)):
            short = node.name.split(".")[0]
            health.append(f"[green]●[/] {short}" if node.status == "Ready" else f"[red]●[/] {short} {node.status}")
        self.update("  ".join(about) + "\n" + "  ".join(health))
