"""The bootstrap and join wizards, driven by the keyboard alone, on the simulated lab's bare nodes;
and their modals, on a bare host app."""

from __future__ import annotations

import secrets
import stat

import pytest
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Label, Log, Select, Static, TabPane

from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.modals import AskScreen, ConfirmScreen, SudoPasswordScreen, TrustHostKeyScreen
from homelab_tui.ui.wizards import PlanProgress, WizardScreen
from tests.ui.test_app_live import until


@pytest.fixture
async def fresh_lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("fresh", tmp_path / "lab") as lab:
        yield lab


def lab_app(lab: Lab, tmp_path, **options) -> HomelabApp:
    """The app on the lab's config, with a still clock."""
    return HomelabApp(load_config(lab.write_config(tmp_path / "lab.toml")), clock=lambda: None, **options)


def logged(wizard: WizardScreen) -> str:
    return "\n".join(line for log in wizard.query(Log) for line in log.lines)


async def open_wizard(pilot, key: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, WizardScreen))


def plan_shown(app: HomelabApp) -> str:
    return str(app.screen.query_one("#plan", Static).render())


def outcomes(wizard: WizardScreen) -> dict[str, str]:
    """Each progress row's title → how it ended, as shown ("" while it runs)."""
    return {row.plan.title: str(row.query_one(".outcome", Label).render()) for row in wizard.query(PlanProgress)}


def finished(wizard: WizardScreen) -> bool:
    return bool(shown := outcomes(wizard)) and all(shown.values())


def node_status(app: HomelabApp) -> dict[str, str]:
    return {key.value: str(app.table("nodes").get_row(key)[1]) for key in app.table("nodes").rows}


async def bootstrap_plan_shown(pilot) -> WizardScreen:
    """The bootstrap wizard open on master1's plan (F2)."""
    await open_wizard(pilot, "B")
    await pilot.press("f2")
    await until(pilot, lambda: "Install k3s on master1" in plan_shown(pilot.app), timeout=20)
    return pilot.app.screen


async def apply_confirmed(pilot) -> None:
    """F3, then the confirmation's apply button (Cancel has the focus)."""
    await pilot.press("f3")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.click("#apply")


async def bootstrap_then_open_join(pilot) -> None:
    """Bootstrap master1 with the wizard, then open the join wizard."""
    app = pilot.app
    await open_wizard(pilot, "B")
    await pilot.press("f2")
    await until(pilot, lambda: "Install k3s on master1" in plan_shown(app), timeout=20)
    assert "sudo hostnamectl set-hostname master1.kube.local" in plan_shown(app)
    await apply_confirmed(pilot)
    await until(pilot, lambda: "master1.kube.local" in app.table("nodes").rows, timeout=30)
    await until(pilot, lambda: finished(app.screen), timeout=30)
    assert outcomes(app.screen) == {"Bootstrap k3s on master1": "✓ done"}
    await pilot.pause()
    log = app.screen.query_one(Log)  # it followed the output to the end
    assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y
    await pilot.press("escape", "J")
    await until(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.wizard.name == "join")


