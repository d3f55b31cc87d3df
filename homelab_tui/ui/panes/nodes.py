"""The Nodes pane: `kubectl get nodes -o wide`, with the pods on each node."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

from textual.binding import Binding

from ...config import Config, NodeConfig
from .. import rows
from .base import KubePane, RowSource


def ssh_argv(config: Config, node: NodeConfig) -> list[str]:
    """OpenSSH into `node` as the app's own SSH connections reach it (connect.ssh_target): its
    host and port, the config's user, identity, known_hosts and ssh config, host keys strict."""
    from ...connect import ssh_target

    target = ssh_target(config, node)
    argv = ["ssh", "-p", str(target.port), "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={target.known_hosts}", "-o", f"ConnectTimeout={round(target.connect_timeout)}"]
    if target.identity_file:
        argv += ["-i", target.identity_file]
    if not target.use_agent:
        argv += ["-o", "IdentityAgent=none"]
    if target.config_path is None:  # ssh.config_file unset: no ssh config read, as the app's own connections
        argv += ["-F", "none"]
    elif Path(target.config_path).is_file():
        argv += ["-F", target.config_path]
    if target.user:
        argv += ["-l", target.user]
    return [*argv, target.host]


class NodesPane(KubePane):
    NAME, KEY, TITLE = "nodes", "1", "Nodes"
    COMMANDS = ("node", "no")  # `:` aliases, as in k9s
    COLUMNS = rows.NODE_COLUMNS
    DEFAULT_SORT = ("NAME",)
    SOURCE = "Node"
    DEPENDS = ("Pod",)  # the PODS column
    BINDINGS = [  # this pane's own keys: see panes/base.py
        Binding("s", "ssh", "SSH", id="node_ssh", tooltip="An SSH session on the node (OpenSSH, strict host keys)"),
        Binding("c", "cordon", "Cordon", id="node_cordon", tooltip="Schedule no new pods on it"),
        Binding("u", "uncordon", "Uncordon", id="node_uncordon", tooltip="Schedule pods on it again"),
        Binding("r", "drain", "Drain", id="node_drain",  # k9s's key
                tooltip="Cordon it, then evict its pods (not its DaemonSets'), one step each"),
    ]

    def row_source(self, now: datetime | None) -> RowSource:
        nodes, styled = self.state.kube.of("Node"), self.styler()
        counts = rows.pods_per_node(self.state.kube.of("Pod"))

        def node_row(key: str) -> tuple | None:
            return styled(rows.node_row(nodes[key], counts.get(key, 0), now)) if key in nodes else None

        return nodes, node_row

    def action_cordon(self, cordon: bool = True) -> None:
        from ...flows.cordon import plan_cordon

        if (key := self.cursor_key()) is not None:
            self.app.apply_change(partial(plan_cordon, node=key, cordon=cordon), "Cordon" if cordon else "Uncordon")

    def action_uncordon(self) -> None:
        self.action_cordon(False)

    def action_drain(self) -> None:
        from ...flows.drain import plan_drain

        if (key := self.cursor_key()) is not None:
            self.app.apply_change(partial(plan_drain, node=key), "Drain")

    def action_ssh(self) -> None:
        if (key := self.cursor_key()) is None:
            return
        config = self.app.config
        node = self.state.kube.of("Node").get(key)
        address = node.internal_ip if node is not None else ""
        found = next((n for n in config.nodes if key in (n.fqdn, n.name) or (address and n.address == address)), None)
        if found is None:
            self.app.notify(f"{key} is not among the config's [[nodes]]: no SSH settings for it", severity="warning")
            return
        self.app.run_in_terminal(ssh_argv(config, found), f"open an SSH session on {found.name}")
