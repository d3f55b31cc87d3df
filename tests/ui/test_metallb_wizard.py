"""The MetalLB wizard, by the keyboard alone, on the simulated lab: M opens it, the range is typed,
F2 shows the plan (ServiceLB disabled on master1, MetalLB installed from the fixture manifest,
the pool in metallb-system), F3 and the confirmation apply it, and the Services pane then shows
the LoadBalancer Service's address from the pool (instead of <pending>, or the node addresses k3s's
ServiceLB gave it)."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input

from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import ConfirmScreen
from tests.integration.test_metallb_flow import POOL, in_pool, lab_config, load_balancer
from tests.ui.test_app_live import until
from tests.ui.test_wizards import open_wizard, outcomes, plan_shown

EXTERNAL_IP = 4  # the Services pane's EXTERNAL-IP column


@pytest.fixture
async def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


def external_ip(app: HomelabApp, key: str = "default/web") -> str:
    services = app.table("services")
    return str(services.get_row(key)[EXTERNAL_IP]) if key in services.rows else ""


async def test_the_metallb_wizard_by_keyboard_gives_a_load_balancer_its_address(lab, tmp_path):
    lab.kube.create(load_balancer())
    app = HomelabApp(load_config(lab_config(lab, tmp_path)), clock=lambda: None)
    async with app.run_test(size=(140, 44)) as pilot:
        await until(pilot, lambda: external_ip(app) != "")  # pending, or ServiceLB's node addresses
        assert not in_pool(external_ip(app).split(",")[0] if external_ip(app) != "<pending>" else "")
        await open_wizard(pilot, "M")
        wizard = app.screen
        assert wizard.wizard.name == "metallb"
        while not isinstance(app.focused, Input) or app.focused.id != "addresses":
            await pilot.press("tab")
        await pilot.press(*POOL, "f2")
        await until(pilot, lambda: "kind: IPAddressPool" in plan_shown(app), timeout=20)
        shown = plan_shown(app)
        assert "Disable k3s's ServiceLB on master1" in shown and "Install MetalLB: Namespace metallb-system" in shown
        assert "namespace: metallb-system" in shown and "ipAddressPools:" in shown

        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"  # Enter alone never applies
        await pilot.press("tab")
        assert app.focused.id == "apply"
        await pilot.press("enter")
        # the outcome label shows the rollout's progress until the plan ends with ✓ or ✗
        await until(pilot, lambda: any(text.startswith(("✓", "✗")) for text in outcomes(wizard).values()), timeout=60)
        assert list(outcomes(wizard).values()) == ["✓ done"]

        await pilot.press("escape")
        await until(pilot, lambda: in_pool(external_ip(app)), timeout=20)
        assert lab.kube.get("IPAddressPool", "metallb-system", "homelab")["spec"]["addresses"] == [POOL]