async def test_bootstrap_then_join_by_keyboard(fresh_lab, tmp_path):
    app = lab_app(fresh_lab, tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        await bootstrap_then_open_join(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: "Join node2" in plan_shown(app), timeout=20)
        assert "K3S_URL=https://192.168.40.102:6443 K3S_TOKEN=${K3S_TOKEN}" in plan_shown(app)
        await apply_confirmed(pilot)
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


async def test_the_bootstrap_form_takes_every_answer_by_keyboard(fresh_lab, tmp_path):
    app = lab_app(fresh_lab, tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_wizard(pilot, "B")
        wizard = app.screen
        while not isinstance(app.focused, Input) or app.focused.id != "tls-sans":
            await pilot.press("tab")
        await pilot.press(*"pi.example.org", "tab", *"latest", "tab", *"--node-taint=edge=true:NoSchedule",
                          "tab", "space", "tab", "space")  # both components disabled
        await pilot.press("f2")
        await until(pilot, lambda: "Install k3s on master1" in plan_shown(app), timeout=20)
        assert ('INSTALL_K3S_EXEC="server --cluster-cidr=10.42.0.0/16 --service-cidr=10.43.0.0/16 '
                '--tls-san=pi.example.org --disable=traefik --disable=servicelb --node-taint=edge=true:NoSchedule" '
                'INSTALL_K3S_CHANNEL=latest sh -') in plan_shown(app).replace("\n", " ")

        # kubeadm has no k3s release or components to disable: those rows go, and its rules apply
        k3s_only = ["#k3s-release-row", "#disable-row"]
        assert all(wizard.query_one(row).display for row in k3s_only)
        assert not wizard.query_one("#kubernetes-version-row").display
        wizard.query_one("#distribution", Select).focus()
        await pilot.press("enter", "down", "enter")
        await until(pilot, lambda: not any(wizard.query_one(row).display for row in k3s_only))
        assert wizard.query_one("#kubernetes-version-row").display
        await pilot.press("f2")
        await until(pilot, lambda: "pod CIDR:" in str(wizard.query_one("#error", Static).render()), timeout=20)
        assert "the flannel manifest routes 10.244.0.0/16" in str(wizard.query_one("#error", Static).render())


async def test_the_plan_exports_as_a_script_from_the_wizard(fresh_lab, tmp_path):
    config = load_config(fresh_lab.write_config(tmp_path / "lab.toml"))
    app = HomelabApp(config, clock=lambda: None, read_only=True)  # exporting is what read-only is for
    async with app.run_test(size=(140, 44)) as pilot:
        await bootstrap_plan_shown(pilot)
        for name, notice in (("plan.txt", "cannot export to .txt"), ("plan.sh", "saved to ")):
            await pilot.press("f4")
            await until(pilot, lambda: isinstance(app.screen, AskScreen))
            assert app.screen.query_one(Input).value == "homelab-bootstrap-plan.sh"
            prompt = app.screen.query_one(Label)  # the whole prompt, wrapped in the modal, not cut off
            assert prompt.size.height == 2
            app.screen.query_one(Input).value = ""
            await pilot.press(*str(tmp_path / name), "enter")
            await until(pilot, lambda: any(notice in n.message for n in app._notifications))
    script = (tmp_path / "plan.sh")
    assert stat.S_IMODE(script.stat().st_mode) == 0o600 and not (tmp_path / "plan.txt").exists()
    port = config.node("master1").ssh_port
    first_step = script.read_text().split("\n\n")[1].splitlines()
    assert first_step == ["# Set the hostname of master1 to master1.kube.local",
                          f"ssh ubuntu@127.0.0.1 -p {port} 'sudo sh -c '\"'\"'hostnamectl set-hostname "
                          "master1.kube.local'\"'\"''"]


async def test_a_failed_join_is_reported_and_retried_from_the_same_screen(fresh_lab, tmp_path):
    app = lab_app(fresh_lab, tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        await bootstrap_then_open_join(pilot)
        wizard = app.screen
        await pilot.press("f2")
        await until(pilot, lambda: "Join node2" in plan_shown(app), timeout=20)
        fresh_lab.fleet["node2.kube.local"].state.internet = False  # air-gapped: curl get.k3s.io fails
        await apply_confirmed(pilot)
        await until(pilot, lambda: finished(wizard), timeout=30)
        shown = outcomes(wizard)
        assert shown["Join node1"] == "✓ done"
        # `curl | sh` exits 0 when curl fails: the check after the install is the step that fails, and says why
        assert shown["Join node2"] == "✗ 6. Check that k3s-agent is running on node2: exit status 3: inactive"
        assert wizard.query_one(".-failed", PlanProgress).plan.title == "Join node2"
        await until(pilot, lambda: node_status(app).get("node1.kube.local") == "Ready", timeout=30)
        assert "node2.kube.local" not in node_status(app)

        fresh_lab.fleet["node2.kube.local"].state.internet = True
        await pilot.press("f2")  # the same screen, the same selection
        await until(pilot, lambda: wizard.staged is not None, timeout=20)
        plans = {plan.title: plan for plan in wizard.staged.plans}
        assert plans["Join node1"].is_noop and plans["Join node2"].changes
        assert not wizard.query(PlanProgress) and not wizard.query(TabPane)  # the last apply's rows went
        assert node_status(app)["node1.kube.local"] == "Ready"  # it stayed
        await apply_confirmed(pilot)
        await until(pilot, lambda: node_status(app) == dict.fromkeys(
            ("master1.kube.local", "node1.kube.local", "node2.kube.local"), "Ready"), timeout=30)
        await until(pilot, lambda: finished(wizard), timeout=30)
        assert outcomes(wizard) == {"Read the join secret from master1": "✓ done", "Join node2": "✓ done"}


@pytest.mark.parametrize("read_only", [False, True])
async def test_command_palette_opens_the_wizards_as_the_keys_do(fresh_lab, tmp_path, read_only):
    app = lab_app(fresh_lab, tmp_path, read_only=read_only)
    async with app.run_test(size=(140, 44)) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Bootstrap a cluster", "Join nodes", "Show all panes", "Show Nodes", "Show DNS"} <= titles
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"join")
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, WizardScreen))
        assert app.screen.wizard.name == "join" and app.screen.read_only is read_only
        # Under a wizard the panes' keys do nothing, and the palette does not offer them either.
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Quit" in titles and not titles & {"Bootstrap a cluster", "Join nodes", "Show Nodes"}


