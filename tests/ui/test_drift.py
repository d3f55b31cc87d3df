"""Drift and stale PCC in the panes, by keyboard on the running sim lab (its hand-made PCC removed),
default/nginx exposed over node1 and node2: a hand edit on the router is flagged in the NAT pane,
Enter shows ours against the router's, `v` reverts it; a duplicated marker is a conflict; `x` releases a rule (the Services pane then
says it is missing); a node NotReady marks the Service "PCC stale" and `b` rebalances it;
`[router] auto_rebalance` asks first and audits the plan as automatic, never under --read-only;
a check that fails is said in the NAT pane's caption while the polls go on."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from textual.widgets import Input, Static

from homelab_tui.plans import PlanError
from homelab_tui.plans.routeros import MARKER_PREFIX
from homelab_tui.ui.modals import ConfirmScreen
from homelab_tui.ui.panes import dashboard
from homelab_tui.ui.panes.nat import DriftDetailScreen
from homelab_tui.ui.wizards import WizardScreen
from tests.ui.test_app_live import until
from tests.ui.test_expose_wizard import lab  # noqa: F401  (the fixture: the running lab without its hand-made PCC)
from tests.ui.test_probe_screen import exposed_app
from tests.ui.test_wizards import apply_confirmed, finished, plan_shown


@pytest.fixture(autouse=True)
def check_on_every_poll(monkeypatch):
    """The drift check after every router poll (the app spaces them for Cloudflare's rate limit)."""
    monkeypatch.setattr(dashboard, "EXPOSURE_CHECK_SECONDS", 0.0)

NAT, MANGLE = "/ip/firewall/nat", "/ip/firewall/mangle"
DSTNAT_2 = "[homelab-tui default/nginx tcp/80 dstnat 2]"
NODE1, NODE2 = "192.168.40.103", "192.168.40.104"


def router_rule(lab, menu: str, comment: str) -> dict[str, str]:  # noqa: F811
    return next(r for r in lab.router.rules(menu) if r.get("comment") == comment)


def edit(lab, menu: str, comment: str, **changes: str) -> None:  # noqa: F811
    """A hand edit, as in WinBox."""
    router = lab.router
    router._set(router._menu(menu), router._find(menu, router_rule(lab, menu, comment)[".id"]), changes)


def own_cells(app) -> dict[str, str]:
    """The NAT pane's OWN cell of each rule, by the rule's comment."""
    table = app.table("nat")
    return {str(table.get_row(key)[-1]): str(table.get_row(key)[1]) for key in table.rows}


def exposed_cell(app, service: str = "default/nginx") -> str:
    table = app.table("services")
    return str(table.get_row(service)[6]) if service in table.rows else ""


async def cursor_on(pilot, pane: str, key: str) -> None:
    table = pilot.app.table(pane)
    await until(pilot, lambda: key in table.rows, timeout=15)
    while table.cursor_key() != key:
        await pilot.press("j")


def rule_key(app, comment: str) -> str:
    return next(key for key, rule in app.state.router_rules.items() if rule.comment == comment)


def shown_text(renderable) -> str:
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(renderable)
    return console.export_text()


async def confirm(pilot) -> None:
    """The confirmation's apply button, once it is shown (Cancel has the focus)."""
    def shown() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, ConfirmScreen) and any(button.region.width for button in screen.query("#apply"))

    await until(pilot, shown, timeout=15)
    await pilot.click("#apply")


def forwarded_to(lab) -> list[str]:  # noqa: F811
    return [r["to-addresses"] for r in lab.router.rules(NAT) if r.get("comment", "").startswith(MARKER_PREFIX)]


