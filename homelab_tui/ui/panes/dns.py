"""The DNS pane: each name that matters, what it should resolve to and what it does."""

from __future__ import annotations

from datetime import datetime

from .. import rows
from .base import Pane, RowSource


class DnsPane(Pane):
    NAME, KEY, TITLE = "dns", "5", "DNS"
    COLUMNS = rows.DNS_COLUMNS
    DEFAULT_SORT = ("NAME",)
    COMPONENT = SOURCE = "dns"
    BINDINGS = []  # this pane's own keys: see panes/base.py

    def row_source(self, now: datetime | None) -> RowSource:
        checks, styled = self.state.dns_rows, self.styler()
        return checks, lambda key: styled(rows.dns_row(checks[key])) if key in checks else None

    def open(self, key: str) -> None:
        if (check := self.state.dns_rows.get(key)) is not None:
            self.show_detail(f"DNS {check.name}", {
                "name": check.name, "expected": check.expected, "actual": check.actual,
                "status": "OK" if check.ok else "MISMATCH", "detail": check.detail})
