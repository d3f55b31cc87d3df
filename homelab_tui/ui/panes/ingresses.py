"""The Ingresses pane: `kubectl get ingress -A`, the hosts and the addresses they answer on,
shown alone (key 7 or `:ing`)."""

from __future__ import annotations

from datetime import datetime

from .. import rows
from .base import KubePane, RowSource


class IngressesPane(KubePane):
    NAME, KEY, TITLE = "ingresses", "7", "Ingresses"
    COMMANDS = ("ingress", "ing")  # `:` aliases, as in k9s
    COLUMNS = rows.INGRESS_COLUMNS
    DEFAULT_SORT = ("NAMESPACE", "NAME")
    SOURCE = "Ingress"
    NAMESPACED = True
    BINDINGS = []  # this pane's own keys: see panes/base.py

    def row_source(self, now: datetime | None) -> RowSource:
        ingresses, styled = self.state.kube.of("Ingress"), self.styler()
        return ingresses, lambda key: styled(rows.ingress_row(ingresses[key], now)) if key in ingresses else None
