"""The DNS gateway from the command palette (it has no key): on the running lab without MetalLB,
F2 names the missing pool in the form's error line, against the answer's label."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import Static

from homelab_tui.config import load_config
from homelab_tui.sim.lab import Lab
from homelab_tui.ui.app import HomelabApp
from homelab_tui.ui.wizards import WizardScreen
from tests.ui.test_app_live import until


@pytest.fixture
async def running_lab(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


async def test_the_palette_opens_the_dns_gateway_and_its_plan_names_the_missing_pool(running_lab, tmp_path):
    app = HomelabApp(load_config(running_lab.write_config(tmp_path / "lab.toml")), clock=lambda: None)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"cluster dns")
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, WizardScreen))
        assert app.screen.wizard.name == "dns_gateway"
        await pilot.press("f2")
        await until(pilot, lambda: "MetalLB pool" in str(app.screen.query_one("#error", Static).render()), timeout=20)
        assert "no MetalLB pool: set one up first" in str(app.screen.query_one("#error", Static).render())
