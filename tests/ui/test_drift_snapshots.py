"""Snapshots of drift and stale PCC on the `running` lab (its hand-made PCC removed), default/nginx
exposed over node1 and node2: the NAT pane's detail of a rule edited by hand (ours against the
router's), and the Services pane marking the exposure "PCC stale" once node2 is NotReady."""

from __future__ import annotations

import tomllib

import tomli_w

from homelab_tui.cli import main
from homelab_tui.config import load_config
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.panes.nat import DriftDetailScreen
from tests.e2e.test_expose_cli import EXPOSE, lab  # noqa: F401  (the fixture: a LabThread)
from tests.e2e.test_repair_cli import DSTNAT_2, NAT, edit, in_lab
from tests.ui.test_app_live import until
from tests.ui.test_drift import cursor_on, exposed_cell, own_cells, rule_key
from tests.ui.test_expose_snapshots import SIZE


def exposed(lab, **router: object) -> HomelabApp:  # noqa: F811
    """default/nginx exposed by the CLI twin, and the app on the lab, with `router` settings."""
    config = tomllib.loads(lab.config_path.read_text())
    config["router"].update(router)
    lab.config_path.write_text(tomli_w.dumps(config))
    assert main([*EXPOSE, "--replace-dns-record", "--yes", "--config", str(lab.config_path)]) == 0
    return HomelabApp(load_config(lab.config_path), clock=lambda: None)


def test_drift_detail_snapshot(snap_compare, lab):  # noqa: F811
    app = exposed(lab)
    edit(lab, NAT, DSTNAT_2, **{"to-ports": "8080"})

    async def run_before(pilot) -> None:
        await pilot.press("4")
        await until(pilot, lambda: own_cells(pilot.app).get(DSTNAT_2) == "✦ changed", timeout=15)
        await cursor_on(pilot, "nat", rule_key(pilot.app, DSTNAT_2))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, DriftDetailScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_stale_pcc_in_the_services_pane_snapshot(snap_compare, lab):  # noqa: F811
    app = exposed(lab, rebalance_after_seconds=0)
    in_lab(lab, lab.lab.kube.set_node_ready, "node2.kube.local", False)

    async def run_before(pilot) -> None:
        await pilot.press("3")
        await until(pilot, lambda: "PCC stale (node2 NotReady)" in exposed_cell(pilot.app), timeout=15)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
