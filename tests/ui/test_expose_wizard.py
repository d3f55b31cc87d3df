"""Expose from the Services pane by keyboard alone: E opens the wizard on the row's Service, F2
shows the router lines and the DNS record, F3 applies, the NAT pane shows our rules; then U
removes them."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from homelab_tui.plans.routeros import MARKER_PREFIX
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.wizards import WizardScreen
from tests.ui.test_app_live import until
from tests.ui.test_wizards import apply_confirmed, finished, lab_app, outcomes, plan_shown


@pytest.fixture
async def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("running", tmp_path / "lab") as lab:
        for menu in ("/ip/firewall/nat", "/ip/firewall/mangle"):  # the preset's hand-made PCC: expose makes its own
            for rule in lab.router.rules(menu):
                if "Load balancer" in rule.get("comment", ""):
                    lab.router._remove(menu, [lab.router._find(menu, rule[".id"])])
        yield lab


def our_nat_rows(app) -> list[str]:
    table = app.table("nat")
    return [str(table.get_row(key)[-1]) for key in table.rows if MARKER_PREFIX in str(table.get_row(key)[-1])]


async def open_on_nginx(pilot, key: str) -> WizardScreen:
    app = pilot.app
    await pilot.press("3")  # the Services pane
    await until(pilot, lambda: "default/nginx" in app.table("services").rows, timeout=10)
    table = app.table("services")
    while table.cursor_key() != "default/nginx":
        await pilot.press("j")
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, WizardScreen))
    return app.screen


async def test_expose_then_unexpose_from_the_services_pane(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(150, 50)) as pilot:
        wizard = await open_on_nginx(pilot, "E")
        assert wizard.query_one("#service", Input).value == "default/nginx"
        host = wizard.query_one("#host", Input)
        host.focus()
        await pilot.press(*"nginx.example.org")
        await pilot.press("f2")
        await until(pilot, lambda: "replace it only if you mean to" in str(wizard.query_one("#error").render()),
                    timeout=20)  # the preset's hand-made record is not ours
        wizard.query_one("#replace-dns-record").focus()
        await pilot.press("space", "f2")
        await until(pilot, lambda: "Expose default/nginx tcp/80" in plan_shown(app), timeout=20)
        shown = plan_shown(app)
        assert "/ip firewall mangle add chain=prerouting action=mark-connection" in shown
        assert "[homelab-tui default/nginx tcp/80 dstnat 1]" in shown
        assert "CNAME nginx.example.org → 529c0491d41c.sn.mynetname.net" in shown
        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(app.screen), timeout=30)
        assert list(outcomes(app.screen).values()) == ["✓ done"]

        await pilot.press("escape", "4")  # the NAT pane
        # no node picked: every Ready node, the three of the lab, a mark and a dst-nat each
        await until(pilot, lambda: len(our_nat_rows(app)) == 6, timeout=15)

        await pilot.press("3")
        wizard = await open_on_nginx(pilot, "U")
        assert wizard.query_one("#service", Input).value == "default/nginx"
        await pilot.press("f2")
        await until(pilot, lambda: "Unexpose default/nginx" in plan_shown(app), timeout=20)
        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(app.screen), timeout=30)
        await pilot.press("escape", "4")
        await until(pilot, lambda: our_nat_rows(app) == [], timeout=15)
