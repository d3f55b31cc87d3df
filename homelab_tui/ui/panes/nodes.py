"""The Nodes pane: `kubectl get nodes -o wide`, with the pods on each node."""

from __future__ import annotations

from datetime import datetime

from .. import rows
from .base import KubePane, RowSource


class NodesPane(KubePane):
    NAME, KEY, TITLE = "nodes", "1", "Nodes"
    COMMANDS = ("node", "no")  # `:` aliases, as in k9s
    COLUMNS = rows.NODE_COLUMNS
    DEFAULT_SORT = ("NAME",)
    SOURCE = "Node"
    DEPENDS = ("Pod",)  # the PODS column
    BINDINGS = []  # this pane's own keys: see panes/base.py

    def row_source(self, now: datetime | None) -> RowSource:
        nodes, styled = self.state.kube.of("Node"), self.styler()
        counts = rows.pods_per_node(self.state.kube.of("Pod"))

        def node_row(key: str) -> tuple | None:
            return styled(rows.node_row(nodes[key], counts.get(key, 0), now)) if key in nodes else None

        return nodes, node_row
