"""Snapshots of the expose wizard on the `running` lab (its hand-made PCC rules removed): the form
opened on the nginx row, the plan (router lines and the DNS record), and the result."""

from __future__ import annotations

import pytest

from homelab_tui.config import Config
from homelab_tui.ui.app import HomelabApp
from tests.conftest import LabThread
from tests.ui.test_app_live import until
from tests.ui.test_wizards import apply_confirmed, finished

SIZE = (130, 44)


@pytest.fixture
def lab_config(tmp_path) -> Config:
    runner = LabThread(tmp_path)
    with runner as config:
        router = runner.lab.router
        for menu in ("/ip/firewall/nat", "/ip/firewall/mangle"):
            for rule in router.rules(menu):
                if "Load balancer" in rule.get("comment", ""):
                    router._remove(menu, [router._find(menu, rule[".id"])])
        yield config


def expose(plan: bool = False, apply: bool = False):
    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.press("3")
        await until(pilot, lambda: "default/nginx" in app.table("services").rows, timeout=10)
        while app.table("services").cursor_key() != "default/nginx":
            await pilot.press("j")
        await pilot.press("E")
        await until(pilot, lambda: app.screen.focused is not None)
        app.screen.query_one("#host").focus()
        await pilot.press(*"nginx.example.org")
        app.screen.query_one("#replace-dns-record").focus()
        await pilot.press("space")
        if plan or apply:
            await pilot.press("f2")
            await until(pilot, lambda: "step(s) will change" in str(app.screen.query_one("#error").render()),
                        timeout=20)
        if apply:
            await apply_confirmed(pilot)
            await until(pilot, lambda: finished(app.screen), timeout=30)
        pilot.app.screen.set_focus(None)  # a focused Input's cursor blinks: not in a snapshot
        await pilot.pause()

    return run_before


def test_expose_form_snapshot(snap_compare, lab_config):
    assert snap_compare(HomelabApp(lab_config, clock=lambda: None), terminal_size=SIZE, run_before=expose())


def test_expose_plan_snapshot(snap_compare, lab_config):
    assert snap_compare(HomelabApp(lab_config, clock=lambda: None), terminal_size=SIZE, run_before=expose(plan=True))


def test_expose_result_snapshot(snap_compare, lab_config):
    assert snap_compare(HomelabApp(lab_config, clock=lambda: None), terminal_size=SIZE, run_before=expose(apply=True))
