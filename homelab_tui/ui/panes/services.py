"""The Services pane: `kubectl get services -A`, and how the router exposes each (EXPOSED)."""

from __future__ import annotations

from datetime import datetime

from textual.binding import Binding

from .. import rows
from .base import KubePane, RowSource


class ServicesPane(KubePane):
    NAME, KEY, TITLE = "services", "3", "Services"
    COMMANDS = ("service", "svc")  # `:` aliases, as in k9s
    COLUMNS = rows.SERVICE_COLUMNS
    DEFAULT_SORT = ("NAMESPACE", "NAME")
    SOURCE = "Service"
    DEPENDS = ("router", "exposures")  # the EXPOSED column
    NAMESPACED = True
    BINDINGS = [  # this pane's own keys: see panes/base.py
        Binding("p", "app.probe", "Probe", id="service_probe", tooltip="Why can't I reach it? Check it hop by hop"),
        Binding("b", "rebalance", "Rebalance", id="service_rebalance",
                tooltip="The exact plan that rebalances stale PCC and reverts drift (the repair wizard)"),
    ]

    def row_source(self, now: datetime | None) -> RowSource:
        services, styled = self.state.kube.of("Service"), self.styler()
        nat, mangle = self.state.nat_rules, self.state.mangle_rules
        exposures = self.state.exposures_by_service()

        def service_row(key: str) -> tuple | None:
            if key not in services:
                return None
            exposed = rows.exposure(services[key], nat, mangle, exposures.get(key, ()))
            return styled(rows.service_row(services[key], exposed, now))

        return services, service_row

    def action_rebalance(self) -> None:
        if (key := self.cursor_key()) is not None:
            self.app.open_wizard("repair", {"service": key})

    def wizard_answers(self) -> dict[str, str]:
        key = self.cursor_key()
        return {"service": key} if key else {}
