"""The deploy wizard by keyboard alone on the running lab: the form, a bad answer named, the plan
with its manifests and diff, the apply with the rollout's progress, and the pods in the pane."""

from __future__ import annotations

import pytest
from textual.widgets import Input, ProgressBar, Select

from homelab_tui.sim.lab import Lab
from homelab_tui.ui.wizards import PlanProgress
from tests.ui.test_app_live import until
from tests.ui.test_wizards import apply_confirmed, finished, lab_app, open_wizard, outcomes, plan_shown


@pytest.fixture
async def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


def error_shown(app) -> str:
    return str(app.screen.query_one("#error").render())


async def test_deploy_by_keyboard(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(140, 50)) as pilot:
        await open_wizard(pilot, "D")
        screen = app.screen
        await until(pilot, lambda: screen.focused is screen.query_one("#name", Input))  # the first answer
        assert screen.query_one("#on-conflict", Select).value is Select.NULL  # never forced by default
        await pilot.press(*"Web_1", "tab", *"nginx:1.27", "f2")
        await until(pilot, lambda: "name:" in error_shown(app), timeout=10)
        assert "DNS-1035" in error_shown(app)

        await pilot.press("shift+tab", *["backspace"] * 5, *"shop", "f2")
        await until(pilot, lambda: "Deploy shop (nginx:1.27)" in plan_shown(app), timeout=20)
        shown = plan_shown(app)
        assert "Create Deployment default/shop (server-side apply)" in shown
        assert "kind: Service" in shown and "app.kubernetes.io/managed-by: homelab-tui" in shown
        assert "Wait for Deployment default/shop to roll out" in shown

        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(app.screen), timeout=30)
        assert list(outcomes(app.screen).values()) == ["✓ done"]
        [row] = app.screen.query(PlanProgress)
        rollout = row.query_one("#rollout", ProgressBar)
        assert rollout.display and rollout.progress == rollout.total == 1

        await pilot.press("escape", "2")  # the pods pane
        await until(pilot, lambda: any(str(key.value).startswith("default/shop-")
                                       for key in app.table("pods").rows), timeout=10)

        # the same answers again: every step a no-op, with its reason
        await open_wizard(pilot, "D")
        await pilot.press(*"shop", "tab", *"nginx:1.27", "f2")
        await until(pilot, lambda: "nothing to do" in error_shown(app), timeout=20)
        assert "Deployment default/shop is unchanged" in plan_shown(app)
