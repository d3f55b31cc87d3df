"""The Pods pane: `kubectl get pods -A -o wide`, or one namespace's."""

from __future__ import annotations

from datetime import datetime

from .. import rows
from .base import KubePane, RowSource


class PodsPane(KubePane):
    NAME, KEY, TITLE = "pods", "2", "Pods"
    COMMANDS = ("pod", "po")  # `:` aliases, as in k9s
    COLUMNS = rows.POD_COLUMNS
    DEFAULT_SORT = ("NAMESPACE", "NAME")
    SOURCE = "Pod"
    NAMESPACED = True
    BINDINGS = []  # this pane's own keys (k9s: l logs, ctrl+d delete): see panes/base.py

    def row_source(self, now: datetime | None) -> RowSource:
        pods, styled = self.state.kube.of("Pod"), self.styler()
        return pods, lambda key: styled(rows.pod_row(pods[key], now)) if key in pods else None
