"""The NAT pane: the router's dst-nat rules and the PCC mangle rules that feed them, in router
order; ours are marked, disabled ones dimmed, and ours that are not as planned flagged (drift, a
conflict, a stale PCC), each judged by the check after the router poll (plans/repair.py). Enter
shows a flagged rule's fields, ours against the router's; `v` reverts it (the repair wizard), `x`
releases it (its marker dropped: the rule becomes the user's)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import yaml
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...models import MangleRule, NatRule
from ...plans.routeros import parse_marker
from .. import rows
from ..modals import DetailScreen
from .base import Pane, RowSource

MENUS = {"nat": "/ip/firewall/nat", "mangle": "/ip/firewall/mangle"}  # by the row's TABLE


class DriftDetailScreen(DetailScreen):
    """A rule of ours in full, under how it differs from our plan: field | ours | router."""

    def __init__(self, title: str, yaml_text: str, drift: RenderableType) -> None:
        super().__init__(title, yaml_text)
        self.drift = drift

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).mount(Static(self.drift, id="drift"), before="#detail-text")


class NatPane(Pane):
    NAME, KEY, TITLE = "nat", "4", "NAT"
    COLUMNS = rows.NAT_COLUMNS
    DEFAULT_SORT = ("#",)
    COMPONENT = SOURCE = "router"
    DEPENDS = ("exposures",)  # the drift flags
    CAPTION_NOTE = f"{rows.OURS} homelab-tui's"
    BINDINGS = [  # this pane's own keys: see panes/base.py
        Binding("v", "revert", "Revert", id="nat_revert", tooltip="Put our rule back as planned (the repair plan)"),
        Binding("x", "release", "Release", id="nat_release",
                tooltip="Drop our marker: the rule becomes yours, never touched again"),
    ]

    def row_source(self, now: datetime | None) -> RowSource:
        rules, styled = self.state.router_rules, self.styler()
        positions = {key: position for position, key in enumerate(rules)}
        drifts = self.state.drifts()

        def rule_row(key: str) -> tuple | None:
            if (rule := rules.get(key)) is None:
                return None
            drift = ""
            if (found := drifts.get(rule.comment)) is not None:  # how ours is not as planned
                status, difference = found
                drift = "stale" if status.stale else difference.state
            cells = rows.nat_row(rule, drift) if isinstance(rule, NatRule) else rows.mangle_row(rule, drift)
            return styled((str(positions[key]), *cells), rows.rule_style(rule, drift))

        return rules, rule_row

    def render_caption(self) -> None:
        super().render_caption()
        if error := self.state.exposures_error:
            self.border_title += f" · drift not checked: {error}"

    def open(self, key: str) -> None:
        if (rule := self.state.router_rules.get(key)) is None:
            return
        title = f"/ip firewall {self._table(rule)} {rule.id}"
        if (found := self.state.drifts().get(rule.comment)) is None:
            self.show_detail(title, rule.raw)
            return
        status, difference = found
        table = Table("field", "ours", "router", expand=False)
        fields = difference.fields or ((("disabled", "false", "true"),) if difference.state == "disabled" else ())
        for name, ours, theirs in fields:
            table.add_row(Text(name), Text(ours or "(none)"), Text(theirs or "(none)"))
        drift = Group(Text(status.summary, style="bold"), Text(str(difference)), table, Text())  # Text: never markup
        fields_yaml = yaml.safe_dump(rule.raw, sort_keys=False, allow_unicode=True)
        self.app.push_screen(DriftDetailScreen(title, fields_yaml, drift))

    def _marked(self) -> NatRule | MangleRule | None:
        """The rule under the cursor, if it is ours; else None, said."""
        if (key := self.cursor_key()) is None or (rule := self.state.router_rules.get(key)) is None:
            return None
        if not rows.is_ours(rule.comment) or parse_marker(rule.comment) is None:
            self.app.notify("not a rule of homelab-tui's: it is yours already", severity="warning")
            return None
        return rule

    @staticmethod
    def _table(rule: NatRule | MangleRule) -> str:
        return "nat" if isinstance(rule, NatRule) else "mangle"

    def action_revert(self) -> None:
        """The repair wizard on the rule's exposure: its plan reverts every drifted item of it."""
        if (rule := self._marked()) is not None:
            marker = parse_marker(rule.comment)
            self.app.open_wizard("repair", {"service": marker.service, "port": str(marker.port)})

    def action_release(self) -> None:
        from ...flows.release import plan_release  # the plans load on the first change, not at start

        if (rule := self._marked()) is not None:
            self.app.apply_change(partial(plan_release, menu=MENUS[self._table(rule)], comment=rule.comment),
                                  "Release")