async def test_a_hand_edit_is_flagged_shown_field_by_field_and_reverted_with_v(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.press("4")  # the NAT pane
        await until(pilot, lambda: own_cells(app).get(DSTNAT_2) == "✦", timeout=15)
        edit(lab, NAT, DSTNAT_2, **{"to-ports": "8080"})
        await until(pilot, lambda: own_cells(app).get(DSTNAT_2) == "✦ changed", timeout=15)
        assert own_cells(app)["[homelab-tui default/nginx tcp/80 dstnat 1]"] == "✦"  # only the edited one

        await cursor_on(pilot, "nat", rule_key(app, DSTNAT_2))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DriftDetailScreen))
        shown = shown_text(app.screen.query_one("#drift", Static).content)
        assert "drift: 1 changed" in shown
        assert f"{DSTNAT_2}: to-ports is 8080, ours 31681" in shown
        assert ["to-ports", "31681", "8080"] in [[cell.strip() for cell in line.strip().strip("│").split("│")]
                                                 for line in shown.splitlines()], shown
        assert "to-ports: '8080'" in shown_text(app.screen.query_one("#detail-text", Static).content)  # the rule in full

        await pilot.press("escape", "v")
        await until(pilot, lambda: isinstance(app.screen, WizardScreen))
        assert (app.screen.query_one("#service", Input).value, app.screen.query_one("#port", Input).value) == \
            ("default/nginx", "80")
        await pilot.press("f2")
        await until(pilot, lambda: "Repair default/nginx tcp/80" in plan_shown(app), timeout=20)
        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(app.screen), timeout=30)
        assert router_rule(lab, NAT, DSTNAT_2)["to-ports"] == "31681"
        await pilot.press("escape")
        await until(pilot, lambda: own_cells(app).get(DSTNAT_2) == "✦", timeout=15)


async def test_a_duplicated_marker_is_flagged_as_a_conflict_on_both_rules_and_the_service(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: own_cells(app).get(DSTNAT_2) == "✦", timeout=15)
        copy = {k: v for k, v in router_rule(lab, NAT, DSTNAT_2).items()
                if k in ("chain", "action", "protocol", "connection-mark", "to-addresses", "comment")}
        lab.router.add_rule(NAT, {**copy, "to-ports": "8080"})  # a copy made by hand, marker and all
        table = app.table("nat")
        await until(pilot, lambda: [str(table.get_row(key)[1]) for key in table.rows
                                    if str(table.get_row(key)[-1]) == DSTNAT_2] == ["✦ conflict"] * 2, timeout=15)
        await pilot.press("3")
        await until(pilot, lambda: exposed_cell(app).endswith(" · conflict"), timeout=15)


async def test_x_releases_a_rule_which_is_then_the_users(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: DSTNAT_2 in own_cells(app), timeout=15)
        key = rule_key(app, DSTNAT_2)
        await cursor_on(pilot, "nat", key)
        await pilot.press("x")
        await confirm(pilot)
        released = "released from homelab-tui: default/nginx tcp/80 dstnat 2"
        await until(pilot, lambda: any(r.get("comment") == released for r in lab.router.rules(NAT)), timeout=15)
        await until(pilot, lambda: str(app.table("nat").get_row(key)[-1]) == released, timeout=15)
        assert str(app.table("nat").get_row(key)[1]) == ""  # no longer ours
        await checks(pilot, 2)  # judged after the release: the rule is the user's, neither missing nor made again
        assert [s.released for s in app.state.exposures.values()] == [(DSTNAT_2,)]
        await pilot.press("3")
        assert "drift" not in exposed_cell(app) and "missing" not in exposed_cell(app), exposed_cell(app)


async def test_a_node_not_ready_marks_pcc_stale_and_b_rebalances(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    app.config.router.rebalance_after_seconds = 0.0
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: "80→31681 (PCC ×2)" == exposed_cell(app), timeout=15)
        lab.kube.set_node_ready("node2.kube.local", False)
        await until(pilot, lambda: "PCC stale (node2 NotReady)" in exposed_cell(app), timeout=15)
        assert not isinstance(app.screen, ConfirmScreen)  # auto_rebalance is off
        await cursor_on(pilot, "services", "default/nginx")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, WizardScreen))
        await pilot.press("f2")
        await until(pilot, lambda: "rebalance PCC (node2 NotReady)" in plan_shown(app), timeout=20)
        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(app.screen), timeout=30)
        assert forwarded_to(lab) == [NODE1]
        await pilot.press("escape")
        await until(pilot, lambda: exposed_cell(app) == "80→31681", timeout=15)


