"""The NAT pane: the router's dst-nat rules and the PCC mangle rules that feed them, in router
order; ours are marked, disabled ones dimmed."""

from __future__ import annotations

from datetime import datetime

from ...models import NatRule
from .. import rows
from .base import Pane, RowSource


class NatPane(Pane):
    NAME, KEY, TITLE = "nat", "4", "NAT"
    COLUMNS = rows.NAT_COLUMNS
    DEFAULT_SORT = ("#",)
    COMPONENT = SOURCE = "router"
    CAPTION_NOTE = f"{rows.OURS} homelab-tui's"
    BINDINGS = []  # this pane's own keys: see panes/base.py

    def row_source(self, now: datetime | None) -> RowSource:
        rules, styled = self.state.router_rules, self.styler()
        positions = {key: position for position, key in enumerate(rules)}

        def rule_row(key: str) -> tuple | None:
            if (rule := rules.get(key)) is None:
                return None
            cells = rows.nat_row(rule) if isinstance(rule, NatRule) else rows.mangle_row(rule)
            return styled((str(positions[key]), *cells), rows.rule_style(rule))

        return rules, rule_row

    def open(self, key: str) -> None:
        if (rule := self.state.router_rules.get(key)) is not None:
            menu = "nat" if isinstance(rule, NatRule) else "mangle"
            self.show_detail(f"/ip firewall {menu} {rule.id}", rule.raw)
