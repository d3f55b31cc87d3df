"""The bootstrap and join wizards, driven by the keyboard alone, on the simulated lab's bare nodes;
and their modals, on a bare host app."""

from __future__ import annotations

import secrets

import pytest
from textual.app import App
from textual.widgets import Input, Log, Static, TabPane

from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.wizards import SudoPasswordScreen, TrustHostKeyScreen, WizardScreen
from tests.ui.test_app_live import until


@pytest.fixture
async def fresh_lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("fresh", tmp_path / "lab") as lab:
        yield lab


def logged(wizard: WizardScreen) -> str:
    return "\n".join(line for log in wizard.query(Log) for line in log.lines)


async def open_wizard(pilot, key: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, WizardScreen))


def plan_shown(app: HomelabApp) -> str:
    return str(app.screen.query_one("#plan", Static).render())


async def test_bootstrap_then_join_by_keyboard(fresh_lab, tmp_path):
    app = HomelabApp(load_config(fresh_lab.write_config(tmp_path / "lab.toml")), clock=lambda: None)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_wizard(pilot, "b")
        await pilot.press("f2")
        await until(pilot, lambda: "Install k3s on master1" in plan_shown(app), timeout=20)
        assert "sudo hostnamectl set-hostname master1.kube.local" in plan_shown(app)
        await pilot.press("f3")
        await until(pilot, lambda: "master1.kube.local" in app.table("nodes").rows, timeout=30)
        await until(pilot, lambda: not app.screen.applying, timeout=30)
        await pilot.press("escape", "j")
        await until(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.kind == "join")
        await pilot.press("f2")
        await until(pilot, lambda: "Join node2" in plan_shown(app), timeout=20)
        assert "K3S_URL=https://192.168.40.102:6443 K3S_TOKEN=${K3S_TOKEN}" in plan_shown(app)
        await pilot.press("f3")
        await until(pilot, lambda: app.table("nodes").row_count == 3, timeout=30)
        await until(pilot, lambda: not app.screen.applying, timeout=30)
        node_logs = {pane.id: "\n".join(pane.query_one(Log).lines) for pane in app.screen.query(TabPane)}
        assert len(node_logs) == 3  # the join secret, node1, node2: one log each
        assert any("Install k3s on node1" in text and "Install k3s on node2" not in text for text in node_logs.values())
        token = fresh_lab.fleet["master1.kube.local"].state.files["/var/lib/rancher/k3s/server/node-token"].strip()
        assert token not in logged(app.screen)
        await pilot.press("escape")
        await until(pilot, lambda: all(str(row[1]) == "Ready"
                                       for row in map(app.table("nodes").get_row, app.table("nodes").rows)))


async def test_read_only_shows_the_plan_and_refuses_to_apply(fresh_lab, tmp_path):
    app = HomelabApp(load_config(fresh_lab.write_config(tmp_path / "lab.toml")), clock=lambda: None, read_only=True)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_wizard(pilot, "b")
        await pilot.press("f2")
        await until(pilot, lambda: "Install k3s on master1" in plan_shown(app), timeout=20)
        await pilot.press("f3")
        await pilot.pause(0.5)
        assert not fresh_lab.kube.list("Node") and not app.screen.applying


async def test_bad_cidr_names_the_field(fresh_lab, tmp_path):
    app = HomelabApp(load_config(fresh_lab.write_config(tmp_path / "lab.toml")), clock=lambda: None)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_wizard(pilot, "b")
        app.screen.query_one("#service-cidr", Input).value = "10.42.0.0/17"
        await pilot.press("f2")
        await until(pilot, lambda: "service_cidr" in str(app.screen.query_one("#error", Static).render()))
        assert "overlaps the pod CIDR 10.42.0.0/16" in str(app.screen.query_one("#error", Static).render())


class Host(App[None]):
    result: object = "unset"


async def test_host_key_modal_shows_the_fingerprint_and_needs_a_yes():
    app = Host()
    async with app.run_test() as pilot:
        for key, expected in (("y", True), ("n", False), ("escape", False)):
            app.push_screen(TrustHostKeyScreen("node1", "SHA256:abc123"), lambda answer: setattr(app, "result", answer))
            await pilot.pause()
            assert "SHA256:abc123" in str(app.screen.query_one("#fingerprint").render())
            await pilot.press("x")  # any other key does nothing
            assert isinstance(app.screen, TrustHostKeyScreen)
            await pilot.press(key)
            await pilot.pause()
            assert app.result is expected


async def test_sudo_modal_masks_the_password():
    app = Host()
    async with app.run_test() as pilot:
        app.push_screen(SudoPasswordScreen("node1"), lambda answer: setattr(app, "result", answer))
        await pilot.pause()
        await pilot.press(*"s3cret")
        assert "s3cret" not in app.export_screenshot()
        await pilot.press("enter")
        await pilot.pause()
        assert app.result == "s3cret"


async def test_sudo_password_is_asked_once_in_a_modal_during_the_apply(fresh_lab, tmp_path):
    password = "pisudo" + secrets.token_hex(4)
    fresh_lab.fleet["master1.kube.local"].state.sudo_password = password
    app = HomelabApp(load_config(fresh_lab.write_config(tmp_path / "lab.toml")), clock=lambda: None)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_wizard(pilot, "b")
        wizard = app.screen
        await pilot.press("f2")
        await until(pilot, lambda: "Install k3s on master1" in plan_shown(app), timeout=20)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, SudoPasswordScreen), timeout=20)
        await pilot.pause()  # the password input takes focus once the modal is up
        await pilot.press(*password, "enter")
        await until(pilot, lambda: "master1.kube.local" in app.table("nodes").rows, timeout=30)
        await until(pilot, lambda: not wizard.applying, timeout=30)
        assert not isinstance(app.screen, SudoPasswordScreen)  # asked once for the whole plan
        assert password not in logged(wizard)
        await pilot.press("escape")
        assert not app.filters and password not in app.export_screenshot()  # it went nowhere else
    audit = (tmp_path / "state" / "homelab-tui" / "audit.jsonl").read_text()
    assert "Install k3s on master1" in audit and password not in audit
