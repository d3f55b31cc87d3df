"""Pane actions change the lab only through a plan: ctrl+d on a row shows the exact deletion with
Cancel focused, applies it through the engine (audited) only when confirmed, and --read-only
hides it and refuses it."""

from __future__ import annotations

import json

from textual.widgets import Button, Static

from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import ConfirmScreen
from tests.ui.test_app_live import pod, until


def lab_app(lab: Lab, tmp_path, **options) -> HomelabApp:
    return HomelabApp(load_config(lab.write_config(tmp_path / "lab.toml")), clock=lambda: None, **options)


async def press_delete_on(pilot, app: HomelabApp, key: str) -> None:
    await pilot.press("2")
    pods = app.table("pods")
    await until(pilot, lambda: key in pods.rows)
    pods.move_cursor(row=pods.get_row_index(key))
    await pilot.press("ctrl+d")


async def test_delete_shows_the_plan_with_cancel_focused_and_applies_only_when_confirmed(lab, tmp_path):
    app = lab_app(lab, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_delete_on(pilot, app, "default/debug")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        shown = str(app.screen.query_one("#confirm-plan", Static).render())
        assert "Delete Pod default/debug" in shown and "$ kubectl delete pod debug -n default" in shown
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("enter")  # Enter alone cancels
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert lab.kube.get("Pod", "default", "debug") is not None

        await press_delete_on(pilot, app, "default/debug")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#apply")
        await until(pilot, lambda: "default/debug" not in app.table("pods").rows)
    assert lab.kube.get("Pod", "default", "debug") is None
    audit = (tmp_path / "state" / "homelab-tui" / "audit.jsonl").read_text().splitlines()
    assert [(r["outcome"], r["rendering"]) for r in map(json.loads, audit)] == [
        ("applied", "kubectl delete pod debug -n default")]


async def test_read_only_hides_delete_and_refuses_a_change_reached_another_way(lab, tmp_path):
    from functools import partial

    from homelab_tui.flows.delete import plan_delete

    app = lab_app(lab, tmp_path, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_delete_on(pilot, app, "default/debug")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)
        assert "delete" not in {active.binding.action for active in app.screen.active_bindings.values()}
        app.apply_change(partial(plan_delete, kind="Pod", namespace="default", name="debug"), "Delete")
        await until(pilot, lambda: any("read-only: Delete Pod default/debug" in n.message
                                       for n in app._notifications))
        assert not isinstance(app.screen, ConfirmScreen)
    assert lab.kube.get("Pod", "default", "debug") is not None
    assert not (tmp_path / "state" / "homelab-tui" / "audit.jsonl").exists()