async def checks(pilot, count: int) -> None:
    """Until `count` more drift checks have been judged (each replaces the state's statuses)."""
    for _ in range(count):
        before = pilot.app.state.exposures
        await until(pilot, lambda: pilot.app.state.exposures is not before, timeout=15)


async def test_auto_rebalance_asks_once_per_staleness_and_audits_it_as_automatic(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    app.config.router.rebalance_after_seconds, app.config.router.auto_rebalance = 0.0, True
    async with app.run_test(size=(150, 50)) as pilot:
        await until(pilot, lambda: "80→31681 (PCC ×2)" == exposed_cell(app), timeout=15)
        lab.kube.set_node_ready("node2.kube.local", False)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=15)
        assert app.screen.title_text == "Automatic rebalance: Repair default/nginx tcp/80: rebalance PCC (node2 NotReady)"
        await pilot.press("escape")  # cancelled: not asked again while the same reasons hold
        await checks(pilot, 2)
        assert not isinstance(app.screen, ConfirmScreen) and "PCC stale (node2 NotReady)" in exposed_cell(app)

        lab.kube.set_node_ready("node2.kube.local", True)
        await until(pilot, lambda: exposed_cell(app) == "80→31681 (PCC ×2)", timeout=15)
        lab.kube.set_node_ready("node2.kube.local", False)  # stale anew: asked anew
        await confirm(pilot)
        await until(pilot, lambda: forwarded_to(lab) == [NODE1], timeout=15)
        audit = (tmp_path / "state" / "homelab-tui" / "audit.jsonl").read_text().splitlines()
        assert any(json.loads(line)["plan"].startswith("Automatic rebalance: ") for line in audit)
        await until(pilot, lambda: exposed_cell(app) == "80→31681", timeout=15)  # no longer stale
        assert not isinstance(app.screen, ConfirmScreen)


async def test_read_only_never_rebalances_nor_releases(lab, tmp_path):  # noqa: F811
    app = await exposed_app(lab, tmp_path)
    app.read_only = True
    app.config.router.rebalance_after_seconds, app.config.router.auto_rebalance = 0.0, True
    async with app.run_test(size=(150, 50)) as pilot:
        await until(pilot, lambda: "80→31681 (PCC ×2)" == exposed_cell(app), timeout=15)
        lab.kube.set_node_ready("node2.kube.local", False)
        await until(pilot, lambda: "PCC stale (node2 NotReady)" in exposed_cell(app), timeout=15)
        await pilot.press("4")
        await cursor_on(pilot, "nat", rule_key(app, DSTNAT_2))
        await pilot.press("x")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)
        assert router_rule(lab, NAT, DSTNAT_2)  # still ours
        assert sorted(forwarded_to(lab)) == [NODE1, NODE2]


async def test_a_failed_check_is_said_in_the_nat_caption_and_the_polls_go_on(lab, tmp_path, monkeypatch):  # noqa: F811
    async def unreadable(config, service=""):
        raise PlanError("cluster.kubeconfig", "cannot read the cluster (gone)")

    monkeypatch.setattr("homelab_tui.facts.exposures.exposure_inputs", unreadable)
    app = await exposed_app(lab, tmp_path)
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.press("4")
        nat = app.table("nat")
        await until(pilot, lambda: "drift not checked: cluster.kubeconfig: cannot read the cluster" in
                    str(nat.border_title), timeout=15)
        lab.router.add_rule(NAT, {"chain": "dstnat", "action": "dst-nat", "protocol": "tcp", "dst-port": "8443",
                                  "to-addresses": NODE1, "to-ports": "30443", "comment": "added by hand"})
        await until(pilot, lambda: "added by hand" in own_cells(app), timeout=15)