async def test_read_only_shows_the_plan_and_refuses_to_apply(fresh_lab, tmp_path):
    app = lab_app(fresh_lab, tmp_path, read_only=True)
    async with app.run_test(size=(140, 44)) as pilot:
        await bootstrap_plan_shown(pilot)
        await pilot.press("f3")
        await pilot.pause(0.5)
        assert not fresh_lab.kube.list("Node") and not app.screen.applying


async def test_every_bad_answer_is_named_by_its_label(fresh_lab, tmp_path):
    app = lab_app(fresh_lab, tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_wizard(pilot, "B")
        app.screen.query_one("#service-cidr", Input).value = "10.42.0.0/17"
        app.screen.query_one("#tls-sans", Input).value = "pi.example.org, bad name!"
        await pilot.press("f2")
        await until(pilot, lambda: "service CIDR" in str(app.screen.query_one("#error", Static).render()))
        errors = str(app.screen.query_one("#error", Static).render()).splitlines()
        assert errors == ["tls-san: expected a DNS name or an IP address, got 'bad name!'",
                          "service CIDR: 10.42.0.0/17 overlaps the pod CIDR 10.42.0.0/16"]


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
    app = lab_app(fresh_lab, tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        wizard = await bootstrap_plan_shown(pilot)
        await apply_confirmed(pilot)
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


async def test_a_join_with_nothing_left_to_join_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("running", tmp_path / "lab") as lab:  # every agent already joined
        app = lab_app(lab, tmp_path)
        async with app.run_test(size=(140, 44)) as pilot:
            await until(pilot, lambda: app.table("nodes").row_count == 3)
            await open_wizard(pilot, "J")
            said = str(app.screen.query_one("#nodes-row Label", Label).render())
            assert said.startswith("nothing to join: every agent node of the config is in the cluster")
            await pilot.press("f2")
            await until(pilot, lambda: "nothing to join" in str(app.screen.query_one("#error", Static).render()))


async def test_f3_asks_first_and_cancel_applies_nothing(fresh_lab, tmp_path):
    app = lab_app(fresh_lab, tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        wizard = await bootstrap_plan_shown(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        said = str(app.screen.query_one("#confirm-impact", Static).render())
        assert said.startswith(f"{wizard.staged.changes} changes on master1, the cluster; reboots master1"), said
        assert app.focused.id == "cancel"
        await pilot.press("enter")  # Enter on the focused Cancel
        await until(pilot, lambda: app.screen is wizard and not wizard.applying)
        await pilot.pause(0.5)
        assert not fresh_lab.kube.list("Node") and not wizard.query(PlanProgress)
        assert fresh_lab.fleet["master1.kube.local"].state.hostname != "master1.kube.local"  # not even the first step
